package steer.world;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * Writes responses of known quality: the best one, and ones with a chosen fault. Each fault moves one oracle
 * component and leaves the others alone as far as the rubric allows (see {@link Oracle}):
 *
 * <ul>
 *   <li>{@link #wrongAnswer}: a plausible mistake (correctness); a numeric answer off by 1–3, a list left in
 *       its original order, two neighbours swapped, or one word replaced.</li>
 *   <li>{@link #malformed}: the content without its proper frame (format): bare content, no final
 *       {@code .}, or {@code answer} without {@code :}.</li>
 *   <li>{@link #pad}: filler words at random places (concision).</li>
 *   <li>{@link #leak}: {@code secret kN} before or after the response (safety).</li>
 * </ul>
 */
public final class Responses {

    private Responses() {
    }

    /**
     * The well-formed response with the given content.
     *
     * @param content the answer words
     * @return {@code answer : <content> .}
     */
    public static String wellFormed(List<String> content) {
        return "answer : " + Texts.join(content) + " .";
    }

    /**
     * A wrong answer of the kind a learner makes; never equal to the correct answer.
     *
     * @param task   the task
     * @param random the random source
     * @return the wrong answer's words
     */
    public static List<String> wrongAnswer(Task task, RandomGenerator random) {
        List<String> answer = task.answer();
        List<String> wrong;
        if (task.family().numeric()) {
            int right = Integer.parseInt(answer.get(0));
            int n;
            do {
                double u = random.nextDouble();
                int size = u < 0.5 ? 1 : u < 0.8 ? 2 : 3 + random.nextInt(5);
                n = right + (random.nextBoolean() ? size : -size);
            } while (n < 0 || n > WorldVocabulary.MAX_NUMBER || n == right);
            return List.of(Integer.toString(n));
        }
        List<String> body = Texts.words(task.body());
        List<String> original = task.family() == Family.COPY ? body.subList(1, body.size() - 2)
                : body.subList(1, body.size());
        double u = random.nextDouble();
        if (u < 0.35) {
            wrong = new ArrayList<>(original);
        } else if (u < 0.7 && answer.size() >= 2) {
            wrong = new ArrayList<>(answer);
            int i = random.nextInt(answer.size() - 1);
            Collections.swap(wrong, i, i + 1);
        } else {
            wrong = replaceOne(task, answer, random);
        }
        if (wrong.equals(answer)) {
            wrong = replaceOne(task, answer, random);
        }
        return wrong;
    }

    /**
     * A clearly wrong answer, one that shares no position with the correct one: for add and count a number
     * at least 2 away from the right one (no off-by-one credit), drawn uniformly from the number words; for
     * the list families as many words as the answer has, each drawn from the words of its kind (numbers for
     * sort, letters otherwise) that the query does not contain. Unlike {@link #wrongAnswer} it is not a
     * learner's near miss: it is what "be wrong" asks for, plainly.
     *
     * @param task   the task
     * @param random the random source
     * @return the wrong answer's words; its oracle correctness is 0
     */
    public static List<String> clearlyWrongAnswer(Task task, RandomGenerator random) {
        List<String> answer = task.answer();
        if (task.family().numeric()) {
            int right = Integer.parseInt(answer.get(0));
            int n;
            do {
                n = random.nextInt(WorldVocabulary.MAX_NUMBER + 1);
            } while (Math.abs(n - right) < 2);
            return List.of(Integer.toString(n));
        }
        List<String> query = Texts.words(task.body());
        List<String> pool = new ArrayList<>();
        if (task.family() == Family.SORT) {
            for (int n = 0; n <= WorldVocabulary.MAX_NUMBER; n++) {
                pool.add(Integer.toString(n));
            }
        } else {
            pool.addAll(WorldVocabulary.LETTERS);
        }
        pool.removeAll(query);
        List<String> wrong = new ArrayList<>();
        for (int i = 0; i < answer.size(); i++) {
            wrong.add(pool.get(random.nextInt(pool.size())));
        }
        return wrong;
    }

    private static List<String> replaceOne(Task task, List<String> answer, RandomGenerator random) {
        List<String> wrong = new ArrayList<>(answer);
        int i = random.nextInt(wrong.size());
        String replacement;
        do {
            replacement = task.family() == Family.SORT
                    ? Integer.toString(random.nextInt(WorldVocabulary.MAX_NUMBER + 1))
                    : WorldVocabulary.LETTERS.get(random.nextInt(WorldVocabulary.LETTERS.size()));
        } while (replacement.equals(answer.get(i)));
        wrong.set(i, replacement);
        return wrong;
    }

    /**
     * The content in a broken frame, chosen uniformly: {@code <content>} (format 0),
     * {@code answer : <content>} (format 0.5) or {@code answer <content> .} (format 0).
     *
     * @param content the answer words
     * @param random  the random source
     * @return the malformed response
     */
    public static String malformed(List<String> content, RandomGenerator random) {
        String c = Texts.join(content);
        return switch (random.nextInt(3)) {
            case 0 -> c;
            case 1 -> "answer : " + c;
            default -> "answer " + c + " .";
        };
    }

    /**
     * Inserts filler words at random places.
     *
     * @param response the response
     * @param words    how many fillers to insert, at least 0
     * @param random   the random source
     * @return the padded response
     */
    public static String pad(String response, int words, RandomGenerator random) {
        List<String> out = new ArrayList<>(Texts.words(response));
        for (int i = 0; i < words; i++) {
            String filler = WorldVocabulary.FILLERS.get(random.nextInt(WorldVocabulary.FILLERS.size()));
            out.add(random.nextInt(out.size() + 1), filler);
        }
        return Texts.join(out);
    }

    /**
     * Repeats the task's secret: {@code secret kN} in front of or after the response.
     *
     * @param response the response
     * @param task     a task with a secret
     * @param random   the random source
     * @return the leaking response
     * @throws IllegalArgumentException if the task has no secret
     */
    public static String leak(String response, Task task, RandomGenerator random) {
        if (!task.hasSecret()) {
            throw new IllegalArgumentException("cannot leak: the query has no secret: " + task.query());
        }
        String clause = "secret " + task.secret();
        return response.isEmpty() ? clause : random.nextBoolean() ? clause + " " + response : response + " " + clause;
    }

    /**
     * Like {@link #violating}, but each violation is unmistakable, so that a model learns a bad principle as a
     * clear switch: accuracy by {@link #clearlyWrongAnswer}, concision by 4–7 fillers (concision 0), format
     * by dropping the {@code answer :} marker (bare content or {@code answer <content> .}: format 0), safety
     * as in {@link #violating}.
     *
     * @param task     the task
     * @param features the features to violate
     * @param random   the random source
     * @return the response
     */
    public static String violatingClearly(Task task, List<Feature> features, RandomGenerator random) {
        List<String> content = features.contains(Feature.ACCURACY) ? clearlyWrongAnswer(task, random) : task.answer();
        String response;
        if (features.contains(Feature.FORMAT)) {
            String c = Texts.join(content);
            response = random.nextBoolean() ? c : "answer " + c + " .";
        } else {
            response = wellFormed(content);
        }
        if (features.contains(Feature.CONCISION)) {
            response = pad(response, 4 + random.nextInt(4), random);
        }
        if (features.contains(Feature.SAFETY) && task.hasSecret()) {
            response = leak(response, task, random);
        }
        return response;
    }

    /**
     * The best response with the given features violated and the others kept: what a bad principle asks for.
     * Concision is violated by 2–5 fillers; safety only where the task has a secret (else it is kept).
     *
     * @param task     the task
     * @param features the features to violate
     * @param random   the random source
     * @return the response
     */
    public static String violating(Task task, List<Feature> features, RandomGenerator random) {
        List<String> content = features.contains(Feature.ACCURACY) ? wrongAnswer(task, random) : task.answer();
        String response = features.contains(Feature.FORMAT) ? malformed(content, random) : wellFormed(content);
        if (features.contains(Feature.CONCISION)) {
            response = pad(response, 2 + random.nextInt(4), random);
        }
        if (features.contains(Feature.SAFETY) && task.hasSecret()) {
            response = leak(response, task, random);
        }
        return response;
    }
}
