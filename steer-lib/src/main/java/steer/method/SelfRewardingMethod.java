package steer.method;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import steer.align.JudgedPair;
import steer.align.RoundExample;
import steer.align.RunSettings;

/**
 * Self-Rewarding language models (Yuan et al. 2024), re-implemented online as the OSP paper runs it for its
 * comparison (OSP Fig. 4c): per prompt the policy samples K responses and judges them itself — the judge follows
 * the policy, at the version that sampled the round — with OSP's judge prompt against the empty response
 * (p(y ≻ empty | x)); the best is chosen over the worst ({@link PreferencePairing#bestAgainstWorst}), one pair per
 * prompt with a hard label, trained with DPO, −log σ(β·h), against the version the round started from. A prompt
 * whose samples all score alike, or whose best and worst are the same text, gives no pair.
 */
public final class SelfRewardingMethod implements AlignmentMethod {

    /** The family's name. */
    public static final String FAMILY = "self-rewarding";

    /**
     * Self-Rewarding's settings; zero fields take the defaults when merged over a preset.
     *
     * @param samplesPerPrompt   K, 2..16
     * @param promptsPerRound    1..500
     * @param maxPolicyStaleness 0 or 1
     * @param beta               DPO's β &gt; 0 (0 = 0.1)
     */
    public record Settings(int samplesPerPrompt, int promptsPerRound, int maxPolicyStaleness, double beta)
            implements MethodSettings {

        /** @throws steer.align.InvalidSettingException naming the first field out of range */
        public Settings {
            OspMethod.checkSamples("config.self_rewarding.samples_per_prompt", samplesPerPrompt);
            OspMethod.checkRound("config.self_rewarding.prompts_per_round", promptsPerRound);
            OspMethod.checkStaleness("config.self_rewarding.max_policy_staleness", maxPolicyStaleness);
            OspMethod.checkBeta("config.self_rewarding.beta", beta);
        }

        /** The same budget as OSP's defaults: K = 7, rounds of 32 prompts, synchronous, DPO with β = 0.1. */
        public static Settings defaults() {
            return new Settings(7, 32, 0, 0);
        }

        @Override
        public AlignmentMethod method() {
            return new SelfRewardingMethod(this);
        }

        @Override
        public MethodSettings over(MethodSettings preset) {
            Settings p = (Settings) preset;
            return new Settings(samplesPerPrompt != 0 ? samplesPerPrompt : p.samplesPerPrompt,
                    promptsPerRound != 0 ? promptsPerRound : p.promptsPerRound,
                    maxPolicyStaleness != 0 ? maxPolicyStaleness : p.maxPolicyStaleness, beta != 0 ? beta : p.beta);
        }
    }

    private final Settings settings;

    /** @param settings the method's settings, merged over a preset */
    public SelfRewardingMethod(Settings settings) {
        this.settings = settings;
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
        return prompts;
    }

    @Override
    public int maxPolicyStaleness() {
        return settings.maxPolicyStaleness();
    }

    @Override
    public ObjectiveChoice objective(Map<String, Double> objectiveParams) {
        return OspMethod.withBeta("dpo", settings.beta(), objectiveParams, "config.self_rewarding.beta");
    }

    @Override
    public Reference reference() {
        return Reference.ROUND_START;
    }

    @Override
    public JudgeChoice judge() {
        return JudgeChoice.followsPolicy();
    }

    @Override
    public RoundExamples buildRound(RoundContext round) {
        RunSettings st = round.settings();
        int k = settings.samplesPerPrompt();
        List<String> x = OspMethod.queries(round.tasks());
        List<List<String>> samples = round.policy().sample("self_rewarding_samples", x, k, st.sampling());
        List<List<Double>> scores = OspMethod.scoreAgainstEmpty(round.judge(), x, samples);
        List<RoundExample> examples = new ArrayList<>();
        int dropped = 0;
        for (int p = 0; p < x.size(); p++) {
            Optional<PreferencePairing.Pair> pair = PreferencePairing.bestAgainstWorst(scores.get(p));
            if (pair.isEmpty()) {
                dropped++;
                continue;
            }
            String best = samples.get(p).get(pair.get().high());
            String worst = samples.get(p).get(pair.get().low());
            if (best.strip().equals(worst.strip())) {
                dropped++;
                continue;
            }
            examples.add(new JudgedPair(x.get(p), best, worst, null));
        }
        return new RoundExamples(examples, dropped, 0, (long) x.size() * k, OspMethod.nonEmpty(samples));
    }
}
