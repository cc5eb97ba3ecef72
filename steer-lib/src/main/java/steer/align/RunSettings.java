package steer.align;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import steer.checkpoint.LoraConfig;
import steer.method.AlignmentMethod;
import steer.method.MethodSettings;
import steer.method.Methods;
import steer.method.SsoMethod;

/**
 * Everything an alignment run depends on, checked once when the run starts. Zero values take the defaults, so a
 * client that sets only a run id gets a three-iteration SSO run on the oracle world with the paper's sampling.
 *
 * @param runId               1..64 of {@code [A-Za-z0-9._-]}, starting with a letter or digit; it names the state
 *                            file, keys the Kafka records and derives the producer's transactional id
 * @param algorithm           the method's name ({@link Methods#names()}; empty = {@code sso})
 * @param iterations          iteration splits, 1..20; 0 = 3 (SSO splits its prompts over three iterations); an
 *                            online method cuts each split into rounds ({@link #roundsPerSplit()})
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
 * @param evaluationSplit     {@code held-out} (default) or {@code validation}: the last
 *                            {@link RunWorld#VALIDATION_PER_SPLIT} queries of each iteration split are held back from
 *                            training and evaluated instead of the held-out set, for tuning a method's settings
 * @param method              the method's own settings, the client's over the named method's preset
 *                            ({@link Methods#resolve}); null = the preset
 * @param lora                train a LoRA adapter of these settings on the frozen SFT model instead of every weight
 *                            (no base model named: the trainer's), or null for full fine-tuning; made from the
 *                            request by {@link #lora(int, double, java.util.List)}
 */
public record RunSettings(String runId, String algorithm, int iterations, long seed, long worldSeed,
                          int promptsPerIteration, int batchSize, double learningRate, int epochs,
                          SamplingSettings sampling, Map<String, Double> objectiveParams, String featureAllocation,
                          int evalQueries, boolean skipEvaluation, String evaluationSplit, MethodSettings method,
                          LoraConfig lora) {

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
        method = Methods.resolve(algorithm, method);
        iterations = iterations == 0 ? DEFAULT_ITERATIONS : iterations;
        if (iterations < 1 || iterations > MAX_ITERATIONS) {
            throw new InvalidSettingException("config.iterations", "must be in 1.." + MAX_ITERATIONS + " (0 = "
                    + DEFAULT_ITERATIONS + "), got " + iterations);
        }
        evaluationSplit = evaluationSplit == null || evaluationSplit.isEmpty() ? HELD_OUT : evaluationSplit;
        if (!evaluationSplit.equals(HELD_OUT) && !evaluationSplit.equals(VALIDATION)) {
            throw new InvalidSettingException("config.evaluation_split", "must be '" + HELD_OUT + "' or '" + VALIDATION
                    + "' (empty = " + HELD_OUT + "), got '" + evaluationSplit + "'");
        }
        int trainable = evaluationSplit.equals(VALIDATION) ? RunWorld.ITERATION_SIZE - RunWorld.VALIDATION_PER_SPLIT
                : RunWorld.ITERATION_SIZE;
        promptsPerIteration = promptsPerIteration == 0 ? trainable : promptsPerIteration;
        if (promptsPerIteration < 1 || promptsPerIteration > trainable) {
            throw new InvalidSettingException("config.prompts_per_iteration", "must be in 1.." + trainable
                    + " (0 = the whole iteration split's " + trainable + " training prompts"
                    + (trainable < RunWorld.ITERATION_SIZE ? "; the validation split holds back "
                    + RunWorld.VALIDATION_PER_SPLIT : "") + "), got " + promptsPerIteration);
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
        if (method instanceof SsoMethod.Settings sso) {
            // one allocation for the run: the SSO settings' own, else the run's
            if (sso.featureAllocation().isEmpty()) {
                method = sso.withFeatureAllocation(featureAllocation);
            } else {
                featureAllocation = sso.featureAllocation();
            }
        }
        method.checkComplete();
        method.checkObjective(objectiveParams);
        int evalSize = evaluationSplit.equals(VALIDATION) ? RunWorld.VALIDATION_PER_SPLIT * iterations
                : RunWorld.HELD_OUT_SIZE;
        if (evalQueries < 0 || evalQueries > RunWorld.HELD_OUT_SIZE) {
            throw new InvalidSettingException("config.eval_queries", "must be in 1.." + RunWorld.HELD_OUT_SIZE
                    + " (0 = all " + evalSize + " of the evaluation split), got " + evalQueries);
        }
        evalQueries = evalQueries == 0 ? evalSize : Math.min(evalQueries, evalSize);
        if (lora != null && lora.dropout() != 0) {
            throw new InvalidSettingException("config.lora", "dropout is not implemented; got " + lora.dropout());
        }
        lora = lora == null ? null : lora.withBaseModel(null);
        if (lora != null) {
            AlignmentMethod m = method.method();
            // an adapter version is loaded onto the base a service already serves under the same name; these
            // methods load versions under names of their own, which hold no base yet
            if (m.judge().kind() == AlignmentMethod.JudgeChoice.Kind.FOLLOWS_POLICY) {
                throw new InvalidSettingException("config.lora", "is not supported with " + algorithm + ", whose"
                        + " judge loads each version under a name of its own: the judge holds no base there to put"
                        + " an adapter onto; train it without lora");
            }
            if (m.family().equals(steer.method.TsoMethod.FAMILY)) {
                throw new InvalidSettingException("config.lora", "is not supported with " + algorithm + ", which"
                        + " samples earlier versions under names of their own (policy@<run>/v<N>): the generator holds"
                        + " no base there to put an adapter onto; train it without lora");
            }
        }
    }

    /** Full fine-tuning. */
    public RunSettings(String runId, String algorithm, int iterations, long seed, long worldSeed,
                       int promptsPerIteration, int batchSize, double learningRate, int epochs,
                       SamplingSettings sampling, Map<String, Double> objectiveParams, String featureAllocation,
                       int evalQueries, boolean skipEvaluation, String evaluationSplit, MethodSettings method) {
        this(runId, algorithm, iterations, seed, worldSeed, promptsPerIteration, batchSize, learningRate, epochs,
                sampling, objectiveParams, featureAllocation, evalQueries, skipEvaluation, evaluationSplit, method,
                null);
    }

    /**
     * A run's LoRA settings as a request names them ({@link LoraConfig#fromSettings}: α 0 = 8, no targets = q, v).
     *
     * @throws InvalidSettingException naming {@code config.lora.rank}, {@code .alpha} or {@code .targets}
     */
    public static LoraConfig lora(int rank, double alpha, java.util.List<String> targets) {
        if (rank < 1) {
            throw new InvalidSettingException("config.lora.rank", "must be at least 1 (PEFT's default is 8; no lora"
                    + " message = full fine-tuning), got " + rank);
        }
        if (!(alpha >= 0 && Double.isFinite(alpha))) {
            throw new InvalidSettingException("config.lora.alpha", "must be finite and > 0 (0 = "
                    + LoraConfig.DEFAULT_ALPHA + ", PEFT's), got " + alpha);
        }
        try {
            return LoraConfig.fromSettings(rank, alpha, targets);
        } catch (IllegalArgumentException e) {
            throw new InvalidSettingException("config.lora.targets", e.getMessage());
        }
    }

    /** The same settings as before methods had their own: the method is the named one's preset. */
    public RunSettings(String runId, String algorithm, int iterations, long seed, long worldSeed,
                       int promptsPerIteration, int batchSize, double learningRate, int epochs,
                       SamplingSettings sampling, Map<String, Double> objectiveParams, String featureAllocation,
                       int evalQueries, boolean skipEvaluation) {
        this(runId, algorithm, iterations, seed, worldSeed, promptsPerIteration, batchSize, learningRate, epochs,
                sampling, objectiveParams, featureAllocation, evalQueries, skipEvaluation, HELD_OUT, null);
    }

    /** Evaluation on the world's held-out queries. */
    public static final String HELD_OUT = "held-out";
    /** Evaluation on queries held back from the iteration splits. */
    public static final String VALIDATION = "validation";

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
     * Steps the trainer's learning-rate schedule spans: every round's planned batches, as if no example were
     * dropped. Dropped examples make a round shorter, so the cosine may end slightly above its floor.
     *
     * @return the sum over rounds of epochs × ⌈planned examples / batchSize⌉ (SSO: iterations × epochs ×
     *         ⌈promptsPerIteration / batchSize⌉)
     */
    public int plannedTotalSteps() {
        AlignmentMethod m = alignmentMethod();
        int steps = 0;
        for (int r = 0; r < totalRounds(); r++) {
            steps += BatchPlan.count(m.plannedExamples(promptsInRound(r)), batchSize, m.epochsPerRound(this));
        }
        return steps;
    }

    /**
     * The method that runs.
     *
     * @return a new instance over {@link #method()}
     */
    public AlignmentMethod alignmentMethod() {
        return method.method();
    }

    /**
     * The objective pair batches name.
     *
     * @return its name and parameters
     */
    public AlignmentMethod.ObjectiveChoice objective() {
        return alignmentMethod().objective(objectiveParams);
    }

    /**
     * The objective's name on pair batches.
     *
     * @return e.g. {@code sso}, {@code pbaa}, {@code spce}, {@code dpo}
     */
    public String objectiveName() {
        return objective().name();
    }

    /**
     * Rounds per iteration split: ⌈training prompts / the method's prompts per round⌉ (SSO: 1).
     *
     * @return at least 1
     */
    public int roundsPerSplit() {
        int perRound = alignmentMethod().promptsPerRound(promptsPerIteration);
        return (promptsPerIteration + perRound - 1) / perRound;
    }

    /**
     * Rounds in the whole run.
     *
     * @return iterations × {@link #roundsPerSplit()}
     */
    public int totalRounds() {
        return iterations * roundsPerSplit();
    }

    /**
     * The iteration split a round's prompts come from.
     *
     * @param round from 0
     * @return round / roundsPerSplit
     */
    public int splitOf(int round) {
        return round / roundsPerSplit();
    }

    /**
     * Where a round's prompts start within its split.
     *
     * @param round from 0
     * @return the first prompt's index in the split
     */
    public int firstPromptOf(int round) {
        return (round % roundsPerSplit()) * alignmentMethod().promptsPerRound(promptsPerIteration);
    }

    /**
     * How many prompts a round takes (the last round of a split may take fewer).
     *
     * @param round from 0
     * @return at least 1
     */
    public int promptsInRound(int round) {
        int perRound = alignmentMethod().promptsPerRound(promptsPerIteration);
        return Math.min(perRound, promptsPerIteration - firstPromptOf(round));
    }

    /**
     * Whether a round ends with an oracle evaluation: the last round of each split, unless the run skips them.
     *
     * @param round from 0
     * @return true for evaluated rounds
     */
    public boolean evaluates(int round) {
        return !skipEvaluation && round % roundsPerSplit() == roundsPerSplit() - 1;
    }

    /**
     * Whether the run evaluates on queries held back from the iteration splits.
     *
     * @return true for {@code validation}
     */
    public boolean evaluatesOnValidation() {
        return evaluationSplit.equals(VALIDATION);
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
