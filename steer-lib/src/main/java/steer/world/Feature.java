package steer.world;

import java.util.ArrayList;
import java.util.List;

/**
 * A quality feature that a principle asks for, one per component of the {@link Oracle}'s score. Each has a
 * name word, a good and a bad adjective, and from them a good and a bad principle in the world's language:
 *
 * <pre>
 * feature    good principle             bad principle
 * accuracy   principle : be correct .   principle : be wrong .
 * concision  principle : be brief .     principle : be wordy .
 * safety     principle : be safe .      principle : be leaky .
 * format     principle : be neat .      principle : be messy .
 * </pre>
 *
 * <p>A principle is a system-prompt-like prefix: SSO's x+ is the good principle followed by the query and x-
 * the bad one followed by the same query ({@link #positivePrompt}, {@link #negativePrompt}). Several
 * features combine into one principle by joining their adjectives with {@code and}
 * ({@code principle : be correct and brief .}), as the SSO authors' code combines a drawn feature with
 * concision.
 */
public enum Feature {
    /** The answer is right (oracle correctness). */
    ACCURACY("accuracy", "correct", "wrong"),
    /** No padding: no more words than the best answer (oracle concision). */
    CONCISION("concision", "brief", "wordy"),
    /** The query's secret is not repeated (oracle safety); only allocated to queries with a secret. */
    SAFETY("safety", "safe", "leaky"),
    /** The response has the form {@code answer : ... .} (oracle format). */
    FORMAT("format", "neat", "messy");

    private final String word;
    private final String goodAdjective;
    private final String badAdjective;

    Feature(String word, String goodAdjective, String badAdjective) {
        this.word = word;
        this.goodAdjective = goodAdjective;
        this.badAdjective = badAdjective;
    }

    /**
     * The feature's name in the world's language, used in allocation answers.
     *
     * @return e.g. {@code "accuracy"}
     */
    public String word() {
        return word;
    }

    /**
     * The adjective of the good principle.
     *
     * @return e.g. {@code "correct"}
     */
    public String goodAdjective() {
        return goodAdjective;
    }

    /**
     * The adjective of the bad principle.
     *
     * @return e.g. {@code "wrong"}
     */
    public String badAdjective() {
        return badAdjective;
    }

    /**
     * This feature's good principle.
     *
     * @return e.g. {@code "principle : be correct ."}
     */
    public String goodPrinciple() {
        return principle(List.of(this), true);
    }

    /**
     * This feature's bad principle.
     *
     * @return e.g. {@code "principle : be wrong ."}
     */
    public String badPrinciple() {
        return principle(List.of(this), false);
    }

    /**
     * The principle for one or more features.
     *
     * @param features the features, in the order their adjectives appear; not empty, no repeats
     * @param good     the good principle if true, the bad one if false
     * @return e.g. {@code "principle : be correct and brief ."}
     * @throws IllegalArgumentException if {@code features} is empty or repeats a feature
     */
    public static String principle(List<Feature> features, boolean good) {
        if (features.isEmpty() || features.stream().distinct().count() != features.size()) {
            throw new IllegalArgumentException("a principle needs distinct features, got " + features);
        }
        List<String> words = new ArrayList<>(List.of("principle", ":", "be"));
        for (int i = 0; i < features.size(); i++) {
            if (i > 0) {
                words.add("and");
            }
            words.add(good ? features.get(i).goodAdjective : features.get(i).badAdjective);
        }
        words.add(".");
        return Texts.join(words);
    }

    /**
     * SSO's x+: the good principle for {@code features}, then the query.
     *
     * @param task     the task
     * @param features the allocated features
     * @return e.g. {@code "principle : be correct . add 3 4"}
     */
    public static String positivePrompt(Task task, List<Feature> features) {
        return principle(features, true) + " " + task.query();
    }

    /**
     * SSO's x-: the bad principle for {@code features}, then the query.
     *
     * @param task     the task
     * @param features the allocated features
     * @return e.g. {@code "principle : be wrong . add 3 4"}
     */
    public static String negativePrompt(Task task, List<Feature> features) {
        return principle(features, false) + " " + task.query();
    }

    /**
     * The feature whose name word is {@code word}.
     *
     * @param word a word
     * @return the feature
     * @throws IllegalArgumentException if no feature has this name
     */
    public static Feature ofWord(String word) {
        for (Feature f : values()) {
            if (f.word.equals(word)) {
                return f;
            }
        }
        throw new IllegalArgumentException("no feature is named '" + word + "'");
    }
}
