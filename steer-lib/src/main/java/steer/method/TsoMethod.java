package steer.method;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.regex.Pattern;
import steer.align.InvalidSettingException;
import steer.align.JudgedPair;
import steer.align.RoundExample;
import steer.align.RunSettings;
import steer.align.Seeds;
import steer.world.ResponseMix;
import steer.world.Task;

/**
 * TSO, Self-Training with Scaled Preference Optimization (Xu et al. 2024, arXiv 2409.02118, §3–§4), and its
 * ablations.
 *
 * <p><b>Pairs.</b> Each iteration's prompts give two pairs each, drawn fresh every iteration:
 * <ul>
 *   <li>a <b>matrix pair</b> (TSO §4.1.2): the chosen response from a positive source, the rejected one from a
 *       negative source, each source drawn per pair by its mixture weight. Positives: the world's stand-in for
 *       human reference answers ({@link ResponseMix#referenceAnswers}: written from the task, never reading the
 *       oracle) and the newest, largest model; negatives: the policy's earlier versions (the versions earlier
 *       iterations started from) and every smaller model. Defaults: 50/50 for positives, uniform over the
 *       negatives available (the first iteration has no earlier version);</li>
 *   <li>a <b>self pair</b> (TSO Eq. 7–8): K samples of the policy the iteration started from, each scored by the
 *       evaluator ({@code RubricScore}'s expected score); a sample above the mean of its prompt's K scores joins
 *       the positives, one below it the negatives (empty samples and samples at the mean join neither), and the
 *       pair is a uniformly drawn positive against a uniformly drawn negative.</li>
 * </ul>
 * A pair whose two responses are the same text, or whose chosen response is empty, is dropped; so is a prompt's
 * self pair when its samples all score alike. The ablations keep two pairs per prompt: {@code matrix} draws two
 * matrix pairs, {@code self} two self pairs.
 *
 * <p><b>Training</b> (TSO §4.1.4, §4.3.3): the iteration's prompts are cut into T mini-batches (default 3), each a
 * round of the run trained for 2 epochs and checkpointed; the reference of each round is the policy its training
 * starts from ({@link Reference#TRAINING_START}), so it switches to the current policy after every mini-batch and
 * the remaining pairs' reference log-probs are computed against it (by the trainer, when it trains them). Every
 * round of an iteration samples from the version the iteration started from, so the rounds after the first are
 * sampled while the first trains, and their batches lag the trainer by up to T − 1 versions (the staleness bound).
 *
 * <p><b>Loss</b>: the dual-clip loss (TSO Eq. 10, {@code steer.objective.DualClip}) with its margins scaled to the
 * response length: a response of {@value #DEFAULT_LENGTH_SCALE} tokens keeps the paper's γ_w = 20, γ_l = 10, a
 * shorter one proportionally less (DESIGN's dual-clip note: the paper's margins never release on the oracle world's
 * six-token answers). Ablations: plain DPO (TSO Table 6), one mini-batch per iteration (Table 7), matrix pairs only,
 * self-scored pairs only.
 */
public final class TsoMethod implements AlignmentMethod {

    /** The family's name. */
    public static final String FAMILY = "tso";
    /** Losses a TSO run can train with. */
    public static final Set<String> LOSSES = Set.of("dual-clip", "dpo");
    /** Which pairs a run builds. */
    public static final Set<String> PAIR_KINDS = Set.of("both", "matrix", "self");
    /** The positive source that is the stand-in for human reference answers. */
    public static final String REFERENCE_SOURCE = "reference";
    /** The negative source that is the policy's earlier versions, split uniformly among them. */
    public static final String EARLIER_SOURCE = "earlier";
    /** The source name of the policy's own samples. */
    public static final String SELF_SOURCE = "self";
    /** The evaluator's model name on the judge service by default. */
    public static final String DEFAULT_EVALUATOR_MODEL = "evaluator";
    /** The response length in tokens at which dual-clip's margins are the paper's. */
    public static final int DEFAULT_LENGTH_SCALE = 400;
    /** Pairs per prompt and iteration, in every variant. */
    public static final int PAIRS_PER_PROMPT = 2;

    private static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final double WEIGHT_SUM_TOLERANCE = 1e-6;

    /**
     * TSO's settings; zero or empty fields take the preset's when merged ({@link #over}).
     *
     * @param miniBatches        T, mini-batches (rounds) per iteration, 1..10 (1: no mini-batch schedule)
     * @param epochsPerMiniBatch passes over each mini-batch, 1..10 (TSO: 2)
     * @param loss               {@code dual-clip} or {@code dpo}
     * @param beta               the loss's β &gt; 0 (0 = 0.1, TSO's)
     * @param pairs              {@code both}, {@code matrix} or {@code self}
     * @param selfSamples        K, the policy's samples per prompt for the self pairs, 2..16
     * @param largerModels       the matrix's larger sizes: name → checkpoint directory (absolute); the newest,
     *                           largest model is a positive source
     * @param smallerModels      the matrix's smaller sizes: name → checkpoint directory (absolute); each is a
     *                           negative source
     * @param positiveWeights    source → weight over {@value #REFERENCE_SOURCE} and the larger models' names,
     *                           summing to 1; empty = 1/2 reference answers, 1/2 split over the larger models
     * @param negativeWeights    source → weight over {@value #EARLIER_SOURCE} and the smaller models' names,
     *                           summing to 1; empty = uniform over every earlier version and smaller model. A
     *                           source with nothing to draw yet (no earlier version in the first iteration) gives
     *                           its weight to the others in proportion
     * @param evaluatorModel     the evaluator's model name on the judge service
     * @param evaluatorLocation  its checkpoint directory (absolute), from {@code steer tso evaluator}
     */
    public record Settings(int miniBatches, int epochsPerMiniBatch, String loss, double beta, String pairs,
                           int selfSamples, Map<String, String> largerModels, Map<String, String> smallerModels,
                           Map<String, Double> positiveWeights, Map<String, Double> negativeWeights,
                           String evaluatorModel, String evaluatorLocation) implements MethodSettings {

        /** @throws InvalidSettingException naming the first field out of range */
        public Settings {
            loss = loss == null ? "" : loss;
            pairs = pairs == null ? "" : pairs;
            evaluatorModel = evaluatorModel == null ? "" : evaluatorModel;
            evaluatorLocation = evaluatorLocation == null ? "" : evaluatorLocation;
            largerModels = sorted(largerModels);
            smallerModels = sorted(smallerModels);
            positiveWeights = sorted(positiveWeights);
            negativeWeights = sorted(negativeWeights);
            range("config.tso.mini_batches", miniBatches, 10, "3");
            range("config.tso.epochs_per_mini_batch", epochsPerMiniBatch, 10, "2");
            if (!loss.isEmpty() && !LOSSES.contains(loss)) {
                throw new InvalidSettingException("config.tso.loss", "must be 'dual-clip' or 'dpo' (empty = dual-clip),"
                        + " got '" + loss + "'");
            }
            OspMethod.checkBeta("config.tso.beta", beta);
            if (!pairs.isEmpty() && !PAIR_KINDS.contains(pairs)) {
                throw new InvalidSettingException("config.tso.pairs", "must be 'both', 'matrix' or 'self' (empty ="
                        + " both), got '" + pairs + "'");
            }
            if (selfSamples != 0 && (selfSamples < 2 || selfSamples > 16)) {
                throw new InvalidSettingException("config.tso.self_samples", "must be in 2..16 (0 = 4; a mean split"
                        + " needs at least two samples), got " + selfSamples);
            }
            models("config.tso.larger_models", largerModels);
            models("config.tso.smaller_models", smallerModels);
            for (String name : largerModels.keySet()) {
                if (smallerModels.containsKey(name)) {
                    throw new InvalidSettingException("config.tso.smaller_models[" + name + "]", "is also a larger"
                            + " model");
                }
            }
            weights("config.tso.positive_weights", positiveWeights);
            weights("config.tso.negative_weights", negativeWeights);
            if (!evaluatorModel.isEmpty() && !MODEL_NAME.matcher(evaluatorModel).matches()) {
                throw new InvalidSettingException("config.tso.evaluator_model", "must be 1..64 of [A-Za-z0-9._-]"
                        + " starting with a letter or digit (empty = " + DEFAULT_EVALUATOR_MODEL + "), got '"
                        + evaluatorModel + "'");
            }
            if (!evaluatorLocation.isEmpty() && !evaluatorLocation.startsWith("/")) {
                throw new InvalidSettingException("config.tso.evaluator_location", "must be an absolute checkpoint"
                        + " directory on the judge service, got '" + evaluatorLocation + "'");
            }
        }

        /**
         * TSO's defaults: 3 mini-batches of 2 epochs, dual-clip, both kinds of pairs, 4 self samples, the paper's
         * mixture weights, the evaluator named {@value #DEFAULT_EVALUATOR_MODEL}. The matrix's models and the
         * evaluator's checkpoint have no default: a run names them ({@code steer demo} names the world's).
         */
        public static Settings defaults() {
            return new Settings(3, 2, "dual-clip", 0, "both", 4, Map.of(), Map.of(), Map.of(), Map.of(),
                    DEFAULT_EVALUATOR_MODEL, "");
        }

        /** These settings with another loss. */
        public Settings withLoss(String l) {
            return new Settings(miniBatches, epochsPerMiniBatch, l, beta, pairs, selfSamples, largerModels,
                    smallerModels, positiveWeights, negativeWeights, evaluatorModel, evaluatorLocation);
        }

        /** These settings with another number of mini-batches. */
        public Settings withMiniBatches(int t) {
            return new Settings(t, epochsPerMiniBatch, loss, beta, pairs, selfSamples, largerModels, smallerModels,
                    positiveWeights, negativeWeights, evaluatorModel, evaluatorLocation);
        }

        /** These settings with other pairs. */
        public Settings withPairs(String p) {
            return new Settings(miniBatches, epochsPerMiniBatch, loss, beta, p, selfSamples, largerModels,
                    smallerModels, positiveWeights, negativeWeights, evaluatorModel, evaluatorLocation);
        }

        /** These settings with the matrix's models and the evaluator's checkpoint. */
        public Settings withModels(Map<String, String> larger, Map<String, String> smaller, String evaluator) {
            return new Settings(miniBatches, epochsPerMiniBatch, loss, beta, pairs, selfSamples, larger, smaller,
                    positiveWeights, negativeWeights, evaluatorModel, evaluator);
        }

        @Override
        public AlignmentMethod method() {
            return new TsoMethod(this);
        }

        @Override
        public MethodSettings over(MethodSettings preset) {
            Settings p = (Settings) preset;
            return new Settings(miniBatches != 0 ? miniBatches : p.miniBatches,
                    epochsPerMiniBatch != 0 ? epochsPerMiniBatch : p.epochsPerMiniBatch,
                    loss.isEmpty() ? p.loss : loss, beta != 0 ? beta : p.beta, pairs.isEmpty() ? p.pairs : pairs,
                    selfSamples != 0 ? selfSamples : p.selfSamples,
                    largerModels.isEmpty() ? p.largerModels : largerModels,
                    smallerModels.isEmpty() ? p.smallerModels : smallerModels,
                    positiveWeights.isEmpty() ? p.positiveWeights : positiveWeights,
                    negativeWeights.isEmpty() ? p.negativeWeights : negativeWeights,
                    evaluatorModel.isEmpty() ? p.evaluatorModel : evaluatorModel,
                    evaluatorLocation.isEmpty() ? p.evaluatorLocation : evaluatorLocation);
        }

        @Override
        public void checkComplete() {
            boolean matrix = !pairs.equals("self");
            if (matrix && largerModels.isEmpty() && !positiveWeights.isEmpty()
                    && positiveWeights.getOrDefault(REFERENCE_SOURCE, 0.0) < 1) {
                throw new InvalidSettingException("config.tso.larger_models", "are empty, but positive_weights give"
                        + " weight to models");
            }
            if (matrix && largerModels.isEmpty() && positiveWeights.isEmpty()) {
                throw new InvalidSettingException("config.tso.larger_models", "must name at least one larger model"
                        + " (name → checkpoint directory): TSO's positives come from the newest, largest model");
            }
            if (matrix && smallerModels.isEmpty() && negativeWeights.getOrDefault(EARLIER_SOURCE, 0.0) < 1) {
                throw new InvalidSettingException("config.tso.smaller_models", "must name at least one smaller model"
                        + " (name → checkpoint directory) unless negative_weights give everything to '"
                        + EARLIER_SOURCE + "'");
            }
            if (matrix && smallerModels.isEmpty() && negativeWeights.isEmpty()) {
                throw new InvalidSettingException("config.tso.smaller_models", "must name at least one smaller model");
            }
            for (String source : positiveWeights.keySet()) {
                if (!source.equals(REFERENCE_SOURCE) && !largerModels.containsKey(source)) {
                    throw new InvalidSettingException("config.tso.positive_weights[" + source + "]", "is neither '"
                            + REFERENCE_SOURCE + "' nor a larger model " + largerModels.keySet());
                }
            }
            for (String source : negativeWeights.keySet()) {
                if (!source.equals(EARLIER_SOURCE) && !smallerModels.containsKey(source)) {
                    throw new InvalidSettingException("config.tso.negative_weights[" + source + "]", "is neither '"
                            + EARLIER_SOURCE + "' nor a smaller model " + smallerModels.keySet());
                }
            }
            if (evaluatorLocation.isEmpty() && !pairs.equals("matrix")) {
                throw new InvalidSettingException("config.tso.evaluator_location", "must name the evaluator's"
                        + " checkpoint (from `steer tso evaluator`): the self pairs are split by its scores");
            }
        }

        private static <V> Map<String, V> sorted(Map<String, V> m) {
            return m == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(m));
        }

        private static void range(String field, int v, int max, String dflt) {
            if (v < 0 || v > max) {
                throw new InvalidSettingException(field, "must be in 1.." + max + " (0 = " + dflt + "), got " + v);
            }
        }

        private static void models(String field, Map<String, String> models) {
            for (Map.Entry<String, String> e : models.entrySet()) {
                String name = e.getKey();
                if (!MODEL_NAME.matcher(name).matches() || name.equals(REFERENCE_SOURCE)
                        || name.equals(EARLIER_SOURCE) || name.equals(SELF_SOURCE) || name.startsWith("policy")) {
                    throw new InvalidSettingException(field, "names must be 1..64 of [A-Za-z0-9._-] starting with a"
                            + " letter or digit, and not '" + REFERENCE_SOURCE + "', '" + EARLIER_SOURCE + "', '"
                            + SELF_SOURCE + "' or policy…, got '" + name + "'");
                }
                if (e.getValue() == null || !e.getValue().startsWith("/")) {
                    throw new InvalidSettingException(field + "[" + name + "]", "must be an absolute checkpoint"
                            + " directory on the generator, got '" + e.getValue() + "'");
                }
            }
        }

        private static void weights(String field, Map<String, Double> weights) {
            if (weights.isEmpty()) {
                return;
            }
            double sum = 0;
            for (Map.Entry<String, Double> e : weights.entrySet()) {
                Double w = e.getValue();
                if (w == null || !(w >= 0 && w <= 1)) {
                    throw new InvalidSettingException(field + "[" + e.getKey() + "]", "must be in [0, 1], got " + w);
                }
                sum += w;
            }
            if (Math.abs(sum - 1) > WEIGHT_SUM_TOLERANCE) {
                throw new InvalidSettingException(field, "must sum to 1 (empty = the paper's defaults), got " + sum
                        + " over " + weights);
            }
        }
    }

    private final Settings settings;

    /** @param settings the method's settings, merged over a preset */
    public TsoMethod(Settings settings) {
        this.settings = settings;
    }

    /** The settings. */
    public Settings settings() {
        return settings;
    }

    @Override
    public String family() {
        return FAMILY;
    }

    @Override
    public int promptsPerRound(int promptsPerSplit) {
        return (promptsPerSplit + settings.miniBatches() - 1) / settings.miniBatches();
    }

    @Override
    public int plannedExamples(int prompts) {
        return prompts * PAIRS_PER_PROMPT;
    }

    @Override
    public int maxPolicyStaleness() {
        return settings.miniBatches() - 1;
    }

    /** Every mini-batch of an iteration samples from the version the iteration started from. */
    @Override
    public long samplingVersion(RunSettings st, int round) {
        return (long) st.splitOf(round) * st.roundsPerSplit();
    }

    @Override
    public int epochsPerRound(RunSettings st) {
        return settings.epochsPerMiniBatch();
    }

    @Override
    public ObjectiveChoice objective(Map<String, Double> objectiveParams) {
        ObjectiveChoice o = OspMethod.withBeta(settings.loss(), settings.beta(), objectiveParams, "config.tso.beta");
        if (!settings.loss().equals("dual-clip") || objectiveParams.containsKey("length_scale")
                || objectiveParams.containsKey("per_token")) {
            return o;
        }
        Map<String, Double> params = new LinkedHashMap<>(o.params());
        params.put("length_scale", (double) DEFAULT_LENGTH_SCALE);
        return new ObjectiveChoice(o.name(), params);
    }

    @Override
    public Reference reference() {
        return Reference.TRAINING_START;
    }

    @Override
    public JudgeChoice judge() {
        return settings.pairs().equals("matrix") ? JudgeChoice.none()
                : JudgeChoice.pinned(settings.evaluatorModel(), settings.evaluatorLocation());
    }

    /** The kinds of a prompt's pairs. */
    List<String> pairKinds() {
        return switch (settings.pairs()) {
            case "matrix" -> List.of("matrix", "matrix");
            case "self" -> List.of(SELF_SOURCE, SELF_SOURCE);
            default -> List.of("matrix", SELF_SOURCE);
        };
    }

    /**
     * The positive sources and their weights: the settings' or the paper's 50/50 between reference answers and the
     * larger models.
     */
    Map<String, Double> positiveSources() {
        if (!settings.positiveWeights().isEmpty()) {
            return settings.positiveWeights();
        }
        Map<String, Double> w = new LinkedHashMap<>();
        w.put(REFERENCE_SOURCE, 0.5);
        for (String m : settings.largerModels().keySet()) {
            w.put(m, 0.5 / settings.largerModels().size());
        }
        return w;
    }

    /**
     * The negative sources of a split and their weights, renormalised over what exists: the policy's earlier
     * versions (named {@code policy@v<N>}, the versions earlier splits started from) and the smaller models.
     *
     * @param earlierVersions the versions earlier splits started from, oldest first (empty in the first)
     */
    Map<String, Double> negativeSources(List<Long> earlierVersions) {
        Map<String, Double> w = new LinkedHashMap<>();
        if (settings.negativeWeights().isEmpty()) {
            earlierVersions.forEach(v -> w.put(policyName(v), 1.0));
            settings.smallerModels().keySet().forEach(m -> w.put(m, 1.0));
        } else {
            double earlier = settings.negativeWeights().getOrDefault(EARLIER_SOURCE, 0.0);
            earlierVersions.forEach(v -> w.put(policyName(v), earlier / earlierVersions.size()));
            settings.negativeWeights().forEach((k, v) -> {
                if (!k.equals(EARLIER_SOURCE)) {
                    w.put(k, v);
                }
            });
        }
        double sum = w.values().stream().mapToDouble(Double::doubleValue).sum();
        if (!(sum > 0)) {
            throw new IllegalStateException("no negative source to draw from: the weights " + settings.negativeWeights()
                    + " give everything to '" + EARLIER_SOURCE + "', and this iteration has no earlier version");
        }
        w.replaceAll((k, v) -> v / sum);
        return w;
    }

    /** The source name of a policy version. */
    static String policyName(long version) {
        return "policy@v" + version;
    }

    /** A source drawn by its weight. */
    static String draw(Map<String, Double> weights, SplittableRandom random) {
        double u = random.nextDouble();
        String last = null;
        for (Map.Entry<String, Double> e : weights.entrySet()) {
            if (e.getValue() <= 0) {
                continue;
            }
            last = e.getKey();
            u -= e.getValue();
            if (u < 0) {
                return last;
            }
        }
        return last; // rounding left u a hair above 0
    }

    @Override
    public RoundExamples buildRound(RoundContext round) {
        RunSettings st = round.settings();
        List<Task> tasks = round.tasks();
        List<String> x = OspMethod.queries(tasks);
        int n = x.size();
        List<String> kinds = pairKinds();
        List<Long> earlier = new ArrayList<>();
        for (int s = 0; s < round.split(); s++) {
            earlier.add((long) s * st.roundsPerSplit());
        }
        Map<String, Double> positives = positiveSources();
        Map<String, Double> negatives = kinds.contains("matrix") ? negativeSources(earlier) : Map.of();

        // per prompt and pair slot: the sources (matrix) or the pools' draws (self)
        String[][] chosenSource = new String[n][kinds.size()];
        String[][] rejectedSource = new String[n][kinds.size()];
        SplittableRandom[] random = new SplittableRandom[n];
        for (int p = 0; p < n; p++) {
            random[p] = new SplittableRandom(Seeds.derive(st.seed(), "tso_pairs", round.round(), p));
            for (int slot = 0; slot < kinds.size(); slot++) {
                if (kinds.get(slot).equals("matrix")) {
                    chosenSource[p][slot] = draw(positives, random[p]);
                    rejectedSource[p][slot] = draw(negatives, random[p]);
                } else {
                    chosenSource[p][slot] = SELF_SOURCE;
                    rejectedSource[p][slot] = SELF_SOURCE;
                }
            }
        }
        long[] drawn = {0};
        String[][] chosen = matrixResponses(round, tasks, chosenSource, "positive", drawn);
        String[][] rejected = matrixResponses(round, tasks, rejectedSource, "negative", drawn);

        long judged = 0;
        if (kinds.contains(SELF_SOURCE)) {
            int k = settings.selfSamples();
            List<List<String>> samples = round.policy().sample("tso_self", x, k, st.sampling());
            drawn[0] += (long) n * k;
            List<List<Double>> scores = rubricScores(round.judge(), x, samples);
            judged = OspMethod.nonEmpty(samples);
            for (int p = 0; p < n; p++) {
                SelfPools pools = SelfPools.split(samples.get(p), scores.get(p));
                for (int slot = 0; slot < kinds.size(); slot++) {
                    if (!kinds.get(slot).equals(SELF_SOURCE) || pools.isEmpty()) {
                        continue;
                    }
                    chosen[p][slot] = pools.positives().get(random[p].nextInt(pools.positives().size()));
                    rejected[p][slot] = pools.negatives().get(random[p].nextInt(pools.negatives().size()));
                }
            }
        }

        List<RoundExample> examples = new ArrayList<>();
        int dropped = 0;
        for (int p = 0; p < n; p++) {
            for (int slot = 0; slot < kinds.size(); slot++) {
                String c = chosen[p][slot];
                String r = rejected[p][slot];
                if (c == null || r == null || c.isBlank() || c.strip().equals(r.strip())) {
                    dropped++;
                    continue;
                }
                examples.add(new JudgedPair(x.get(p), c, r, null, chosenSource[p][slot], rejectedSource[p][slot]));
            }
        }
        return new RoundExamples(examples, dropped, 0, drawn[0], judged);
    }

    /**
     * The responses of the matrix slots, one per slot, sampled per source for all the prompts that drew it (the
     * reference answers written from the task); null in self slots.
     */
    private String[][] matrixResponses(RoundContext round, List<Task> tasks, String[][] sources, String side,
                                       long[] drawn) {
        int n = tasks.size();
        int slots = sources.length == 0 ? 0 : sources[0].length;
        String[][] out = new String[n][slots];
        Map<String, List<int[]>> bySource = new TreeMap<>();
        for (int p = 0; p < n; p++) {
            for (int slot = 0; slot < slots; slot++) {
                if (!sources[p][slot].equals(SELF_SOURCE)) {
                    bySource.computeIfAbsent(sources[p][slot], k -> new ArrayList<>()).add(new int[] {p, slot});
                }
            }
        }
        RunSettings st = round.settings();
        for (Map.Entry<String, List<int[]>> e : bySource.entrySet()) {
            String source = e.getKey();
            List<int[]> at = e.getValue();
            if (source.equals(REFERENCE_SOURCE)) {
                ResponseMix careful = ResponseMix.referenceAnswers();
                for (int[] ps : at) {
                    SplittableRandom r = new SplittableRandom(Seeds.derive(st.seed(), "tso_reference_" + side,
                            round.round(), ps[0] * slots + ps[1]));
                    out[ps[0]][ps[1]] = careful.sample(tasks.get(ps[0]), r);
                }
                continue;
            }
            List<String> prompts = new ArrayList<>(at.size());
            at.forEach(ps -> prompts.add(tasks.get(ps[0]).query()));
            String role = "tso_" + side + "_" + source;
            List<List<String>> texts;
            if (source.startsWith("policy@v")) {
                long version = Long.parseLong(source.substring("policy@v".length()));
                texts = round.models().samplePolicyVersion(version, role, prompts, 1, st.sampling());
            } else {
                String location = settings.largerModels().containsKey(source) ? settings.largerModels().get(source)
                        : settings.smallerModels().get(source);
                texts = round.models().sampleModel(source, location, role, prompts, 1, st.sampling());
            }
            drawn[0] += prompts.size();
            for (int i = 0; i < at.size(); i++) {
                out[at.get(i)[0]][at.get(i)[1]] = texts.get(i).get(0);
            }
        }
        return out;
    }

    /** Every non-empty sample's expected rubric score by the evaluator, grouped per prompt; null for empty ones. */
    static List<List<Double>> rubricScores(RoundContext.Judging evaluator, List<String> x,
                                           List<List<String>> samples) {
        return SampleScores.perPrompt(x, samples, evaluator::rubric, null);
    }

    /**
     * A prompt's own samples split by the evaluator (TSO Eq. 7–8): above the mean of the scored samples' expected
     * scores the positives, below it the negatives; unscored (empty) samples and samples at the mean in neither.
     *
     * @param positives the samples above the mean
     * @param negatives the samples below it
     */
    record SelfPools(List<String> positives, List<String> negatives) {

        static SelfPools split(List<String> samples, List<Double> scores) {
            double sum = 0;
            int scored = 0;
            for (Double s : scores) {
                if (s != null) {
                    sum += s;
                    scored++;
                }
            }
            List<String> pos = new ArrayList<>();
            List<String> neg = new ArrayList<>();
            if (scored > 0) {
                double mean = sum / scored;
                for (int i = 0; i < samples.size(); i++) {
                    Double s = scores.get(i);
                    if (s == null) {
                        continue;
                    }
                    if (s > mean) {
                        pos.add(samples.get(i));
                    } else if (s < mean) {
                        neg.add(samples.get(i));
                    }
                }
            }
            return new SelfPools(List.copyOf(pos), List.copyOf(neg));
        }

        boolean isEmpty() {
            return positives.isEmpty() || negatives.isEmpty();
        }
    }
}
