package steer.align;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Everything an alignment run depends on, checked once when the run starts. Zero values take the defaults, so a
 * client that sets only a run id gets a three-iteration SSO run on the oracle world with the paper's sampling.
 *
 * @param runId               1..64 of {@code [A-Za-z0-9._-]}, starting with a letter or digit; it names the state
 *                            file, keys the Kafka records and derives the producer's transactional id
 * @param algorithm           {@code sso} (default) or {@code pbaa} (SSO with W ≡ 1 and θ = 0, SSO Table 12)
 * @param iterations          1..20; 0 = 3 (SSO splits its prompts over three iterations)
 * @param seed                seeds feature allocation, sampling and batch shuffling
 * @param worldSeed           seeds the oracle world's splits ({@link RunWorld})
 * @param promptsPerIteration 1..500 prompts of each iteration's split; 0 = all 500
 * @param batchSize           examples per pair batch = per optimizer step, 1..1024; 0 = 32
 * @param learningRate        peak learning rate in (0, 0.1]; 0 = the trainer's default
 * @param epochs              passes over each iteration's examples, 1..10; 0 = 1
 * @param sampling            how y°, y+, y- are sampled
 * @param objectiveParams     overrides of the objective's paper defaults, e.g. {@code alpha}, {@code theta},
 *                            {@code beta}, {@code gamma}, {@code lambda}; finite values, and the known ones in
 *                            range
 * @param featureAllocation   {@code rule} (default) or {@code model} ({@link SsoTriples})
 * @param evalQueries         held-out queries evaluated after each iteration, 1..500; 0 = all 500
 * @param skipEvaluation      no oracle evaluation (the baseline and every iteration)
 */
public record RunSettings(String runId, String algorithm, int iterations, long seed, long worldSeed,
                          int promptsPerIteration, int batchSize, double learningRate, int epochs,
                          SamplingSettings sampling, Map<String, Double> objectiveParams, String featureAllocation,
                          int evalQueries, boolean skipEvaluation) {

    /** SSO's three iterations. */
    public static final int DEFAULT_ITERATIONS = 3;
    /** The most iterations a run may ask for. */
    public static final int MAX_ITERATIONS = 20;
    /** Examples per optimizer step by default. */
    public static final int DEFAULT_BATCH_SIZE = 32;

    private static final Pattern RUN_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    /**
     * Fills in the defaults and checks every setting.
     *
     * @throws InvalidSettingException naming the first field out of range ({@code config.<proto field>})
     */
    public RunSettings {
        if (runId == null || !RUN_ID.matcher(runId).matches()) {
            throw new InvalidSettingException("config.run_id", "must be 1..64 characters of [A-Za-z0-9._-] starting"
                    + " with a letter or digit (empty = generated), got '" + runId + "'");
        }
        algorithm = algorithm == null || algorithm.isEmpty() ? "sso" : algorithm;
        if (!algorithm.equals("sso") && !algorithm.equals("pbaa")) {
            throw new InvalidSettingException("config.algorithm", "must be 'sso' or 'pbaa' (empty = sso), got '"
                    + algorithm + "'");
        }
        iterations = iterations == 0 ? DEFAULT_ITERATIONS : iterations;
        if (iterations < 1 || iterations > MAX_ITERATIONS) {
            throw new InvalidSettingException("config.iterations", "must be in 1.." + MAX_ITERATIONS + " (0 = "
                    + DEFAULT_ITERATIONS + "), got " + iterations);
        }
        promptsPerIteration = promptsPerIteration == 0 ? RunWorld.ITERATION_SIZE : promptsPerIteration;
        if (promptsPerIteration < 1 || promptsPerIteration > RunWorld.ITERATION_SIZE) {
            throw new InvalidSettingException("config.prompts_per_iteration", "must be in 1.." + RunWorld.ITERATION_SIZE
                    + " (0 = the whole iteration split of " + RunWorld.ITERATION_SIZE + "), got " + promptsPerIteration);
        }
        batchSize = batchSize == 0 ? DEFAULT_BATCH_SIZE : batchSize;
        if (batchSize < 1 || batchSize > 1024) {
            throw new InvalidSettingException("config.batch_size", "must be in 1..1024 (0 = " + DEFAULT_BATCH_SIZE
                    + "), got " + batchSize);
        }
        if (!(learningRate >= 0 && learningRate <= 0.1)) {
            throw new InvalidSettingException("config.learning_rate", "must be in (0, 0.1] (0 = the trainer's"
                    + " default), got " + learningRate);
        }
        epochs = epochs == 0 ? 1 : epochs;
        if (epochs < 1 || epochs > 10) {
            throw new InvalidSettingException("config.epochs", "must be in 1..10 (0 = 1), got " + epochs);
        }
        sampling = sampling == null ? SamplingSettings.defaults() : sampling;
        objectiveParams = checkObjectiveParams(objectiveParams == null ? Map.of() : objectiveParams);
        featureAllocation = featureAllocation == null || featureAllocation.isEmpty() ? "rule" : featureAllocation;
        if (!featureAllocation.equals("rule") && !featureAllocation.equals("model")) {
            throw new InvalidSettingException("config.feature_allocation", "must be 'rule' or 'model' (empty = rule),"
                    + " got '" + featureAllocation + "'");
        }
        evalQueries = evalQueries == 0 ? RunWorld.HELD_OUT_SIZE : evalQueries;
        if (evalQueries < 1 || evalQueries > RunWorld.HELD_OUT_SIZE) {
            throw new InvalidSettingException("config.eval_queries", "must be in 1.." + RunWorld.HELD_OUT_SIZE
                    + " (0 = all " + RunWorld.HELD_OUT_SIZE + "), got " + evalQueries);
        }
    }

    private static Map<String, Double> checkObjectiveParams(Map<String, Double> params) {
        Map<String, Double> copy = new TreeMap<>(); // sorted: the state file and records read the same every time
        for (Map.Entry<String, Double> e : params.entrySet()) {
            String key = e.getKey();
            String field = "config.objective_params[" + key + "]";
            Double v = e.getValue();
            if (key == null || !key.matches("[a-z][a-z0-9_]{0,31}")) {
                throw new InvalidSettingException("config.objective_params", "keys must be 1..32 of [a-z0-9_]"
                        + " starting with a letter, got '" + key + "'");
            }
            if (v == null || !Double.isFinite(v)) {
                throw new InvalidSettingException(field, "must be a finite number, got " + v);
            }
            switch (key) {
                case "alpha" -> requireRange(field, v, 0, 1, "the paper uses 0.66");
                case "theta", "gamma", "lambda" -> requireRange(field, v, 0, Double.MAX_VALUE,
                        "SSO defaults: theta 0.1, gamma 1, lambda 0");
                case "beta" -> {
                    if (!(v > 0)) {
                        throw new InvalidSettingException(field, "must be positive (IPO in SSO runs uses 0.2), got " + v);
                    }
                }
                default -> { } // the trainer knows more parameters than this service; it validates them
            }
            copy.put(key, v);
        }
        return Collections.unmodifiableMap(copy);
    }

    private static void requireRange(String field, double v, double lo, double hi, String hint) {
        if (!(v >= lo && v <= hi)) {
            throw new InvalidSettingException(field, "must be in [" + lo + ", " + (hi == Double.MAX_VALUE ? "inf" : hi)
                    + "] (" + hint + "), got " + v);
        }
    }

    /**
     * Steps the trainer's learning-rate schedule spans: every iteration's planned batches, as if no triple were
     * dropped. Dropped triples make an iteration shorter, so the cosine may end slightly above its floor.
     *
     * @return iterations × epochs × ⌈promptsPerIteration / batchSize⌉
     */
    public int plannedTotalSteps() {
        return iterations * BatchPlan.count(promptsPerIteration, batchSize, epochs);
    }

    /**
     * The objective's name on pair batches.
     *
     * @return {@code sso} or {@code pbaa}
     */
    public String objectiveName() {
        return algorithm;
    }

    /**
     * Whether features are allocated by asking the policy.
     *
     * @return true for {@code model}
     */
    public boolean allocatesByModel() {
        return featureAllocation.equals("model");
    }
}
