package steer.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import steer.align.InvalidSettingException;
import steer.align.RunSettings;

class MethodSettingsTest {

    private static RunSettings run(String algorithm, MethodSettings given, Map<String, Double> params) {
        return new RunSettings("r", algorithm, 3, 0, 0, 0, 0, 0, 0, null, params, "", 0, false, "", given);
    }

    private static InvalidSettingException rejected(String algorithm, MethodSettings given) {
        return assertThrows(InvalidSettingException.class, () -> run(algorithm, given, Map.of()));
    }

    private static void rejects(String field, Runnable make) {
        InvalidSettingException e = assertThrows(InvalidSettingException.class, make::run);
        assertEquals(field, e.field(), e.getMessage());
        assertTrue(e.getMessage().startsWith(field + " "), e.getMessage());
    }

    @Test
    void everyNamedMethodResolvesToItsFamilyAndObjective() {
        assertEquals(Methods.names(), java.util.List.of("sso", "sso-no-w", "sso-no-g", "pbaa", "osp", "osp-dpo",
                "osp-ipo", "osp-random", "self-rewarding", "tso", "tso-dpo", "tso-no-mini-batch", "tso-matrix-only",
                "tso-self-only"));
        assertEquals("sso", run("sso", null, Map.of()).objectiveName());
        assertEquals(Map.of("weighted", 0.0), run("sso-no-w", null, Map.of()).objective().params());
        assertEquals(Map.of("theta", 0.0), run("sso-no-g", null, Map.of()).objective().params());
        assertEquals("pbaa", run("pbaa", null, Map.of()).objectiveName());
        assertEquals("spce", run("osp", null, Map.of()).objectiveName());
        assertEquals(AlignmentMethod.Reference.BASE_MODEL, run("osp", null, Map.of()).alignmentMethod().reference());
        assertEquals(AlignmentMethod.JudgeChoice.pinned("sft", ""), run("osp", null, Map.of()).alignmentMethod().judge());
        assertEquals(AlignmentMethod.Reference.ROUND_START,
                run("self-rewarding", null, Map.of()).alignmentMethod().reference());
        assertEquals(AlignmentMethod.JudgeChoice.Kind.FOLLOWS_POLICY,
                run("self-rewarding", null, Map.of()).alignmentMethod().judge().kind());
        assertEquals(AlignmentMethod.JudgeChoice.Kind.NONE, run("sso", null, Map.of()).alignmentMethod().judge().kind());
    }

    @Test
    void roundsCutEachSplitAndTheScheduleCountsTheirPairs() {
        RunSettings sso = run("sso", null, Map.of());
        assertEquals(1, sso.roundsPerSplit());
        assertEquals(3 * 16, sso.plannedTotalSteps(), "3 iterations × ⌈500 / 32⌉");
        RunSettings osp = run("osp", null, Map.of());
        assertEquals(16, osp.roundsPerSplit(), "⌈500 / 32⌉");
        assertEquals(48, osp.totalRounds());
        assertEquals(1, osp.splitOf(16));
        assertEquals(480, osp.firstPromptOf(15));
        assertEquals(20, osp.promptsInRound(15), "the split's last round takes the rest");
        assertTrue(osp.evaluates(15) && !osp.evaluates(14) && osp.evaluates(47));
        // 15 rounds of 32 prompts × 3 pairs = 96 pairs = 3 batches, and one of 20 × 3 = 60 pairs = 2 batches
        assertEquals(3 * (15 * 3 + 2), osp.plannedTotalSteps());
    }

    @Test
    void settingsOverrideThePresetAndMustBeOfItsFamily() {
        RunSettings s = run("osp-dpo", new OspMethod.Settings(5, 16, 1, "", "", 0.05, "", ""), Map.of());
        OspMethod.Settings o = (OspMethod.Settings) s.method();
        assertEquals(new OspMethod.Settings(5, 16, 1, "dpo", "ranked", 0.05, "sft", ""), o);
        assertEquals(Map.of("beta", 0.05), s.objective().params());
        assertEquals(new OspMethod.Settings(7, 32, 0, "spce", "ranked", 0, "sft", ""), run("osp", null, Map.of())
                .method());
        assertEquals("config.method_settings", rejected("sso", OspMethod.Settings.defaults()).field());
        assertEquals("config.method_settings", rejected("osp", SelfRewardingMethod.Settings.defaults()).field());
        assertEquals("config.algorithm", rejected("dpo", null).field());
        assertEquals("pbaa", run("sso", new SsoMethod.Settings(true, true, ""), Map.of()).objectiveName());
    }

    @Test
    void everyOutOfRangeFieldIsNamed() {
        rejects("config.osp.samples_per_prompt", () -> new OspMethod.Settings(1, 0, 0, "", "", 0, "", ""));
        rejects("config.osp.samples_per_prompt", () -> new OspMethod.Settings(17, 0, 0, "", "", 0, "", ""));
        rejects("config.osp.prompts_per_round", () -> new OspMethod.Settings(0, -1, 0, "", "", 0, "", ""));
        rejects("config.osp.prompts_per_round", () -> new OspMethod.Settings(0, 501, 0, "", "", 0, "", ""));
        rejects("config.osp.max_policy_staleness", () -> new OspMethod.Settings(0, 0, -1, "", "", 0, "", ""));
        rejects("config.osp.max_policy_staleness", () -> new OspMethod.Settings(0, 0, 2, "", "", 0, "", ""));
        rejects("config.osp.loss", () -> new OspMethod.Settings(0, 0, 0, "kto", "", 0, "", ""));
        rejects("config.osp.pairing", () -> new OspMethod.Settings(0, 0, 0, "", "sorted", 0, "", ""));
        rejects("config.osp.beta", () -> new OspMethod.Settings(0, 0, 0, "", "", -0.1, "", ""));
        rejects("config.osp.beta", () -> new OspMethod.Settings(0, 0, 0, "", "", Double.NaN, "", ""));
        rejects("config.osp.judge_model", () -> new OspMethod.Settings(0, 0, 0, "", "", 0, "-judge", ""));
        rejects("config.osp.judge_location", () -> new OspMethod.Settings(0, 0, 0, "", "", 0, "j", "models/j"));
        rejects("config.self_rewarding.samples_per_prompt", () -> new SelfRewardingMethod.Settings(1, 0, 0, 0));
        rejects("config.self_rewarding.max_policy_staleness", () -> new SelfRewardingMethod.Settings(0, 0, -1, 0));
        rejects("config.self_rewarding.beta", () -> new SelfRewardingMethod.Settings(0, 0, 0, -1));
        rejects("config.sso.feature_allocation", () -> new SsoMethod.Settings(false, false, "ask"));
        rejects("config.evaluation_split", () -> new RunSettings("r", "osp", 1, 0, 0, 0, 0, 0, 0, null, Map.of(), "",
                0, false, "test", null));
        rejects("config.prompts_per_iteration", () -> new RunSettings("r", "osp", 1, 0, 0, 450, 0, 0, 0, null,
                Map.of(), "", 0, false, "validation", null));
    }

    @Test
    void objectiveParametersMustFitTheMethodsObjective() {
        rejects("config.sso.no_self_steering", () -> run("sso-no-g", null, Map.of("theta", 0.3)));
        rejects("config.sso.no_weight", () -> run("sso-no-w", null, Map.of("weighted", 1.0)));
        rejects("config.osp.beta", () -> run("osp", new OspMethod.Settings(0, 0, 0, "", "", 0.5, "", ""),
                Map.of("beta", 0.2)));
        rejects("config.objective_params", () -> run("osp", null, Map.of("alpha", 0.5)));
        assertEquals(Map.of("beta", 0.2, "per_token", 1.0), run("osp", null, Map.of("beta", 0.2, "per_token", 1.0))
                .objective().params());
    }

    @Test
    void theValidationSplitHoldsBackTheEndOfEverySplit() {
        RunSettings v = new RunSettings("r", "sso", 3, 0, 0, 0, 0, 0, 0, null, Map.of(), "", 0, false, "validation",
                null);
        assertEquals(400, v.promptsPerIteration());
        assertEquals(300, v.evalQueries());
        steer.align.RunWorld world = steer.align.RunWorld.of(0, 3);
        java.util.Set<String> trained = new java.util.HashSet<>();
        for (int i = 0; i < 3; i++) {
            world.iterationTasks(i, 400).forEach(t -> trained.add(t.query()));
        }
        java.util.List<steer.world.Task> validation = world.evaluationTasks(v);
        assertEquals(300, validation.size());
        validation.forEach(t -> assertTrue(!trained.contains(t.query()), "never trained on: " + t.query()));
        java.util.Set<String> heldOut = new java.util.HashSet<>();
        world.heldOut(500).forEach(t -> heldOut.add(t.query()));
        validation.forEach(t -> assertTrue(!heldOut.contains(t.query()), "not the held-out set: " + t.query()));
    }
}
