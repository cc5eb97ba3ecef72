package steer.method;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import steer.align.InvalidSettingException;
import steer.align.RoundExample;
import steer.align.RunSettings;
import steer.align.SamplingSettings;
import steer.align.Seeds;
import steer.align.SsoTriples;
import steer.align.SteeredPrompt;
import steer.world.Task;

/**
 * SSO, Self-Steering Optimization (Xiang et al. 2024, arXiv 2410.17131, Algorithm 1), and its ablations.
 *
 * <p>A round is a whole iteration split. Each query gets features allocated (by rule or by asking the policy),
 * x+ and x- put it under the features' good and bad principle, and the policy samples y° under x, y+ under x+ and
 * y- under x- (the run's sampling: temperature 0.7, top-p 0.8); a triple is dropped when y+ = y- or either equals
 * y° ({@link SsoTriples}). Loss: the SSO objective ({@code steer.objective.Sso}: W·[θ·G + IPO(x, y+, y-)]) against
 * a frozen copy of the version the iteration started from; no judge.
 */
public final class SsoMethod implements AlignmentMethod {

    /** The family's name. */
    public static final String FAMILY = "sso";

    /**
     * SSO's settings.
     *
     * @param noWeight          W ≡ 1 (the {@code sso-no-w} ablation)
     * @param noSelfSteering    θ = 0, no G (the {@code sso-no-g} ablation); both set is PBAA
     * @param featureAllocation {@code rule} or {@code model}; empty = the run's {@code feature_allocation}
     */
    public record Settings(boolean noWeight, boolean noSelfSteering, String featureAllocation)
            implements MethodSettings {

        /** @throws InvalidSettingException for an unknown allocation */
        public Settings {
            featureAllocation = featureAllocation == null ? "" : featureAllocation;
            if (!featureAllocation.isEmpty() && !featureAllocation.equals("rule") && !featureAllocation.equals("model")) {
                throw new InvalidSettingException("config.sso.feature_allocation", "must be 'rule' or 'model' (empty ="
                        + " config.feature_allocation), got '" + featureAllocation + "'");
            }
        }

        /** SSO as the paper defines it. */
        public static Settings defaults() {
            return new Settings(false, false, "");
        }

        /** The same settings with an allocation. */
        public Settings withFeatureAllocation(String allocation) {
            return new Settings(noWeight, noSelfSteering, allocation);
        }

        @Override
        public AlignmentMethod method() {
            return new SsoMethod(this);
        }

        @Override
        public MethodSettings over(MethodSettings preset) {
            Settings p = (Settings) preset;
            return new Settings(noWeight || p.noWeight, noSelfSteering || p.noSelfSteering,
                    featureAllocation.isEmpty() ? p.featureAllocation : featureAllocation);
        }

        /** Whether this is PBAA (W ≡ 1 and θ = 0). */
        public boolean pbaa() {
            return noWeight && noSelfSteering;
        }
    }

    private final Settings settings;

    /** @param settings the method's settings */
    public SsoMethod(Settings settings) {
        this.settings = settings;
    }

    @Override
    public String family() {
        return FAMILY;
    }

    @Override
    public int promptsPerRound(int promptsPerSplit) {
        return promptsPerSplit;
    }

    @Override
    public int plannedExamples(int prompts) {
        return prompts;
    }

    @Override
    public int maxPolicyStaleness() {
        return 0;
    }

    /**
     * {@code pbaa} when both ablations are on (the objective of that name), else {@code sso} with
     * {@code weighted = 0} for no W and {@code theta = 0} for no G.
     *
     * @throws InvalidSettingException when the run's objective parameters contradict an ablation
     */
    @Override
    public ObjectiveChoice objective(Map<String, Double> objectiveParams) {
        if (settings.pbaa()) {
            return new ObjectiveChoice("pbaa", objectiveParams);
        }
        Map<String, Double> params = new LinkedHashMap<>(objectiveParams);
        if (settings.noWeight()) {
            requireUnset(objectiveParams, "weighted", 0, "config.sso.no_weight");
            params.put("weighted", 0.0);
        }
        if (settings.noSelfSteering()) {
            requireUnset(objectiveParams, "theta", 0, "config.sso.no_self_steering");
            params.put("theta", 0.0);
        }
        return new ObjectiveChoice("sso", params);
    }

    private static void requireUnset(Map<String, Double> params, String key, double value, String field) {
        Double v = params.get(key);
        if (v != null && v != value) {
            throw new InvalidSettingException(field, "sets " + key + " = " + value + ", but config.objective_params["
                    + key + "] is " + v);
        }
    }

    @Override
    public Reference reference() {
        return Reference.ROUND_START;
    }

    @Override
    public JudgeChoice judge() {
        return JudgeChoice.none();
    }

    @Override
    public RoundExamples buildRound(RoundContext round) {
        RunSettings st = round.settings();
        List<Task> tasks = round.tasks();
        int i = round.round();
        long allocationSeed = Seeds.derive(st.seed(), "allocation", i, 0);
        List<SteeredPrompt> prompts;
        int fallbacks = 0;
        long samples = 0;
        if ("model".equals(settings.featureAllocation())) {
            // greedy: the allocation is the policy's best reading of the query, not a sample
            SamplingSettings greedy = new SamplingSettings(16, 0.0, 1.0, 0, List.of());
            List<String> answers = firsts(round.policy().sample("allocation-answers",
                    SsoTriples.allocationQuestions(tasks), 1, greedy));
            samples += answers.size();
            SsoTriples.Allocation a = SsoTriples.allocateFromAnswers(tasks, answers, allocationSeed);
            prompts = a.prompts();
            fallbacks = a.fallbacks();
        } else {
            prompts = SsoTriples.allocateByRule(tasks, allocationSeed);
        }
        List<String> x = new ArrayList<>(prompts.size());
        List<String> xPlus = new ArrayList<>(prompts.size());
        List<String> xMinus = new ArrayList<>(prompts.size());
        for (SteeredPrompt p : prompts) {
            x.add(p.prompt());
            xPlus.add(p.promptPlus());
            xMinus.add(p.promptMinus());
        }
        List<String> yOrig = firsts(round.policy().sample("y_orig", x, 1, st.sampling()));
        List<String> yPlus = firsts(round.policy().sample("y_plus", xPlus, 1, st.sampling()));
        List<String> yMinus = firsts(round.policy().sample("y_minus", xMinus, 1, st.sampling()));
        samples += 3L * prompts.size();
        SsoTriples.TripleSet set = SsoTriples.build(prompts, yOrig, yPlus, yMinus);
        return new RoundExamples(new ArrayList<RoundExample>(set.kept()), set.dropped(), fallbacks, samples, 0);
    }

    private static List<String> firsts(List<List<String>> perPrompt) {
        List<String> out = new ArrayList<>(perPrompt.size());
        for (List<String> s : perPrompt) {
            out.add(s.get(0));
        }
        return out;
    }
}
