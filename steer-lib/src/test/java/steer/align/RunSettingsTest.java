package steer.align;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

class RunSettingsTest {

    static RunSettings minimal(String runId) {
        return new RunSettings(runId, "", 0, 0, 0, 0, 0, 0, 0, null, Map.of(), "", 0, false);
    }

    @Test
    void zeroValuesTakeThePapersDefaults() {
        RunSettings s = minimal("r1");
        assertEquals("sso", s.algorithm());
        assertEquals(3, s.iterations());
        assertEquals(500, s.promptsPerIteration());
        assertEquals(32, s.batchSize());
        assertEquals(0.0, s.learningRate());
        assertEquals(1, s.epochs());
        assertEquals(new SamplingSettings(32, 0.7, 0.8, 0, List.of()), s.sampling());
        assertEquals("rule", s.featureAllocation());
        assertEquals(500, s.evalQueries());
        // 3 iterations × ⌈500 / 32⌉ = 3 × 16
        assertEquals(48, s.plannedTotalSteps());
    }

    private static void rejects(String field, Supplier<Object> make) {
        InvalidSettingException e = assertThrows(InvalidSettingException.class, make::get);
        assertEquals(field, e.field());
        assertTrue(e.getMessage().startsWith(field + " "), e.getMessage());
    }

    @Test
    void everyOutOfRangeSettingIsNamed() {
        rejects("config.run_id", () -> minimal("has space"));
        rejects("config.run_id", () -> minimal("-leading-dash"));
        rejects("config.run_id", () -> minimal("x".repeat(65)));
        rejects("config.algorithm", () -> new RunSettings("r", "dpo", 0, 0, 0, 0, 0, 0, 0, null, null, "", 0, false));
        rejects("config.iterations", () -> new RunSettings("r", "", 21, 0, 0, 0, 0, 0, 0, null, null, "", 0, false));
        rejects("config.iterations", () -> new RunSettings("r", "", -1, 0, 0, 0, 0, 0, 0, null, null, "", 0, false));
        rejects("config.prompts_per_iteration",
                () -> new RunSettings("r", "", 0, 0, 0, 501, 0, 0, 0, null, null, "", 0, false));
        rejects("config.batch_size", () -> new RunSettings("r", "", 0, 0, 0, 0, -4, 0, 0, null, null, "", 0, false));
        rejects("config.learning_rate", () -> new RunSettings("r", "", 0, 0, 0, 0, 0, 0.5, 0, null, null, "", 0, false));
        rejects("config.learning_rate",
                () -> new RunSettings("r", "", 0, 0, 0, 0, 0, Double.NaN, 0, null, null, "", 0, false));
        rejects("config.epochs", () -> new RunSettings("r", "", 0, 0, 0, 0, 0, 0, 11, null, null, "", 0, false));
        rejects("config.feature_allocation",
                () -> new RunSettings("r", "", 0, 0, 0, 0, 0, 0, 0, null, null, "oracle", 0, false));
        rejects("config.eval_queries", () -> new RunSettings("r", "", 0, 0, 0, 0, 0, 0, 0, null, null, "", 600, false));
        rejects("config.objective_params[alpha]",
                () -> new RunSettings("r", "", 0, 0, 0, 0, 0, 0, 0, null, Map.of("alpha", 1.5), "", 0, false));
        rejects("config.objective_params[beta]",
                () -> new RunSettings("r", "", 0, 0, 0, 0, 0, 0, 0, null, Map.of("beta", 0.0), "", 0, false));
        rejects("config.objective_params[theta]", () -> new RunSettings("r", "", 0, 0, 0, 0, 0, 0, 0, null,
                Map.of("theta", Double.POSITIVE_INFINITY), "", 0, false));
        rejects("config.objective_params", () -> new RunSettings("r", "", 0, 0, 0, 0, 0, 0, 0, null,
                Map.of("Bad Key", 1.0), "", 0, false));
        rejects("config.sampling.temperature", () -> new SamplingSettings(0, 6.0, null, 0, null));
        rejects("config.sampling.top_p", () -> new SamplingSettings(0, null, 0.0, 0, null));
        rejects("config.sampling.max_new_tokens", () -> new SamplingSettings(-1, null, null, 0, null));
        rejects("config.sampling.top_k", () -> new SamplingSettings(0, null, null, -1, null));
        rejects("config.sampling.stop", () -> new SamplingSettings(0, null, null, 0, List.of("")));
    }

    @Test
    void objectiveParamsAreKeptSortedAndOnesTheObjectiveDoesNotReadAreRefusedAtStart() {
        RunSettings s = new RunSettings("r", "pbaa", 1, 0, 0, 0, 0, 1e-3, 0, null,
                Map.of("theta", 0.0, "alpha", 0.5, "gamma", 2.0), "model", 0, true);
        assertEquals(List.of("alpha", "gamma", "theta"), List.copyOf(s.objectiveParams().keySet()));
        assertEquals("pbaa", s.objectiveName());
        assertTrue(s.allocatesByModel());
        InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> new RunSettings("r", "pbaa", 1,
                0, 0, 0, 0, 1e-3, 0, null, Map.of("custom_knob", 2.0), "model", 0, true));
        assertEquals("config.objective_params", e.field());
        assertTrue(e.getMessage().contains("'custom_knob'"), e.getMessage());
    }

    @Test
    void loraSettingsTakePeftsDefaultsAreNamedWhenWrongAndSurviveTheStateFile(@org.junit.jupiter.api.io.TempDir
                                                                              java.nio.file.Path dir) {
        steer.checkpoint.LoraConfig lora = RunSettings.lora(8, 0, List.of());
        assertEquals(8, lora.rank());
        assertEquals(8, lora.alpha(), "alpha 0 = PEFT's 8");
        assertEquals(steer.checkpoint.LoraConfig.DEFAULT_TARGETS, lora.targets());
        assertEquals(java.util.EnumSet.of(steer.checkpoint.LoraConfig.Target.Q, steer.checkpoint.LoraConfig.Target.DOWN),
                RunSettings.lora(4, 16, List.of("q", "down_proj")).targets());
        rejects("config.lora.rank", () -> RunSettings.lora(0, 8, List.of()));
        rejects("config.lora.rank", () -> RunSettings.lora(-2, 8, List.of()));
        rejects("config.lora.alpha", () -> RunSettings.lora(8, -1, List.of()));
        rejects("config.lora.targets", () -> RunSettings.lora(8, 8, List.of("q", "lm_head")));

        RunSettings m = minimal("r");
        RunSettings s = new RunSettings("r", "", 0, 0, 0, 0, 0, 0, 0, null, Map.of(), "", 0, false, "", null, lora);
        assertEquals(lora, s.lora());
        assertEquals(null, m.lora(), "no LoRA settings: full fine-tuning");
        // methods that load versions under names of their own have no base there for an adapter: refused at start
        rejects("config.lora", () -> new RunSettings("r", "self-rewarding", 0, 0, 0, 0, 0, 0, 0, null, Map.of(), "", 0,
                false, "", null, lora));
        rejects("config.lora", () -> new RunSettings("r", "tso", 1, 0, 0, 6, 4, 0, 0, null, Map.of(), "", 10, true, "",
                new steer.method.TsoMethod.Settings(0, 0, "", 0, "", 0, Map.of("large", "/l"), Map.of("small", "/s"),
                        Map.of(), Map.of(), "", "/e"), lora));
        new RunSettings("r", "osp", 0, 0, 0, 0, 0, 0, 0, null, Map.of(), "", 0, false, "", null, lora); // pinned judge
        RunStateStore store = new RunStateStore(dir);
        RunRecord run = RunRecord.start(s, 1);
        store.save(run);
        assertEquals(run, store.load("r").orElseThrow(), "a resumed run keeps its adapter's settings");
    }
}
