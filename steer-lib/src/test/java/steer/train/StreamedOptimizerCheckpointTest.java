package steer.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static steer.checkpoint.LoraConfig.Target.DOWN;
import static steer.checkpoint.LoraConfig.Target.Q;
import static steer.checkpoint.LoraConfig.Target.V;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HostTensor;
import steer.checkpoint.LoraConfig;
import steer.checkpoint.SafetensorsReader;
import steer.checkpoint.SafetensorsWriter;
import steer.model.Decoder;
import steer.model.LoraAdapter;
import steer.objective.Dpo;

/**
 * The optimizer's moments and the policy stream from native memory into a training checkpoint: the files are those
 * the whole-copy save wrote ({@link AdamW#exportState} and {@link Decoder#toHostTensors} turned into one list each),
 * byte for byte.
 */
class StreamedOptimizerCheckpointTest {

    @TempDir
    Path dir;

    private static float[] random(Random r, int n) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = r.nextFloat() * 2 - 1;
        }
        return out;
    }

    @Test
    void streamedMomentsAreTheWholeCopysBytesAndReadBack() throws IOException {
        Random r = new Random(3);
        try (NDManager m = NDManager.newBaseManager()) {
            // 600,000 values: three save pieces; the 2-D moment is written flat, as exportState flattens it
            NDArray embed = m.create(random(r, 600_000), new Shape(600, 1000));
            NDArray wqkv = m.create(random(r, 16 * 48), new Shape(16, 48));
            NDArray norm = m.create(random(r, 16), new Shape(16));
            AdamW optimizer = new AdamW(AdamWConfig.defaults(), List.of(Map.entry("embed", embed),
                    Map.entry("layers.0.wqkv", wqkv), Map.entry("final_norm", norm)));
            // moments for two of the three: a parameter never updated has none, and is not saved
            optimizer.importState(new AdamWState(7, Map.of("embed", random(r, 600_000), "final_norm", random(r, 16)),
                    Map.of("embed", random(r, 600_000), "final_norm", random(r, 16))));
            Path streamed = dir.resolve("streamed.safetensors");
            Path whole = dir.resolve("whole.safetensors");
            TrainerCheckpoint.saveOptimizer(streamed, optimizer);
            WholeMomentFile.write(whole, optimizer);
            assertArrayEquals(Files.readAllBytes(whole), Files.readAllBytes(streamed));

            Map<String, HostTensor> back = SafetensorsReader.read(streamed);
            assertEquals(List.of("m.embed", "m.final_norm", "v.embed", "v.final_norm"), new ArrayList<>(back.keySet()));
            AdamWState s = optimizer.exportState();
            assertArrayEquals(s.secondMoments().get("embed"), back.get("v.embed").data(), 0f);
            assertArrayEquals(s.firstMoments().get("final_norm"), back.get("m.final_norm").data(), 0f);
        }
    }

    @Test
    void aTrainerCheckpointHoldsTheWholeSavesFiles() throws IOException {
        Path model = TinyModels.write(dir.resolve("model"), 3);
        DecoderConfig c = TinyModels.config();
        try (Decoder policy = Decoder.fromHostTensors(c, TinyModels.randomTensors(c, 3), NDManager.newBaseManager());
             Decoder reference = Decoder.fromHostTensors(c, TinyModels.randomTensors(c, 3), NDManager.newBaseManager())) {
            PolicyTrainer trainer = new PolicyTrainer(policy, Dpo.defaults(), TrainingConfig.defaults(1e-3, 10))
                    .frozenReference(reference);
            trainer.step(PolicyTrainerTest.patternPairs(4, 1));
            Path ckpt = dir.resolve("checkpoints").resolve(TrainerCheckpoint.name(1));
            TrainerCheckpoint.save(ckpt, policy, trainer.optimizer(),
                    new TrainerCheckpoint.State(1, 0, 4, new ObjectMapper().createObjectNode()), model);

            Path whole = dir.resolve("whole");
            HfCheckpoint.save(whole, c, policy.toHostTensors());
            WholeMomentFile.write(whole.resolve(TrainerCheckpoint.OPTIMIZER_FILE), trainer.optimizer());
            for (String file : List.of(SafetensorsReader.SINGLE_FILE, "config.json", TrainerCheckpoint.OPTIMIZER_FILE)) {
                assertArrayEquals(Files.readAllBytes(whole.resolve(file)), Files.readAllBytes(ckpt.resolve(file)), file);
            }
            assertEquals(trainer.optimizer().stepCount(), TrainerCheckpoint.loadOptimizer(ckpt).step());

            Path model2 = dir.resolve("final");
            TrainerCheckpoint.saveModel(model2, policy, model);
            assertArrayEquals(Files.readAllBytes(whole.resolve(SafetensorsReader.SINGLE_FILE)),
                    Files.readAllBytes(model2.resolve(SafetensorsReader.SINGLE_FILE)));
        }
    }

    @Test
    void anAdapterCheckpointsMomentsAreTheWholeCopysBytes() throws IOException {
        Path model = TinyModels.write(dir.resolve("model"), 4);
        DecoderConfig c = TinyModels.config();
        try (Decoder base = Decoder.fromHostTensors(c, TinyModels.randomTensors(c, 4), NDManager.newBaseManager());
             Decoder policy = base.withAdapter(LoraAdapter.initialise(c, new LoraConfig(2, 4, EnumSet.of(Q, V, DOWN), 0,
                     null), 0, base.manager().newSubManager(), DataType.FLOAT32))) {
            PolicyTrainer trainer = new PolicyTrainer(policy, Dpo.defaults(), TrainingConfig.defaults(1e-2, 10))
                    .frozenReference(base);
            trainer.step(PolicyTrainerTest.patternPairs(4, 2));
            Path ckpt = dir.resolve(TrainerCheckpoint.name(1));
            AdapterCheckpoint.save(ckpt, policy.adapter(), trainer.optimizer(),
                    new TrainerCheckpoint.State(1, 0, 4, new ObjectMapper().createObjectNode()), model);
            Path whole = dir.resolve("whole.safetensors");
            WholeMomentFile.write(whole, trainer.optimizer());
            assertArrayEquals(Files.readAllBytes(whole), Files.readAllBytes(ckpt.resolve(TrainerCheckpoint.OPTIMIZER_FILE)));
            assertEquals(trainer.optimizer().exportState().firstMoments().keySet(),
                    AdapterCheckpoint.load(ckpt, c).optimizer().firstMoments().keySet());
        }
    }

    /**
     * A resume reads the moments one parameter at a time ({@link TrainerCheckpoint#openOptimizer}): the optimizer
     * then holds exactly what the whole read gives, and a file whose moments do not pair up, or a state naming an
     * unknown parameter, is refused with the old moments kept.
     */
    @Test
    void momentsReadOneParameterAtATimeImportAsTheWholeReadDoes() throws IOException {
        Path model = TinyModels.write(dir.resolve("model"), 5);
        DecoderConfig c = TinyModels.config();
        try (Decoder policy = Decoder.fromHostTensors(c, TinyModels.randomTensors(c, 5), NDManager.newBaseManager());
             Decoder reference = Decoder.fromHostTensors(c, TinyModels.randomTensors(c, 5), NDManager.newBaseManager());
             Decoder other = Decoder.fromHostTensors(c, TinyModels.randomTensors(c, 5), NDManager.newBaseManager())) {
            PolicyTrainer trainer = new PolicyTrainer(policy, Dpo.defaults(), TrainingConfig.defaults(1e-3, 10))
                    .frozenReference(reference);
            trainer.step(PolicyTrainerTest.patternPairs(4, 1));
            trainer.step(PolicyTrainerTest.patternPairs(4, 2));
            Path ckpt = dir.resolve(TrainerCheckpoint.name(2));
            TrainerCheckpoint.save(ckpt, policy, trainer.optimizer(),
                    new TrainerCheckpoint.State(2, 0, 8, new ObjectMapper().createObjectNode()), model);

            AdamW streamed = new AdamW(AdamWConfig.defaults(), other.parameters());
            streamed.importState(TrainerCheckpoint.openOptimizer(ckpt));
            AdamWState expected = TrainerCheckpoint.loadOptimizer(ckpt);
            AdamWState got = streamed.exportState();
            assertEquals(expected.step(), got.step());
            assertEquals(expected.firstMoments().keySet(), got.firstMoments().keySet());
            for (String name : expected.firstMoments().keySet()) {
                assertArrayEquals(expected.firstMoments().get(name), got.firstMoments().get(name), 0f, name);
                assertArrayEquals(expected.secondMoments().get(name), got.secondMoments().get(name), 0f, name);
            }

            // a v. moment missing: refused when opened, naming the file
            Path file = ckpt.resolve(TrainerCheckpoint.OPTIMIZER_FILE);
            Map<String, HostTensor> all = SafetensorsReader.read(file);
            String dropped = all.keySet().stream().filter(n -> n.startsWith("v.")).findFirst().orElseThrow();
            all.remove(dropped);
            SafetensorsWriter.write(file, new ArrayList<>(all.values()));
            steer.checkpoint.CheckpointException bad = org.junit.jupiter.api.Assertions.assertThrows(
                    steer.checkpoint.CheckpointException.class, () -> TrainerCheckpoint.openOptimizer(ckpt));
            org.junit.jupiter.api.Assertions.assertTrue(bad.getMessage().contains(TrainerCheckpoint.OPTIMIZER_FILE)
                    && bad.getMessage().contains("name different parameters"), bad.getMessage());

            // a state for another model: refused, and the optimizer keeps what it had
            AdamWState foreign = new AdamWState(9, Map.of("embed", got.firstMoments().get("embed"), "nope",
                    new float[] {1}), Map.of("embed", got.secondMoments().get("embed"), "nope", new float[] {1}));
            org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> streamed.importState(foreign));
            assertEquals(expected.step(), streamed.stepCount());
            assertArrayEquals(expected.secondMoments().get("embed"), streamed.exportState().secondMoments().get("embed"),
                    0f);
        }
    }
}
