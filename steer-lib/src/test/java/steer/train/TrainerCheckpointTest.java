package steer.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.CheckpointException;
import steer.checkpoint.HostTensor;
import steer.model.Decoder;
import steer.objective.Dpo;

class TrainerCheckpointTest {

    @TempDir
    Path dir;

    @Test
    void roundTripRestoresWeightsMomentsAndPosition() {
        Path model = TinyModels.write(dir.resolve("model"), 3);
        try (Decoder policy = Decoder.fromHostTensors(TinyModels.config(), TinyModels.randomTensors(TinyModels.config(), 3),
                NDManager.newBaseManager());
             Decoder reference = Decoder.fromHostTensors(TinyModels.config(), TinyModels.randomTensors(TinyModels.config(), 3),
                     NDManager.newBaseManager())) {
            PolicyTrainer trainer = new PolicyTrainer(policy, Dpo.defaults(), TrainingConfig.defaults(1e-3, 10))
                    .frozenReference(reference);
            trainer.step(PolicyTrainerTest.patternPairs(4, 1));
            Path ckpt = dir.resolve("checkpoints").resolve(TrainerCheckpoint.name(1));
            TrainerCheckpoint.save(ckpt, policy, trainer.optimizer(),
                    new TrainerCheckpoint.State(1, 0, 4, new ObjectMapper().createObjectNode().put("objective", "dpo")), model);
            TrainerCheckpoint.Loaded loaded = TrainerCheckpoint.load(ckpt);
            assertEquals(1, loaded.state().step());
            assertEquals(4, loaded.state().position());
            assertEquals("dpo", loaded.state().settings().get("objective").asText());
            Map<String, HostTensor> weights = policy.toHostTensors();
            for (String name : weights.keySet()) {
                assertArrayEquals(weights.get(name).data(), loaded.model().tensors().get(name).data(), 0f, name);
            }
            assertEquals(trainer.optimizer().exportState().firstMoments().keySet(), loaded.optimizer().firstMoments().keySet());
            for (String name : loaded.optimizer().firstMoments().keySet()) {
                assertArrayEquals(trainer.optimizer().exportState().secondMoments().get(name),
                        loaded.optimizer().secondMoments().get(name), 0f, name);
            }
            assertTrue(Files.exists(ckpt.resolve("tokenizer.json")), "the checkpoint is a usable model directory");
        }
    }

    @Test
    void aHalfWrittenCheckpointIsNeverTakenForTheLatest() throws Exception {
        Path checkpoints = dir.resolve("checkpoints");
        Path complete = Files.createDirectories(checkpoints.resolve(TrainerCheckpoint.name(10)));
        Files.writeString(complete.resolve(TrainerCheckpoint.STATE_FILE), "{}");
        // a crash while writing step 20 leaves its temporary directory, with some files already in it
        Path partial = Files.createDirectories(checkpoints.resolve("." + TrainerCheckpoint.name(20) + ".tmp-4242"));
        Files.writeString(partial.resolve("config.json"), "{}");
        Files.writeString(partial.resolve(TrainerCheckpoint.STATE_FILE), "{}");
        // and a directory under a final name without its state file is not complete either
        Files.createDirectories(checkpoints.resolve(TrainerCheckpoint.name(30)));
        assertEquals(List.of(complete), TrainerCheckpoint.latest(checkpoints).stream().toList());
    }

    @Test
    void aCorruptStateFileIsAClearError() throws Exception {
        Path model = TinyModels.write(dir.resolve("m"), 1);
        Files.writeString(model.resolve(TrainerCheckpoint.STATE_FILE), "{\"step\": 3}");
        CheckpointException e = assertThrows(CheckpointException.class, () -> TrainerCheckpoint.load(model));
        assertTrue(e.getMessage().contains(TrainerCheckpoint.STATE_FILE) && e.getMessage().contains("optimizer_step"),
                e.getMessage());
    }
}
