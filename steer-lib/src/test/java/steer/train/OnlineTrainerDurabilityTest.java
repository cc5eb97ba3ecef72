package steer.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.HfCheckpoint;
import steer.store.CheckpointStore;
import steer.store.StoredCheckpoint;
import steer.store.VersionConflictException;

/**
 * The trainer state as a stream processor's checkpoint: the input position saved with the state and read back,
 * saves every few steps with replays in between, versions announced after the save that records them, and a
 * stored version reused only when it is the replayed step's own.
 */
class OnlineTrainerDurabilityTest {

    static final int PER_ITERATION = OnlineTrainerTest.PER_ITERATION;
    static List<OnlineTrainer.Batch> batches;
    @TempDir
    static Path base;

    @BeforeAll
    static void batches() {
        OnlineTrainerTest.base = base;
        OnlineTrainerTest.tinyWorldModelAndTwoIterationsOfSsoBatches();
        batches = OnlineTrainerTest.batches;
    }

    static Map<String, Long> at(int offset) {
        return Map.of("pairs-0", (long) offset);
    }

    @Test
    void savingEveryTwoStepsAndReplayingFromTheSavedPositionGivesTheSameWeights(@TempDir Path a, @TempDir Path b)
            throws Exception {
        try (OnlineTrainer t = OnlineTrainer.open(OnlineTrainerTest.settings(a))) {
            for (OnlineTrainer.Batch batch : batches) {
                t.train(batch);
                t.saveState();
            }
        }
        // save at offsets 2 and 4 only; crash after step 5 (unsaved), resume from the saved position
        OnlineTrainer t = OnlineTrainer.open(OnlineTrainerTest.settings(b));
        for (int i = 0; i < 5; i++) {
            t.train(batches.get(i));
            if (i == 1 || i == 3) {
                t.saveState(at(i + 1));
            }
        }
        t.close();
        t = OnlineTrainer.open(OnlineTrainerTest.settings(b));
        assertEquals(at(4), t.position(), "the position of the last save");
        assertEquals(4, t.status().step());
        for (int i = (int) (long) t.position().get("pairs-0"); i < batches.size(); i++) {
            assertInstanceOf(OnlineTrainer.Trained.class, t.train(batches.get(i)));
        }
        t.saveState(at(batches.size()));
        assertEquals(batches.stream().map(OnlineTrainer.Batch::batchId).toList(), t.trainedBatchIds());
        t.close();
        assertSameVersions(a, b);
    }

    @Test
    void interleavedRunsSavedEveryThreeRecordsAndCrashedBetweenSavesReplayToTheSameWeights(@TempDir Path alone,
            @TempDir Path one, @TempDir Path two) throws Exception {
        try (OnlineTrainer t = OnlineTrainer.open(OnlineTrainerTest.settings(alone))) {
            for (OnlineTrainer.Batch batch : batches) {
                t.train(batch);
            }
            t.saveState();
        }
        List<OnlineTrainer.Batch> b = OnlineTrainerTest.relabel(batches, "run-b");
        List<OnlineTrainer.Batch> interleaved = new java.util.ArrayList<>();
        for (int i = 0; i < batches.size(); i++) {
            interleaved.add(batches.get(i));
            interleaved.add(b.get(i));
        }
        // with one live model every record unloads (and saves) the other run at the previous position: a crash
        // after record 8 must still resume from the last full save, at 6
        for (Path root : List.of(one, two)) {
            int live = root == one ? 1 : 2;
            OnlineTrainer t = OnlineTrainer.open(OnlineTrainerTest.settings(root, null, live));
            for (int i = 0; i < 8; i++) {
                t.train(interleaved.get(i));
                if ((i + 1) % 3 == 0) {
                    t.saveState(at(i + 1));
                }
            }
            t.close();
            t = OnlineTrainer.open(OnlineTrainerTest.settings(root, null, live));
            assertEquals(at(6), t.position(), live + " live");
            for (int i = 6; i < interleaved.size(); i++) {
                t.train(interleaved.get(i));
            }
            t.saveState(at(interleaved.size()));
            assertEquals(batches.stream().map(OnlineTrainer.Batch::batchId).toList(), t.trainedBatchIds("run-a"));
            assertEquals(b.stream().map(OnlineTrainer.Batch::batchId).toList(), t.trainedBatchIds("run-b"));
            assertEquals(2 * batches.size(), t.runs().stream().mapToLong(OnlineTrainer.Status::step).sum());
            t.close();
            for (String run : List.of("run-a", "run-b")) {
                for (long v = 1; v <= 2; v++) {
                    assertArrayEquals(Files.readAllBytes(new CheckpointStore(alone.resolve("store"))
                                    .location("run-a", v).resolve("model.safetensors")),
                            Files.readAllBytes(new CheckpointStore(root.resolve("store")).location(run, v)
                                    .resolve("model.safetensors")), live + " live, " + run + " version " + v);
                }
            }
        }
    }

    @Test
    void aSaveWithNothingTrainedStillMovesThePosition(@TempDir Path root) {
        try (OnlineTrainer t = OnlineTrainer.open(OnlineTrainerTest.settings(root))) {
            t.train(batches.get(0));
            t.saveState(at(1));
            // a dead-lettered record: no step, but the position passes it
            assertTrue(!t.hasUnsavedChanges());
            t.saveState(at(2));
        }
        try (OnlineTrainer t = OnlineTrainer.open(OnlineTrainerTest.settings(root))) {
            assertEquals(at(2), t.position());
            assertEquals(1, t.status().step());
        }
    }

    @Test
    void aVersionIsAnnouncedAfterTheSaveThatRecordsItAndAgainAfterACrashBeforeItsEvent(@TempDir Path root) {
        try (OnlineTrainer t = OnlineTrainer.open(OnlineTrainerTest.settings(root))) {
            for (int i = 0; i < PER_ITERATION; i++) {
                t.train(batches.get(i));
            }
            assertEquals(List.of(), t.unannounced(), "written, not yet saved: nothing to announce");
            t.saveState(at(PER_ITERATION));
            List<StoredCheckpoint> pending = t.unannounced();
            assertEquals(1, pending.size());
            assertEquals(1, pending.get(0).version());
            assertEquals(batches.subList(0, PER_ITERATION).stream().map(OnlineTrainer.Batch::batchId).sorted()
                    .toList(), pending.get(0).batchIds());
            // crash before the event
        }
        try (OnlineTrainer t = OnlineTrainer.open(OnlineTrainerTest.settings(root))) {
            assertEquals(List.of(1L), t.unannounced().stream().map(StoredCheckpoint::version).toList());
            t.markAnnounced("run-a", 1);
            assertEquals(List.of(), t.unannounced());
            t.train(batches.get(PER_ITERATION));
            t.saveState(at(PER_ITERATION + 1));
        }
        try (OnlineTrainer t = OnlineTrainer.open(OnlineTrainerTest.settings(root))) {
            assertEquals(List.of(), t.unannounced(), "the announcement was saved with the next step");
        }
    }

    @Test
    void aStoredVersionThatIsNotTheReplayedStepsOwnIsAConflictNotAReuse(@TempDir Path root) throws Exception {
        OnlineTrainer.Settings s = OnlineTrainerTest.settings(root);
        // someone else's version 1 of the run, written at another step
        HfCheckpoint base = HfCheckpoint.load(OnlineTrainerTest.base);
        s.store().write("run-a", 1, 0, 99, Map.of(), List.of("x"), base, OnlineTrainerTest.base);
        try (OnlineTrainer t = OnlineTrainer.open(s)) {
            t.train(batches.get(0));
            t.train(batches.get(1));
            VersionConflictException e = assertThrows(VersionConflictException.class, () -> t.train(batches.get(2)));
            assertTrue(e.getMessage().contains("step 99") && e.getMessage().contains("step 3"), e.getMessage());
        }
    }

    @Test
    void aSnapshotIsOutsideTheVersionSequenceAndTheSameStepGivesTheSameSnapshot(@TempDir Path root) throws Exception {
        try (OnlineTrainer t = OnlineTrainer.open(OnlineTrainerTest.settings(root))) {
            t.train(batches.get(0));
            var first = t.snapshot("run-a");
            var again = t.snapshot();
            assertEquals(first.location(), again.location());
            assertEquals(1, first.step());
            assertEquals(0, first.basedOnVersion());
            CheckpointStore store = new CheckpointStore(root.resolve("store"));
            assertEquals(List.of(), store.versions("run-a"));
            assertTrue(first.location().startsWith(store.root().resolve("run-a").resolve(CheckpointStore.SNAPSHOTS)));
            // the iteration's version is still number 1
            t.train(batches.get(1));
            assertEquals(1, assertInstanceOf(OnlineTrainer.Trained.class, t.train(batches.get(2))).checkpoint()
                    .orElseThrow().version());
        }
    }

    static void assertSameVersions(Path a, Path b) throws Exception {
        CheckpointStore storeA = new CheckpointStore(a.resolve("store"));
        CheckpointStore storeB = new CheckpointStore(b.resolve("store"));
        assertEquals(List.of(1L, 2L), storeB.versions("run-a"));
        for (long v = 1; v <= 2; v++) {
            assertArrayEquals(Files.readAllBytes(storeA.location("run-a", v).resolve("model.safetensors")),
                    Files.readAllBytes(storeB.location("run-a", v).resolve("model.safetensors")), "version " + v);
        }
    }
}
