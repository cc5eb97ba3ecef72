package steer.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.data.SsoExample;
import steer.model.DecoderInit;
import steer.objective.ObjectiveFactory;
import steer.store.CheckpointStore;
import steer.store.StoredCheckpoint;
import steer.tokenizer.Tokenizer;
import steer.world.Feature;
import steer.world.Responses;
import steer.world.Task;
import steer.world.TaskGenerator;
import steer.world.TinyWorldModel;
import steer.world.WorldVocabulary;

class OnlineTrainerTest {

    static final int PER_ITERATION = 3;

    @TempDir
    static Path base;
    static List<OnlineTrainer.Batch> batches;

    @BeforeAll
    static void tinyWorldModelAndTwoIterationsOfSsoBatches() {
        WorldVocabulary.writeTokenizer(base);
        try (Tokenizer t = Tokenizer.load(base)) {
            DecoderConfig c = TinyWorldModel.SIZE.config(t.vocabSize());
            HfCheckpoint.save(base, c, new DecoderInit(0.5, false).tensors(c, 3));
            ExampleEncoder encoder = ExampleEncoder.forModel(t, c);
            Random r = new Random(11);
            batches = new ArrayList<>();
            for (int it = 0; it < 2; it++) {
                for (int i = 0; i < PER_ITERATION; i++) {
                    List<SsoExample> examples = List.of(ssoExample(encoder, r), ssoExample(encoder, r));
                    batches.add(new OnlineTrainer.Batch("run-a", it, "it" + it + "-b" + i, it,
                            ObjectiveFactory.create("sso", Map.of()), i, PER_ITERATION, 0, 0, examples));
                }
            }
        }
    }

    static SsoExample ssoExample(ExampleEncoder encoder, Random r) {
        Task task = TaskGenerator.defaults().sample(r);
        List<Feature> accuracy = List.of(Feature.ACCURACY);
        String right = Responses.wellFormed(task.answer());
        String wrong = Responses.wellFormed(Responses.wrongAnswer(task, r));
        return encoder.sso(task.query(), Feature.positivePrompt(task, accuracy), Feature.negativePrompt(task, accuracy),
                right, wrong, r.nextBoolean() ? right : wrong);
    }

    static OnlineTrainer.Settings settings(Path root) {
        return new OnlineTrainer.Settings(base, root.resolve("state"), new CheckpointStore(root.resolve("store")), null,
                AdamWConfig.defaults().withLr(2e-4), 1.0, 32, 1);
    }

    @Test
    void trainsEachBatchOnceWritesAVersionPerIterationAndResumesBitForBit(@TempDir Path a, @TempDir Path b)
            throws Exception {
        try (OnlineTrainer uninterrupted = OnlineTrainer.open(settings(a))) {
            for (OnlineTrainer.Batch batch : batches) {
                OnlineTrainer.Outcome o = uninterrupted.train(batch);
                Optional<StoredCheckpoint> c = assertInstanceOf(OnlineTrainer.Trained.class, o).checkpoint();
                boolean last = batch.batchIndex() == PER_ITERATION - 1;
                assertEquals(last, c.isPresent(), batch.batchId());
                if (last) {
                    assertEquals(batch.iteration() + 1, c.get().version());
                    assertEquals(PER_ITERATION, c.get().metrics().get("steps"));
                    assertTrue(c.get().metrics().containsKey("sso_weight"));
                }
                uninterrupted.saveState();
            }
            OnlineTrainer.Status s = uninterrupted.status();
            assertEquals(6, s.step());
            assertEquals(2, s.checkpointVersion());
            assertEquals("run-a", s.runId());
        }

        // the same batches with two crashes: one after an iteration's version was written but before the save,
        // one after a plain step before its save; and a duplicate delivery after a save
        OnlineTrainer t = OnlineTrainer.open(settings(b));
        for (int i = 0; i < PER_ITERATION; i++) {
            t.train(batches.get(i));
            if (i < PER_ITERATION - 1) {
                t.saveState();
            }
        }
        t.close();
        t = OnlineTrainer.open(settings(b));
        assertEquals(PER_ITERATION - 1, t.status().step(), "the unsaved step is lost with the crash");
        OnlineTrainer.Outcome replay = t.train(batches.get(PER_ITERATION - 1));
        assertEquals(1, assertInstanceOf(OnlineTrainer.Trained.class, replay).checkpoint().orElseThrow().version(),
                "the version written before the crash is reused");
        t.saveState();
        assertInstanceOf(OnlineTrainer.Duplicate.class, t.train(batches.get(0)));
        t.train(batches.get(PER_ITERATION));
        t.close();
        t = OnlineTrainer.open(settings(b));
        for (OnlineTrainer.Batch batch : batches.subList(PER_ITERATION, batches.size())) {
            t.train(batch);
            t.saveState();
        }
        assertEquals(6, t.status().step());
        assertEquals(batches.stream().map(OnlineTrainer.Batch::batchId).toList(), t.trainedBatchIds());
        t.close();

        CheckpointStore storeA = new CheckpointStore(a.resolve("store"));
        CheckpointStore storeB = new CheckpointStore(b.resolve("store"));
        assertEquals(List.of(1L, 2L), storeB.versions("run-a"));
        for (long v = 1; v <= 2; v++) {
            assertArrayEquals(Files.readAllBytes(storeA.location("run-a", v).resolve("model.safetensors")),
                    Files.readAllBytes(storeB.location("run-a", v).resolve("model.safetensors")), "version " + v);
        }
    }

    @Test
    void refusesStaleForeignAndFuturePoliciesAndCountsThem(@TempDir Path root) {
        try (OnlineTrainer t = OnlineTrainer.open(settings(root))) {
            for (OnlineTrainer.Batch batch : batches) {
                t.train(batch);
            }
            assertEquals(2, t.status().checkpointVersion());
            OnlineTrainer.Batch template = batches.get(0);
            OnlineTrainer.Refused stale = assertInstanceOf(OnlineTrainer.Refused.class,
                    t.train(copy(template, "run-a", "late", 0)));
            assertEquals(OnlineTrainer.RefusalKind.STALE, stale.kind());
            assertTrue(stale.reason().contains("policy version 0") && stale.reason().contains("max-policy-staleness"),
                    stale.reason());
            assertEquals(OnlineTrainer.RefusalKind.OTHER_RUN, assertInstanceOf(OnlineTrainer.Refused.class,
                    t.train(copy(template, "run-b", "foreign", 2))).kind());
            assertEquals(OnlineTrainer.RefusalKind.UNKNOWN_POLICY, assertInstanceOf(OnlineTrainer.Refused.class,
                    t.train(copy(template, "run-a", "future", 3))).kind());
            // the whole of iteration 2 (one batch), sampled one version behind: allowed, and it completes the iteration
            assertEquals(3, assertInstanceOf(OnlineTrainer.Trained.class,
                    t.train(copy(template, "run-a", "one-behind", 1))).checkpoint().orElseThrow().version());
            OnlineTrainer.Status s = t.status();
            assertEquals(1, s.stale());
            assertEquals(2, s.refused());
            assertEquals(7, s.step());
            StoredCheckpoint requested = t.checkpointNow();
            assertEquals(4, requested.version());
            assertThrows(IllegalStateException.class, () -> OnlineTrainer.open(settings(root)),
                    "a second trainer on the same state directory");
        }
    }

    @Test
    void batchesAreCheckedWhenBuilt() {
        OnlineTrainer.Batch b = batches.get(0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new OnlineTrainer.Batch(
                b.runId(), 0, "x", 0, ObjectiveFactory.create("dpo", Map.of()), 0, 1, 0, 0, b.examples()));
        assertTrue(e.getMessage().contains("PreferencePair"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new OnlineTrainer.Batch(
                b.runId(), 0, "x", 0, b.objective(), 3, 3, 0, 0, b.examples()));
        assertTrue(e.getMessage().contains("batch_index"), e.getMessage());
    }

    private static OnlineTrainer.Batch copy(OnlineTrainer.Batch b, String run, String id, long policy) {
        return new OnlineTrainer.Batch(run, 2, id, policy, b.objective(), 0, 1, 0, 0, b.examples());
    }
}
