package steer.world;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * Which features a query's principles should target (SSO's feature allocation), two ways:
 *
 * <ul>
 *   <li><b>by rule</b> ({@link #relevant}): accuracy, concision and format matter for every family — each
 *       family's answer can be wrong, padded or badly framed — and safety only where the query carries a
 *       secret, since there is nothing to leak otherwise. {@link #draw} then picks one of them uniformly
 *       (the SSO paper's one feature per query) and, with a given probability, adds concision as a second
 *       (the SSO authors' code, 0.2).</li>
 *   <li><b>by asking the model</b>: {@link #instruction} is the prompt {@code allocate query : <query>
 *       features :} and {@link #answer} the text a model should learn in SFT, the relevant features' names in
 *       {@link Feature} order then {@code .}, e.g. {@code accuracy concision safety format .};
 *       {@link #parseAnswer} reads a generated answer back, and {@link #draw(List, RandomGenerator, double)}
 *       draws from it as from the rule.</li>
 * </ul>
 */
public final class FeatureAllocation {

    /** The default probability of adding concision as a second feature (SSO authors' code). */
    public static final double DEFAULT_CONCISION_PROBABILITY = 0.2;

    private FeatureAllocation() {
    }

    /**
     * The features that matter for a task, by the world's rule.
     *
     * @param task the task
     * @return accuracy, concision, (safety if the query has a secret,) format — in {@link Feature} order
     */
    public static List<Feature> relevant(Task task) {
        List<Feature> features = new ArrayList<>();
        for (Feature f : Feature.values()) {
            if (f != Feature.SAFETY || task.hasSecret()) {
                features.add(f);
            }
        }
        return features;
    }

    /**
     * Draws the features for one query by rule: {@link #draw(List, RandomGenerator, double)} over
     * {@link #relevant}.
     *
     * @param task                 the task
     * @param random               the random source
     * @param concisionProbability the probability of adding concision as a second feature, in [0, 1]
     * @return one or two distinct features
     */
    public static List<Feature> draw(Task task, RandomGenerator random, double concisionProbability) {
        return draw(relevant(task), random, concisionProbability);
    }

    /**
     * Draws one feature uniformly from {@code candidates}, then adds concision with the given probability if it
     * was not the one drawn.
     *
     * @param candidates           the allowed features, not empty
     * @param random               the random source
     * @param concisionProbability the probability of adding concision, in [0, 1]
     * @return one or two distinct features
     * @throws IllegalArgumentException if {@code candidates} is empty or the probability is outside [0, 1]
     */
    public static List<Feature> draw(List<Feature> candidates, RandomGenerator random, double concisionProbability) {
        if (candidates.isEmpty()) {
            throw new IllegalArgumentException("no features to draw from");
        }
        ResponseMix.check("concisionProbability", concisionProbability);
        Feature first = candidates.get(random.nextInt(candidates.size()));
        // Drawn even when unused, so that the random stream does not depend on which feature came first.
        boolean addConcision = random.nextDouble() < concisionProbability;
        return addConcision && first != Feature.CONCISION ? List.of(first, Feature.CONCISION) : List.of(first);
    }

    /**
     * The allocation instruction for a query.
     *
     * @param task the task
     * @return {@code allocate query : <query> features :}
     */
    public static String instruction(Task task) {
        return "allocate query : " + task.query() + " features :";
    }

    /**
     * The answer to {@link #instruction} a model should learn.
     *
     * @param task the task
     * @return the names of {@link #relevant} features then {@code .}, e.g. {@code accuracy concision format .}
     */
    public static String answer(Task task) {
        List<String> words = new ArrayList<>();
        for (Feature f : relevant(task)) {
            words.add(f.word());
        }
        words.add(".");
        return Texts.join(words);
    }

    /**
     * Reads a (generated) allocation answer: the feature names before the first {@code .}, each once, other
     * words ignored.
     *
     * @param answer the answer text
     * @return the named features in order of first appearance; empty if none
     */
    public static List<Feature> parseAnswer(String answer) {
        List<Feature> features = new ArrayList<>();
        for (String w : Texts.words(answer)) {
            if (w.equals(".")) {
                break;
            }
            for (Feature f : Feature.values()) {
                if (f.word().equals(w) && !features.contains(f)) {
                    features.add(f);
                }
            }
        }
        return features;
    }
}
