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
        return settings(root, null, OnlineTrainer.Settings.DEFAULT_MAX_LOADED_RUNS);
    }

    static OnlineTrainer.Settings settings(Path root, String runId, int maxLoadedRuns) {
        return new OnlineTrainer.Settings(base, root.resolve("state"), new CheckpointStore(root.resolve("store")),
                runId, AdamWConfig.defaults().withLr(2e-4), 1.0, 32, 1, maxLoadedRuns);
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
            OnlineTrainer.Refused unknownRun = assertInstanceOf(OnlineTrainer.Refused.class,
                    t.train(copy(template, "run-b", "foreign", 2)));
            assertEquals(OnlineTrainer.RefusalKind.UNKNOWN_POLICY, unknownRun.kind(), "a new run starts at version 0");
            assertTrue(unknownRun.reason().contains("run-b has not trained here"), unknownRun.reason());
            assertEquals(List.of("run-a"), t.runs().stream().map(OnlineTrainer.Status::runId).toList(),
                    "a refused batch makes no run");
            assertEquals(OnlineTrainer.RefusalKind.UNKNOWN_POLICY, assertInstanceOf(OnlineTrainer.Refused.class,
                    t.train(copy(template, "run-a", "future", 3))).kind());
            // the whole of iteration 2 (one batch), sampled one version behind: allowed, and it completes the iteration
            assertEquals(3, assertInstanceOf(OnlineTrainer.Trained.class,
                    t.train(copy(template, "run-a", "one-behind", 1))).checkpoint().orElseThrow().version());
            OnlineTrainer.Status s = t.status();
            assertEquals(1, s.stale());
            assertEquals(2, s.refused());
            assertEquals(7, s.step());
            // a requested snapshot is no version: the run's sequence stays where its iterations put it
            steer.store.StoredSnapshot requested = t.snapshot();
            assertEquals(7, requested.step());
            assertEquals(3, requested.basedOnVersion());
            assertEquals(3, t.status().checkpointVersion());
            assertEquals(List.of(1L, 2L, 3L), new CheckpointStore(root.resolve("store")).versions("run-a"));
            assertTrue(Files.isRegularFile(requested.location().resolve("model.safetensors")));
            assertThrows(IllegalStateException.class, () -> OnlineTrainer.open(settings(root)),
                    "a second trainer on the same state directory");
        }
    }

    @Test
    void twoRunsBackToBackGetTheirOwnVersionsAndTrainAsIfAlone(@TempDir Path alone, @TempDir Path shared)
            throws Exception {
        trainAll(alone, batches, 2);
        List<OnlineTrainer.Batch> both = new ArrayList<>(batches);
        both.addAll(relabel(batches, "run-b"));
        try (OnlineTrainer t = OnlineTrainer.open(settings(shared, null, 1))) {
            for (OnlineTrainer.Batch batch : both) {
                assertInstanceOf(OnlineTrainer.Trained.class, t.train(batch));
                t.saveState();
            }
            assertEquals(2, t.modelLoads());
            OnlineTrainer.Status s = t.status();
            assertEquals("run-b", s.runId(), "the run of the last trained batch");
            assertEquals(6, s.step());
            assertEquals(6, s.trained());
            assertEquals(List.of("run-a", "run-b"), t.runs().stream().map(OnlineTrainer.Status::runId).toList());
            OnlineTrainer.Status a = t.runs().get(0);
            assertEquals(6, a.step());
            assertEquals(2, a.checkpointVersion());
            assertEquals(false, a.loaded(), "one live run at most: run-a was unloaded for run-b");
            assertEquals(ids(relabel(batches, "run-b")), t.trainedBatchIds("run-b"));
        }
        // run-b trained the same batches from the same base model as run-a: the same weights, bit for bit, as a
        // trainer that never saw another run
        assertSameVersions(alone, "run-a", shared, "run-a", 2);
        assertSameVersions(alone, "run-a", shared, "run-b", 2);
        assertTrue(Files.isDirectory(shared.resolve("state/runs/run-a/states")));
        assertTrue(Files.isDirectory(shared.resolve("state/runs/run-b/states")));
    }

    @Test
    void interleavedRunsTrainAsIfAloneWithOneOrTwoLiveModels(@TempDir Path alone, @TempDir Path one,
                                                              @TempDir Path two) throws Exception {
        trainAll(alone, batches, 2);
        List<OnlineTrainer.Batch> b = relabel(batches, "run-b");
        List<OnlineTrainer.Batch> interleaved = new ArrayList<>();
        for (int i = 0; i < batches.size(); i++) {
            interleaved.add(batches.get(i));
            interleaved.add(b.get(i));
        }
        assertEquals(interleaved.size(), trainAll(one, interleaved, 1), "one live run: a load per batch");
        assertEquals(2, trainAll(two, interleaved, 2), "two live runs: each loaded once");
        for (Path root : List.of(one, two)) {
            assertSameVersions(alone, "run-a", root, "run-a", 2);
            assertSameVersions(alone, "run-a", root, "run-b", 2);
        }
    }

    @Test
    void aRestartInTheSecondRunContinuesItAndKeepsTheFirstRunsLedger(@TempDir Path alone, @TempDir Path root)
            throws Exception {
        trainAll(alone, batches, 2);
        List<OnlineTrainer.Batch> b = relabel(batches, "run-b");
        OnlineTrainer t = OnlineTrainer.open(settings(root, null, 2));
        for (OnlineTrainer.Batch batch : batches) {
            t.train(batch);
            t.saveState();
        }
        for (int i = 0; i < 4; i++) {
            t.train(b.get(i));
            if (i < 3) {
                t.saveState();
            }
        }
        t.close(); // a crash: run-b's fourth step was never saved

        t = OnlineTrainer.open(settings(root, null, 2));
        assertEquals("run-b", t.status().runId(), "the run saved last");
        assertEquals(3, t.status().step());
        assertEquals(0, t.modelLoads(), "ledgers only: models load when their run trains");
        assertInstanceOf(OnlineTrainer.Duplicate.class, t.train(batches.get(1)));
        assertEquals(0, t.modelLoads(), "a duplicate is known from the ledger alone");
        assertInstanceOf(OnlineTrainer.Duplicate.class, t.train(b.get(2)));
        for (OnlineTrainer.Batch batch : b.subList(3, b.size())) {
            assertInstanceOf(OnlineTrainer.Trained.class, t.train(batch));
            t.saveState();
        }
        assertEquals(1, t.modelLoads());
        assertEquals(ids(b), t.trainedBatchIds("run-b"));
        assertEquals(ids(batches), t.trainedBatchIds("run-a"));
        assertEquals(6, t.status().step());
        assertEquals(1, t.runs().get(0).duplicate());
        t.close();
        assertSameVersions(alone, "run-a", root, "run-b", 2);
    }

    @Test
    void aSingleRunStateMovesUnderItsRunAndContinues(@TempDir Path alone, @TempDir Path root) throws Exception {
        trainAll(alone, batches, 2);
        try (OnlineTrainer t = OnlineTrainer.open(settings(root, null, 2))) {
            for (OnlineTrainer.Batch batch : batches.subList(0, 2)) {
                t.train(batch);
                t.saveState();
            }
        }
        // the layout of a trainer that served one run: states/ at the top of the state directory
        Path state = root.resolve("state");
        Files.move(state.resolve("runs/run-a/states"), state.resolve("states"));
        Files.delete(state.resolve("runs/run-a"));
        try (OnlineTrainer t = OnlineTrainer.open(settings(root, null, 2))) {
            assertEquals(2, t.status().step());
            assertTrue(Files.isDirectory(state.resolve("runs/run-a/states")) && !Files.exists(state.resolve("states")));
            for (OnlineTrainer.Batch batch : batches.subList(2, batches.size())) {
                assertInstanceOf(OnlineTrainer.Trained.class, t.train(batch));
                t.saveState();
            }
        }
        assertSameVersions(alone, "run-a", root, "run-a", 2);
    }

    @Test
    void aTrainerForOneRunRefusesOthersAndIgnoresTheirState(@TempDir Path root) {
        try (OnlineTrainer t = OnlineTrainer.open(settings(root, null, 2))) {
            t.train(relabel(batches, "run-b").get(0));
            t.saveState();
        }
        try (OnlineTrainer t = OnlineTrainer.open(settings(root, "run-a", 2))) {
            assertEquals("run-a", t.status().runId());
            assertEquals(0, t.status().step());
            assertTrue(t.runs().isEmpty(), "run-b's state is not this trainer's business");
            OnlineTrainer.Refused r = assertInstanceOf(OnlineTrainer.Refused.class,
                    t.train(relabel(batches, "run-b").get(1)));
            assertEquals(OnlineTrainer.RefusalKind.OTHER_RUN, r.kind());
            assertTrue(r.reason().contains("steer.trainer.run-id"), r.reason());
            assertEquals(1, t.status().refused());
            assertInstanceOf(OnlineTrainer.Trained.class, t.train(batches.get(0)));
        }
        assertThrows(IllegalArgumentException.class, () -> settings(root, "../escape", 2));
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
        e = assertThrows(IllegalArgumentException.class, () -> new OnlineTrainer.Batch(
                "a/../../b", 0, "x", 0, b.objective(), 0, 1, 0, 0, b.examples()));
        assertTrue(e.getMessage().startsWith("run_id:"), e.getMessage());
    }

    /** Trains every batch, saving after each as the service does; returns how many times a model was loaded. */
    private static long trainAll(Path root, List<OnlineTrainer.Batch> list, int maxLoadedRuns) {
        try (OnlineTrainer t = OnlineTrainer.open(settings(root, null, maxLoadedRuns))) {
            for (OnlineTrainer.Batch batch : list) {
                assertInstanceOf(OnlineTrainer.Trained.class, t.train(batch), batch.batchId());
                t.saveState();
            }
            return t.modelLoads();
        }
    }

    private static void assertSameVersions(Path rootA, String runA, Path rootB, String runB, long versions)
            throws Exception {
        CheckpointStore a = new CheckpointStore(rootA.resolve("store"));
        CheckpointStore b = new CheckpointStore(rootB.resolve("store"));
        assertEquals(a.versions(runA), b.versions(runB));
        assertEquals(versions, b.versions(runB).size());
        for (long v = 1; v <= versions; v++) {
            assertEquals(a.read(runA, v).step(), b.read(runB, v).step(), "steps of version " + v);
            assertArrayEquals(Files.readAllBytes(a.location(runA, v).resolve("model.safetensors")),
                    Files.readAllBytes(b.location(runB, v).resolve("model.safetensors")),
                    runA + " vs " + runB + " version " + v);
        }
    }

    /** The same batches for another run (same ids, examples and positions). */
    static List<OnlineTrainer.Batch> relabel(List<OnlineTrainer.Batch> list, String run) {
        return list.stream().map(b -> new OnlineTrainer.Batch(run, b.iteration(), b.batchId(), b.policyVersion(),
                b.objective(), b.batchIndex(), b.batchesInIteration(), b.learningRate(), b.totalSteps(),
                b.examples())).toList();
    }

    /** A batch of the second iteration (sampled by version 1) with its reference and the run's staleness bound. */
    private static OnlineTrainer.Batch secondIteration(int i, long reference, int staleness) {
        OnlineTrainer.Batch b = batches.get(PER_ITERATION + i);
        return new OnlineTrainer.Batch(b.runId(), b.iteration(), b.batchId(), b.policyVersion(), b.objective(),
                b.batchIndex(), b.batchesInIteration(), b.learningRate(), b.totalSteps(), b.examples(), reference,
                staleness);
    }

    @Test
    void aBatchIsMeasuredAgainstTheReferenceItNamesAndTheRunsOwnStalenessBoundApplies(@TempDir Path a,
                                                                                      @TempDir Path b) {
        double[] firstLoss = new double[2];
        long[] refs = {0, 1};
        Path[] roots = {a, b};
        for (int k = 0; k < 2; k++) {
            try (OnlineTrainer t = OnlineTrainer.open(settings(roots[k]))) {
                for (int i = 0; i < PER_ITERATION; i++) {
                    t.train(batches.get(i));
                }
                OnlineTrainer.Trained step = assertInstanceOf(OnlineTrainer.Trained.class,
                        t.train(secondIteration(0, refs[k], 1)));
                firstLoss[k] = step.step().loss();
                assertEquals((double) refs[k], t.status().lastMetrics().get("reference_version"));
                assertEquals(0.0, t.status().lastMetrics().get("policy_lag"), "sampled by the newest version");
                // the next batches alternate references: each is measured against its own
                for (int i = 1; i < PER_ITERATION; i++) {
                    t.train(secondIteration(i, i % 2, 1));
                    assertEquals((double) (i % 2), t.status().lastMetrics().get("reference_version"));
                }
                assertEquals(2, t.status().checkpointVersion());
                OnlineTrainer.Refused future = assertInstanceOf(OnlineTrainer.Refused.class, t.train(
                        new OnlineTrainer.Batch("run-a", 2, "ref-future", 2, batches.get(0).objective(), 0, 1, 0, 0,
                                batches.get(0).examples(), 3, -1)));
                assertEquals(OnlineTrainer.RefusalKind.UNKNOWN_POLICY, future.kind());
                assertTrue(future.reason().contains("reference version 3"), future.reason());
                // lagging one version: the trainer allows 1, a run that asks for 0 does not
                OnlineTrainer.Refused stale = assertInstanceOf(OnlineTrainer.Refused.class, t.train(
                        new OnlineTrainer.Batch("run-a", 2, "lagging", 1, batches.get(0).objective(), 0, 1, 0, 0,
                                batches.get(0).examples(), 1, 0)));
                assertEquals(OnlineTrainer.RefusalKind.STALE, stale.kind());
                assertInstanceOf(OnlineTrainer.Trained.class, t.train(new OnlineTrainer.Batch("run-a", 2, "lagging-ok",
                        1, batches.get(0).objective(), 0, 1, 0, 0, batches.get(0).examples(), 0, 1)));
                assertEquals(1.0, t.status().lastMetrics().get("policy_lag"));
            }
        }
        assertTrue(firstLoss[0] != firstLoss[1], "the same batch against versions 0 and 1: " + firstLoss[0]);
    }

    private static List<String> ids(List<OnlineTrainer.Batch> list) {
        return list.stream().map(OnlineTrainer.Batch::batchId).toList();
    }

    private static OnlineTrainer.Batch copy(OnlineTrainer.Batch b, String run, String id, long policy) {
        return new OnlineTrainer.Batch(run, 2, id, policy, b.objective(), 0, 1, 0, 0, b.examples());
    }
}
