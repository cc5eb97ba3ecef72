package steer.method;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.regex.Pattern;
import steer.align.InvalidSettingException;
import steer.align.JudgedPair;
import steer.align.RoundExample;
import steer.align.RunSettings;
import steer.align.Seeds;
import steer.world.Task;

/**
 * OSP, Online Self-Preferring (OSP paper, Algorithm 1 and Fig. 2), and its ablations.
 *
 * <p>Online: each iteration split is cut into rounds of {@link Settings#promptsPerRound} prompts; a round is
 * trained and checkpointed, and the next round samples from the new version (or, with a staleness bound of 1, from
 * the version before while this round trains). Per prompt x the policy samples K responses (default 7); the pinned
 * judge scores each by p(y ≻ empty | x) ({@code CompareWithEmpty}); the samples are ranked by that score and paired
 * outside-in into K//2 pairs ({@link PreferencePairing#rankedOutsideIn}: best with worst, second with second worst;
 * the median of an odd K unused); each pair's target strength p(y_h ≻ y_l | x) is judged in both orders and
 * averaged ({@code Compare}; for a pair with an empty response that is the other response's score against the
 * empty one, already judged). A pair whose responses are the same text, or whose scores tie, carries no preference
 * and is dropped.
 *
 * <p>Loss: SPCE, −[p·log σ(β·h) + (1−p)·log σ(−β·h)] ({@code steer.objective.Spce}), with h measured against the
 * fixed SFT model (version 0) for the whole run; the judge is the SFT model too (or an augmented judge from
 * {@code steer judge augment}), pinned: loaded once and never reloaded during the run. Ablations: DPO or IPO on the
 * same ranked pairs with hard labels (OSP Fig. 4c), random instead of ranked pairing (OSP Fig. 5).
 */
public final class OspMethod implements AlignmentMethod {

    /** The family's name. */
    public static final String FAMILY = "osp";
    /** Losses an OSP run can train with. */
    public static final Set<String> LOSSES = Set.of("spce", "dpo", "ipo");
    /** Pairing rules. */
    public static final Set<String> PAIRINGS = Set.of("ranked", "random");
    /** The judge's model name by default: the SFT model, as the judge service serves it at start. */
    public static final String DEFAULT_JUDGE_MODEL = "sft";

    private static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._@/-]{0,63}");

    /**
     * OSP's settings; zero or empty fields take the defaults ({@link #defaults()}) when merged over a preset.
     *
     * @param samplesPerPrompt   K, 2..16 (the generator's most samples per prompt)
     * @param promptsPerRound    1..500
     * @param maxPolicyStaleness 0 or 1
     * @param loss               {@code spce}, {@code dpo} or {@code ipo}
     * @param pairing            {@code ranked} or {@code random}
     * @param beta               the loss's β &gt; 0 (0 = unset: {@link #defaultBeta})
     * @param judgeModel         the pinned judge's model name on the judge service
     * @param judgeLocation      the pinned judge's checkpoint directory, absolute; empty = the run's SFT model
     */
    public record Settings(int samplesPerPrompt, int promptsPerRound, int maxPolicyStaleness, String loss,
                           String pairing, double beta, String judgeModel, String judgeLocation)
            implements MethodSettings {

        /** @throws InvalidSettingException naming the first field out of range */
        public Settings {
            loss = loss == null ? "" : loss;
            pairing = pairing == null ? "" : pairing;
            judgeModel = judgeModel == null ? "" : judgeModel;
            judgeLocation = judgeLocation == null ? "" : judgeLocation;
            checkSamples("config.osp.samples_per_prompt", samplesPerPrompt);
            checkRound("config.osp.prompts_per_round", promptsPerRound);
            checkStaleness("config.osp.max_policy_staleness", maxPolicyStaleness);
            if (!loss.isEmpty() && !LOSSES.contains(loss)) {
                throw new InvalidSettingException("config.osp.loss", "must be 'spce', 'dpo' or 'ipo' (empty = spce),"
                        + " got '" + loss + "'");
            }
            if (!pairing.isEmpty() && !PAIRINGS.contains(pairing)) {
                throw new InvalidSettingException("config.osp.pairing", "must be 'ranked' or 'random' (empty = ranked),"
                        + " got '" + pairing + "'");
            }
            checkBeta("config.osp.beta", beta);
            if (!judgeModel.isEmpty() && !MODEL_NAME.matcher(judgeModel).matches()) {
                throw new InvalidSettingException("config.osp.judge_model", "must be 1..64 of [A-Za-z0-9._@/-] starting"
                        + " with a letter or digit (empty = " + DEFAULT_JUDGE_MODEL + "), got '" + judgeModel + "'");
            }
            if (!judgeLocation.isEmpty() && !judgeLocation.startsWith("/")) {
                throw new InvalidSettingException("config.osp.judge_location", "must be an absolute checkpoint"
                        + " directory on the judge service (empty = the run's SFT model), got '" + judgeLocation + "'");
            }
        }

        /**
         * OSP's defaults: K = 7 (OSP §4), rounds of 32 prompts, synchronous, SPCE on ranked pairs, the SFT model as
         * judge.
         */
        public static Settings defaults() {
            return new Settings(7, 32, 0, "spce", "ranked", 0, DEFAULT_JUDGE_MODEL, "");
        }

        /** These settings with another loss. */
        public Settings withLoss(String l) {
            return new Settings(samplesPerPrompt, promptsPerRound, maxPolicyStaleness, l, pairing, beta, judgeModel,
                    judgeLocation);
        }

        /** These settings with another pairing. */
        public Settings withPairing(String p) {
            return new Settings(samplesPerPrompt, promptsPerRound, maxPolicyStaleness, loss, p, beta, judgeModel,
                    judgeLocation);
        }

        @Override
        public AlignmentMethod method() {
            return new OspMethod(this);
        }

        @Override
        public MethodSettings over(MethodSettings preset) {
            Settings p = (Settings) preset;
            return new Settings(samplesPerPrompt != 0 ? samplesPerPrompt : p.samplesPerPrompt,
                    promptsPerRound != 0 ? promptsPerRound : p.promptsPerRound,
                    maxPolicyStaleness != 0 ? maxPolicyStaleness : p.maxPolicyStaleness,
                    loss.isEmpty() ? p.loss : loss, pairing.isEmpty() ? p.pairing : pairing,
                    beta != 0 ? beta : p.beta, judgeModel.isEmpty() ? p.judgeModel : judgeModel,
                    judgeLocation.isEmpty() ? p.judgeLocation : judgeLocation);
        }
    }

    /**
     * β when a run sets none: 0.1 for each loss (Spce, Dpo and Ipo's defaults; OSP Table 4 uses 0.001–0.1 by task
     * and model). See the orchestrator README for what was tried on the oracle world's validation split.
     *
     * @param loss the loss
     * @return β
     */
    public static double defaultBeta(String loss) {
        return 0.1;
    }

    private final Settings settings;

    /** @param settings the method's settings, merged over a preset */
    public OspMethod(Settings settings) {
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
        return Math.min(settings.promptsPerRound(), promptsPerSplit);
    }

    @Override
    public int plannedExamples(int prompts) {
        return prompts * (settings.samplesPerPrompt() / 2);
    }

    @Override
    public int maxPolicyStaleness() {
        return settings.maxPolicyStaleness();
    }

    @Override
    public ObjectiveChoice objective(Map<String, Double> objectiveParams) {
        return withBeta(settings.loss(), settings.beta(), objectiveParams, "config.osp.beta");
    }

    /** The loss with β from the settings (or its default) unless the run's objective parameters set it alike. */
    static ObjectiveChoice withBeta(String loss, double beta, Map<String, Double> objectiveParams, String field) {
        Map<String, Double> params = new LinkedHashMap<>(objectiveParams);
        Double given = objectiveParams.get("beta");
        if (beta > 0 && given != null && given != beta) {
            throw new InvalidSettingException(field, "is " + beta + ", but config.objective_params[beta] is " + given);
        }
        if (given == null) {
            params.put("beta", beta > 0 ? beta : defaultBeta(loss));
        }
        return new ObjectiveChoice(loss, params);
    }

    @Override
    public Reference reference() {
        return Reference.BASE_MODEL;
    }

    @Override
    public JudgeChoice judge() {
        return JudgeChoice.pinned(settings.judgeModel(), settings.judgeLocation());
    }

    @Override
    public RoundExamples buildRound(RoundContext round) {
        RunSettings st = round.settings();
        int k = settings.samplesPerPrompt();
        List<String> x = queries(round.tasks());
        List<List<String>> samples = round.policy().sample("osp_samples", x, k, st.sampling());
        List<List<Double>> scores = scoreAgainstEmpty(round.judge(), x, samples);
        List<String> prompts = new ArrayList<>();
        List<String> chosen = new ArrayList<>();
        List<String> rejected = new ArrayList<>();
        List<double[]> scoreOf = new ArrayList<>(); // each kept pair's p(y ≻ empty) of (chosen, rejected)
        int dropped = 0;
        for (int p = 0; p < x.size(); p++) {
            List<Double> s = scores.get(p);
            List<PreferencePairing.Pair> pairs = settings.pairing().equals("random")
                    ? PreferencePairing.random(s, new SplittableRandom(Seeds.derive(st.seed(), "pairing",
                    round.round(), p)))
                    : PreferencePairing.rankedOutsideIn(s);
            for (PreferencePairing.Pair pair : pairs) {
                String high = samples.get(p).get(pair.high());
                String low = samples.get(p).get(pair.low());
                if (degenerate(high, low, s.get(pair.high()), s.get(pair.low()))) {
                    dropped++;
                    continue;
                }
                prompts.add(x.get(p));
                chosen.add(high);
                rejected.add(low);
                scoreOf.add(new double[] {s.get(pair.high()), s.get(pair.low())});
            }
        }
        long comparisons = nonEmpty(samples);
        Double[] strengths = new Double[prompts.size()];
        if (settings.loss().equals("spce")) {
            // a pair with an empty side was judged already: p(y ≻ empty) is the other side's score (the judge
            // service refuses an empty response as A or B)
            List<Integer> ask = new ArrayList<>();
            for (int j = 0; j < prompts.size(); j++) {
                if (chosen.get(j).isBlank()) {
                    strengths[j] = 1 - scoreOf.get(j)[1];
                } else if (rejected.get(j).isBlank()) {
                    strengths[j] = scoreOf.get(j)[0];
                } else {
                    ask.add(j);
                }
            }
            if (!ask.isEmpty()) {
                List<Double> judged = round.judge().compare(pick(prompts, ask), pick(chosen, ask), pick(rejected, ask));
                for (int a = 0; a < ask.size(); a++) {
                    strengths[ask.get(a)] = judged.get(a);
                }
                comparisons += ask.size();
            }
        }
        List<RoundExample> examples = new ArrayList<>(prompts.size());
        for (int j = 0; j < prompts.size(); j++) {
            examples.add(new JudgedPair(prompts.get(j), chosen.get(j), rejected.get(j),
                    strengths[j] == null ? null : clamp(strengths[j])));
        }
        return new RoundExamples(examples, dropped, 0, (long) x.size() * k, comparisons);
    }

    private static List<String> pick(List<String> all, List<Integer> at) {
        List<String> out = new ArrayList<>(at.size());
        at.forEach(i -> out.add(all.get(i)));
        return out;
    }

    /** The queries of tasks, in order. */
    static List<String> queries(List<Task> tasks) {
        List<String> x = new ArrayList<>(tasks.size());
        for (Task t : tasks) {
            x.add(t.query());
        }
        return x;
    }

    /**
     * Every sample's p(y ≻ empty | x), grouped per prompt. An empty sample is the empty response itself: the
     * both-orders mean of a comparison with itself is exactly 1/2, so it is not asked (the judge service refuses
     * an empty response).
     */
    static List<List<Double>> scoreAgainstEmpty(RoundContext.Judging judge, List<String> x,
                                                List<List<String>> samples) {
        return SampleScores.perPrompt(x, samples, judge::againstEmpty, 0.5);
    }

    /** How many judge calls scoring the samples takes: one per non-empty sample. */
    static long nonEmpty(List<List<String>> samples) {
        long n = 0;
        for (List<String> s : samples) {
            for (String y : s) {
                n += y.isBlank() ? 0 : 1;
            }
        }
        return n;
    }

    /** The same text (ends stripped) or equal scores: no preference to learn. */
    static boolean degenerate(String high, String low, double highScore, double lowScore) {
        return high.strip().equals(low.strip()) || highScore == lowScore;
    }

    private static double clamp(double p) {
        return Math.max(0, Math.min(1, p));
    }

    static void checkSamples(String field, int k) {
        if (k != 0 && (k < 2 || k > 16)) {
            throw new InvalidSettingException(field, "must be in 2..16 (0 = 7; ranking needs at least two samples),"
                    + " got " + k);
        }
    }

    static void checkRound(String field, int n) {
        if (n < 0 || n > 500) {
            throw new InvalidSettingException(field, "must be in 1..500 (0 = 32), got " + n);
        }
    }

    static void checkStaleness(String field, int s) {
        if (s < 0 || s > 1) {
            throw new InvalidSettingException(field, "must be 0 (synchronous) or 1 (the next round samples while this"
                    + " one trains), got " + s);
        }
    }

    static void checkBeta(String field, double beta) {
        if (!(beta >= 0) || !Double.isFinite(beta)) {
            throw new InvalidSettingException(field, "must be a positive number (0 = the loss's default), got " + beta);
        }
    }
}
