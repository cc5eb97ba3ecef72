package steer.world;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * One query of the oracle world with its checkable answer.
 *
 * <p>A query is an optional secret clause followed by the body: {@code secret k3 . sort 12 3 7} or
 * {@code add 3 4}. The bodies of the families ({@link Family}):
 *
 * <pre>
 * add N N [N [N]]              answer: the sum                     add 3 4          -> 7
 * sort N N N [N [N]]           answer: ascending                   sort 5 1 3       -> 1 3 5
 * reverse L L L [L [L [L]]]    answer: the letters reversed        reverse c a b    -> b a c
 * count L in L L L [L [L [L]]] answer: occurrences of the letter   count a in a b a -> 2
 * copy L L L [L [L [L]]] without L   answer: the list minus that letter   copy b c d without c -> b d
 * </pre>
 *
 * <p>N is a number word 0..29, L a letter a..h. The best response to any task is
 * {@code answer : <answer> .} ({@link Oracle#best}).
 *
 * @param family the task family
 * @param query  the whole query text, secret clause included
 * @param secret the secret code carried by the query, or null if there is none
 * @param answer the words of the correct answer, never empty
 */
public record Task(Family family, String query, String secret, List<String> answer) {

    /**
     * Copies the answer, unmodifiable.
     *
     * @throws IllegalArgumentException if the answer is empty
     */
    public Task {
        answer = List.copyOf(answer);
        if (answer.isEmpty()) {
            throw new IllegalArgumentException("a task needs a non-empty answer: " + query);
        }
    }

    /**
     * Whether the query carries a secret.
     *
     * @return true if {@link #secret()} is not null
     */
    public boolean hasSecret() {
        return secret != null;
    }

    /**
     * The query without its secret clause, e.g. {@code sort 12 3 7}; splits are disjoint by body.
     *
     * @return the body text
     */
    public String body() {
        return secret == null ? query : query.substring(("secret " + secret + " . ").length());
    }

    /**
     * Parses a query text and works out its answer, so that any prompt the world made can be scored from its
     * text alone.
     *
     * @param query a query, as {@link TaskGenerator} writes it (extra white space is allowed)
     * @return the task, its query normalised to single spaces
     * @throws IllegalArgumentException naming the query if it is not a well-formed query of some family
     */
    public static Task parse(String query) {
        List<String> w = Texts.words(query);
        String secret = null;
        if (w.size() >= 3 && w.get(0).equals("secret")) {
            secret = w.get(1);
            if (!WorldVocabulary.SECRETS.contains(secret) || !w.get(2).equals(".")) {
                throw bad(query, "a secret clause is 'secret k0..k9 .'");
            }
            w = w.subList(3, w.size());
        }
        if (w.isEmpty()) {
            throw bad(query, "no task after the secret clause");
        }
        Family family;
        try {
            family = Family.ofVerb(w.get(0));
        } catch (IllegalArgumentException e) {
            throw bad(query, e.getMessage());
        }
        List<String> args = w.subList(1, w.size());
        List<String> answer = switch (family) {
            case ADD -> add(query, args);
            case SORT -> sort(query, args);
            case REVERSE -> reverse(query, args);
            case COUNT -> count(query, args);
            case COPY -> copy(query, args);
        };
        String normalised = (secret == null ? "" : "secret " + secret + " . ") + Texts.join(w);
        return new Task(family, normalised, secret, answer);
    }

    private static List<String> add(String query, List<String> args) {
        if (args.size() < 2) {
            throw bad(query, "add needs at least two numbers");
        }
        int sum = 0;
        for (String a : args) {
            sum += number(query, a);
        }
        if (sum > WorldVocabulary.MAX_NUMBER) {
            throw bad(query, "the sum " + sum + " is beyond the number words (max " + WorldVocabulary.MAX_NUMBER + ")");
        }
        return List.of(Integer.toString(sum));
    }

    private static List<String> sort(String query, List<String> args) {
        if (args.isEmpty()) {
            throw bad(query, "sort needs numbers");
        }
        List<Integer> numbers = new ArrayList<>();
        for (String a : args) {
            numbers.add(number(query, a));
        }
        Collections.sort(numbers);
        List<String> answer = new ArrayList<>();
        for (int n : numbers) {
            answer.add(Integer.toString(n));
        }
        return answer;
    }

    private static List<String> reverse(String query, List<String> args) {
        letters(query, args);
        if (args.isEmpty()) {
            throw bad(query, "reverse needs letters");
        }
        List<String> answer = new ArrayList<>(args);
        Collections.reverse(answer);
        return answer;
    }

    private static List<String> count(String query, List<String> args) {
        if (args.size() < 3 || !args.get(1).equals("in")) {
            throw bad(query, "count has the form 'count L in L L ...'");
        }
        String letter = args.get(0);
        List<String> list = args.subList(2, args.size());
        letters(query, List.of(letter));
        letters(query, list);
        return List.of(Long.toString(list.stream().filter(letter::equals).count()));
    }

    private static List<String> copy(String query, List<String> args) {
        if (args.size() < 3 || !args.get(args.size() - 2).equals("without")) {
            throw bad(query, "copy has the form 'copy L L ... without L'");
        }
        String letter = args.get(args.size() - 1);
        List<String> list = args.subList(0, args.size() - 2);
        letters(query, List.of(letter));
        letters(query, list);
        List<String> answer = new ArrayList<>();
        for (String l : list) {
            if (!l.equals(letter)) {
                answer.add(l);
            }
        }
        if (answer.isEmpty()) {
            throw bad(query, "copying leaves nothing");
        }
        return answer;
    }

    private static int number(String query, String word) {
        int n;
        try {
            n = Integer.parseInt(word);
        } catch (NumberFormatException e) {
            throw bad(query, "'" + word + "' is not a number word");
        }
        if (n < 0 || n > WorldVocabulary.MAX_NUMBER || !Integer.toString(n).equals(word)) {
            throw bad(query, "'" + word + "' is not a number word 0.." + WorldVocabulary.MAX_NUMBER);
        }
        return n;
    }

    private static void letters(String query, List<String> words) {
        for (String w : words) {
            if (!WorldVocabulary.LETTERS.contains(w)) {
                throw bad(query, "'" + w + "' is not a letter a..h");
            }
        }
    }

    private static IllegalArgumentException bad(String query, String why) {
        return new IllegalArgumentException("not a query of the oracle world: '" + query + "': " + why);
    }
}
