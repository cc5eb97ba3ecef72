package steer.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HostTensor;
import steer.checkpoint.LoraCheckpoint;
import steer.checkpoint.LoraConfig;
import steer.checkpoint.SafetensorsReader;
import steer.data.PreferencePair;
import steer.model.Decoder;
import steer.model.LoraAdapter;
import steer.objective.Dpo;

/** Training a LoRA adapter: only its matrices learn and hold optimizer state; runs checkpoint and resume it. */
class LoraTrainingTest {

    @TempDir
    Path dir;

    private static final Set<LoraConfig.Target> ALL = EnumSet.allOf(LoraConfig.Target.class);

    @Test
    void onlyTheAdapterLearnsAndTheFrozenBaseIsTheReference() {
        DecoderConfig c = TinyModels.config();
        Map<String, HostTensor> init = TinyModels.randomTensors(c, 1);
        List<PreferencePair> train = PolicyTrainerTest.patternPairs(64, 2);
        List<PreferencePair> heldOut = PolicyTrainerTest.patternPairs(32, 3);
        try (Decoder base = Decoder.fromHostTensors(c, init, NDManager.newBaseManager());
             Decoder policy = base.withAdapter(LoraAdapter.initialise(c, new LoraConfig(4, 8, ALL, 0, null), 0,
                     base.manager().newSubManager(), DataType.FLOAT32))) {
            double before = PolicyTrainerTest.accuracyAndMargin(policy, base, heldOut)[1];
            PolicyTrainer trainer = new PolicyTrainer(policy, Dpo.defaults(), new TrainingConfig(
                    AdamWConfig.defaults().withLr(1e-2), new LearningRateSchedule(3, 30, 0.1), 1.0, 16))
                    .frozenReference(base);
            for (int step = 0; step < 30; step++) {
                trainer.step(train.subList((step % 4) * 16, (step % 4) * 16 + 16));
            }
            double[] after = PolicyTrainerTest.accuracyAndMargin(policy, base, heldOut);
            assertTrue(after[0] > 0.9, "held-out preference accuracy " + after[0]);
            assertTrue(after[1] > before + 1.0, "held-out margin " + before + " -> " + after[1]);
            for (Map.Entry<String, HostTensor> w : base.toHostTensors().entrySet()) {
                assertArrayEquals(init.get(w.getKey()).data(), w.getValue().data(), "frozen " + w.getKey() + " changed");
            }
            for (Map.Entry<String, NDArray> w : base.parameters()) {
                assertFalse(w.getValue().hasGradient(), w.getKey() + " records a gradient");
            }
            Set<String> adapterNames = policy.adapter().parameters().stream().map(Map.Entry::getKey)
                    .collect(Collectors.toSet());
            assertEquals(adapterNames, trainer.optimizer().exportState().firstMoments().keySet());
        }
    }

    /** Leak check: over many LoRA steps the arrays on the base's and the adapter's managers stay as they were. */
    @Test
    void managersStayFlatOverLoraSteps() {
        DecoderConfig c = TinyModels.config();
        List<PreferencePair> train = PolicyTrainerTest.patternPairs(8, 2);
        NDManager adapterManager;
        try (Decoder base = Decoder.fromHostTensors(c, TinyModels.randomTensors(c, 1), NDManager.newBaseManager());
             Decoder policy = base.withAdapter(LoraAdapter.initialise(c, new LoraConfig(2, 4, ALL, 0, null), 0,
                     adapterManager = base.manager().newSubManager(), DataType.FLOAT32))) {
            PolicyTrainer trainer = new PolicyTrainer(policy, Dpo.defaults(), new TrainingConfig(
                    AdamWConfig.defaults().withLr(1e-3), new LearningRateSchedule(0, 200, 0.1), 1.0, 4))
                    .frozenReference(base);
            trainer.step(train);
            int baseArrays = base.manager().getManagedArrays().size(), adapterArrays = adapterManager.getManagedArrays().size();
            for (int step = 0; step < 100; step++) {
                trainer.step(train);
            }
            assertEquals(baseArrays, base.manager().getManagedArrays().size(), "arrays on the base's manager");
            assertEquals(adapterArrays, adapterManager.getManagedArrays().size(), "arrays on the adapter's manager");
            // A and B per target per layer, their two moments each, and the scale
            assertEquals(2 * 7 * c.numLayers() * 3 + 1, adapterArrays);
        }
    }

    /** A LoRA run stopped and resumed ends with the adapter of a run that never stopped; outputs are PEFT adapters. */
    @Test
    void aResumedLoraRunEqualsAnUninterruptedOneAndWritesAdapters() throws Exception {
        Path model = TinyModels.write(dir.resolve("model"), 4);
        List<PreferencePair> data = PolicyTrainerTest.patternPairs(24, 5);
        LoraConfig lora = new LoraConfig(2, 4, EnumSet.of(LoraConfig.Target.Q, LoraConfig.Target.V,
                LoraConfig.Target.DOWN), 0, null);
        TrainingConfig config = new TrainingConfig(AdamWConfig.defaults().withLr(1e-2),
                new LearningRateSchedule(1, 6, 0.1), 1.0, 4);
        Path whole = dir.resolve("whole"), parts = dir.resolve("parts");
        TrainingRun.run(spec(model, whole, config, lora, 0), data, false, r -> { });
        TrainingRun.run(spec(model, parts, config, lora, 2), data, false, r -> { });
        List<PolicyTrainer.StepResult> rest = TrainingRun.run(spec(model, parts, config, lora, 0), data, true, r -> { });
        assertEquals(4, rest.size());

        DecoderConfig c = TinyModels.config();
        LoraCheckpoint a = LoraCheckpoint.load(whole, c), b = LoraCheckpoint.load(parts, c);
        for (HostTensor t : a.tensors().values()) {
            assertArrayEquals(t.data(), b.tensors().get(t.name()).data(), t.name());
        }
        assertEquals(model.toAbsolutePath().normalize().toString(), a.config().baseModel());
        assertTrue(Files.exists(whole.resolve("tokenizer.json")));
        assertFalse(Files.exists(whole.resolve("model.safetensors")), "a LoRA run writes no full model");
        Path checkpoint = whole.resolve("checkpoints").resolve(TrainerCheckpoint.name(6));
        assertTrue(Files.exists(checkpoint.resolve(LoraCheckpoint.WEIGHTS_FILE)));
        Set<String> moments = new HashSet<>();
        for (String name : SafetensorsReader.read(checkpoint.resolve(TrainerCheckpoint.OPTIMIZER_FILE)).keySet()) {
            moments.add(name.substring(2));
        }
        assertEquals(2L * 3 * c.numLayers(), moments.size(), "moments of A and B per target and layer: " + moments);
        assertTrue(moments.stream().allMatch(n -> n.contains(".lora_")), moments.toString());
        assertEquals(6, TrainerCheckpoint.loadState(checkpoint).step());
    }

    /** The preference benchmark trains the adapter alone with LoRA and every weight without; both step. */
    @Test
    void preferenceBenchmarkMeasuresLoraAndFullFineTuning() {
        DecoderConfig c = TinyModels.config();
        LoraConfig lora = new LoraConfig(4, 8, ALL, 0, null);
        TrainingBenchmark.PreferenceResult adapter = TrainingBenchmark.measurePreference(c,
                () -> TinyModels.randomTensors(c, 2), lora, 2, 16, 1, 1, 1);
        TrainingBenchmark.PreferenceResult full = TrainingBenchmark.measurePreference(c,
                () -> TinyModels.randomTensors(c, 2), null, 2, 16, 2, 1, 1);
        long expected = 0;
        for (LoraConfig.Target t : ALL) {
            expected += 4L * (t.in(c) + t.out(c)) * c.numLayers();
        }
        assertEquals(expected, adapter.trainable());
        assertEquals(full.parameters(), full.trainable());
        assertEquals(2 * 2 * 16, adapter.tokens());
        assertTrue(adapter.tokensPerSecond() > 0 && full.tokensPerSecond() > 0);
    }

    private static TrainingRun.Spec spec(Path model, Path out, TrainingConfig config, LoraConfig lora, long stopAfter) {
        return new TrainingRun.Spec(model, out, Dpo.defaults(), config, 4, 1, 0, 2, stopAfter, 7, false,
                new ObjectMapper().createObjectNode(), lora);
    }
}
