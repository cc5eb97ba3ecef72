package steer.cli.compare;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import steer.proto.v1.RunConfig;

class CompareOverridesTest {

    private static final List<String> METHODS = List.of("sso", "pbaa", "osp", "osp-dpo");

    private static List<RunConfigOverrides.Setting> parse(String... specs) {
        return java.util.Arrays.stream(specs).map(s -> RunConfigOverrides.parse(s, METHODS)).toList();
    }

    @Test
    void settingsReachFieldsMessagesAndObjectiveParamsOfTheirMethodOnly() {
        List<RunConfigOverrides.Setting> settings = parse("*.batch_size=16", "osp.osp.samples_per_prompt=4",
                "osp-dpo.osp.loss=dpo", "sso.alpha=0.5", "sso.objective_params.theta=0.2", "sso.sampling.temperature=0.9",
                "osp.learning_rate=1e-4", "*.feature_allocation=model", "sso.batch_size=8");
        RunConfig base = RunConfig.newBuilder().setRunId("r").setAlgorithm("x").setSeed(3).build();

        RunConfig sso = RunConfigOverrides.apply(base, settings, "sso");
        assertEquals(8, sso.getBatchSize(), "a later setting wins");
        assertEquals(0.5, sso.getObjectiveParamsOrThrow("alpha"));
        assertEquals(0.2, sso.getObjectiveParamsOrThrow("theta"));
        assertEquals(0.9f, sso.getSampling().getTemperature());
        assertEquals("model", sso.getFeatureAllocation());
        assertFalse(sso.hasOsp());
        assertEquals(3, sso.getSeed(), "the rest of the config stays");

        RunConfig osp = RunConfigOverrides.apply(base, settings, "osp");
        assertEquals(16, osp.getBatchSize());
        assertEquals(4, osp.getOsp().getSamplesPerPrompt());
        assertEquals("", osp.getOsp().getLoss());
        assertEquals(1e-4, osp.getLearningRate());
        assertTrue(osp.getObjectiveParamsMap().isEmpty());

        RunConfig dpo = RunConfigOverrides.apply(base, settings, "osp-dpo");
        assertEquals("dpo", dpo.getOsp().getLoss());
        assertEquals(RunConfig.MethodSettingsCase.OSP, dpo.getMethodSettingsCase());

        RunConfig pbaa = RunConfigOverrides.apply(base, settings, "pbaa");
        assertEquals(16, pbaa.getBatchSize());
        assertEquals(RunConfig.MethodSettingsCase.METHODSETTINGS_NOT_SET, pbaa.getMethodSettingsCase());
    }

    @Test
    void anObjectiveParamSetTwiceKeepsTheLast() {
        RunConfig c = RunConfigOverrides.apply(RunConfig.getDefaultInstance(), parse("sso.alpha=0.5", "*.alpha=0.7"), "sso");
        assertEquals(1, c.getObjectiveParamsCount());
        assertEquals(0.7, c.getObjectiveParamsOrThrow("alpha"));
    }

    @Test
    void sharedSettingsOnlyForEveryMethod() {
        RunConfig c = RunConfigOverrides.apply(RunConfig.getDefaultInstance(), parse("*.eval_queries=40", "*.world_seed=2"), "osp");
        assertEquals(40, c.getEvalQueries());
        assertEquals(2, c.getWorldSeed());
    }

    @Test
    void badSettingsAreRefusedWithTheirReason() {
        assertRefused("sso.seed=1", "command's own options");
        assertRefused("sso.prompts_per_iteration=3", "command's own options");
        assertRefused("pbaa.eval_queries=40", "same for every method");
        assertRefused("*.skip_evaluation=true", "needs its evaluations");
        assertRefused("tso.batch_size=4", "not one of --methods");
        assertRefused("batch_size=4", "METHOD.KEY=VALUE");
        assertRefused("sso.batch_size", "METHOD.KEY=VALUE");
        assertRefused("sso.batch_size=abc", "batch_size: abc is not a int32 number");
        assertRefused("sso.nosuch.x=1", "RunConfig has no field nosuch");
        assertRefused("sso.osp.nosuch=1", "OspSettings has no field nosuch");
        assertRefused("sso.sampling=1", "sampling is a message");
        assertRefused("sso.batch_size.x=1", "not a message");
        assertRefused("sso.sso.no_weight=yes", "true or false");
        assertRefused("sso.alpha=high", "value: high is not a double number");
    }

    private static void assertRefused(String spec, String reason) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RunConfigOverrides.parse(spec, METHODS));
        assertTrue(e.getMessage().contains(reason), spec + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(spec.contains("=") ? spec.substring(0, spec.indexOf('=')) : spec), e.getMessage());
    }
}
