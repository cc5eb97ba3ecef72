package steer.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.CheckpointException;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.model.DecoderInit;
import steer.tokenizer.Tokenizer;
import steer.world.TinyWorldModel;
import steer.world.WorldVocabulary;

class CheckpointStoreTest {

    @TempDir
    static Path base;
    static HfCheckpoint model;

    @BeforeAll
    static void tinyWorldModel() {
        WorldVocabulary.writeTokenizer(base);
        int vocab;
        try (Tokenizer t = Tokenizer.load(base)) {
            vocab = t.vocabSize();
        }
        DecoderConfig c = TinyWorldModel.SIZE.config(vocab);
        model = new HfCheckpoint(c, new DecoderInit(0.5, false).tensors(c, 7));
    }

    @Test
    void writesVersionsInTheHuggingFaceLayoutWithTheirMetadata(@TempDir Path root) {
        CheckpointStore store = new CheckpointStore(root);
        assertEquals(List.of(), store.versions("run-1"));
        assertEquals(Optional.empty(), store.latest("run-1"));

        StoredCheckpoint v1 = store.write("run-1", 1, 0, 4, Map.of("loss", 0.5, "sso_weight", 0.25), model, base);
        StoredCheckpoint v2 = store.write("run-1", 2, 1, 8, Map.of("loss", 0.25), model, base);

        assertEquals(List.of(1L, 2L), store.versions("run-1"));
        assertEquals(Optional.of(2L), store.latest("run-1"));
        assertEquals(root.resolve("run-1").resolve("v000001"), store.location("run-1", 1));
        assertEquals(store.location("run-1", 2), v2.location());
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json", "checkpoint.json"}) {
            assertTrue(Files.isRegularFile(v1.location().resolve(f)), f);
        }
        StoredCheckpoint read = store.read("run-1", 1);
        assertEquals(v1.runId(), read.runId());
        assertEquals(1, read.version());
        assertEquals(0, read.iteration());
        assertEquals(4, read.step());
        assertEquals(Map.of("loss", 0.5, "sso_weight", 0.25), read.metrics());
        assertEquals(v1.createdUnixMs(), read.createdUnixMs());

        HfCheckpoint back = HfCheckpoint.load(v2.location());
        assertEquals(model.config(), back.config());
        for (String name : model.tensors().keySet()) {
            assertArrayEquals(model.tensors().get(name).data(), back.tensors().get(name).data(), name);
        }
        try (Tokenizer t = Tokenizer.load(v2.location())) {
            assertTrue(t.vocabSize() > 0);
        }
        assertEquals(List.of(), store.versions("other-run"), "runs are separate");
    }

    @Test
    void refusesVersionZeroAnExistingVersionAndUnsafeRunIds(@TempDir Path root) {
        CheckpointStore store = new CheckpointStore(root);
        IllegalArgumentException zero = assertThrows(IllegalArgumentException.class,
                () -> store.write("r", 0, 0, 0, Map.of(), model, base));
        assertTrue(zero.getMessage().contains("base model"), zero.getMessage());
        store.write("r", 1, 0, 1, Map.of(), model, base);
        CheckpointException twice = assertThrows(CheckpointException.class,
                () -> store.write("r", 1, 0, 1, Map.of(), model, base));
        assertTrue(twice.getMessage().contains("already exists"), twice.getMessage());
        for (String bad : new String[] {"", "../escape", ".hidden", "a/b", "sp ace"}) {
            assertThrows(IllegalArgumentException.class, () -> store.versions(bad), bad);
        }
        assertThrows(CheckpointException.class, () -> store.read("r", 2));
    }

    @Test
    void aWriterThatDiedMidWriteLeavesNothingReadersSeeAndItsDebrisIsCleaned(@TempDir Path root) throws Exception {
        CheckpointStore store = new CheckpointStore(root);
        store.write("r", 1, 0, 2, Map.of(), model, base);
        // what a writer killed mid-write leaves: a hidden directory with part of a version, under a dead pid
        long deadPid = deadPid();
        Path debris = root.resolve("r").resolve(".v000002.tmp-" + deadPid + "-0b6e5a3c-1111-4222-8333-444455556666");
        Files.createDirectories(debris);
        Files.write(debris.resolve("model.safetensors"), new byte[] {1, 2, 3});
        // and one of a writer still running (this JVM): not ours to delete
        Path live = root.resolve("r").resolve(".v000003.tmp-" + ProcessHandle.current().pid()
                + "-0b6e5a3c-1111-4222-8333-444455556667");
        Files.createDirectories(live);

        assertEquals(List.of(1L), store.versions("r"));
        assertEquals(Optional.of(1L), store.latest("r"));
        assertFalse(store.exists("r", 2));

        // and one under this JVM's pid made before this JVM started: a restarted container's pid 1 reused
        Path reused = root.resolve("r").resolve(".v000002.tmp-" + ProcessHandle.current().pid()
                + "-0b6e5a3c-1111-4222-8333-444455556668");
        Files.createDirectories(reused);
        Files.setLastModifiedTime(reused, java.nio.file.attribute.FileTime.fromMillis(0));

        StoredCheckpoint v2 = store.write("r", 2, 1, 4, Map.of("loss", 1.0), model, base);
        assertFalse(Files.exists(debris), "the dead writer's directory is cleaned on the next write");
        assertFalse(Files.exists(reused), "so is one whose pid was reused by a later process");
        assertTrue(Files.exists(live), "a live writer's directory is left alone");
        assertEquals(List.of(1L, 2L), store.versions("r"));
        assertEquals(model.config(), HfCheckpoint.load(v2.location()).config());
    }

    @Test
    void aSnapshotIsNoVersionAndTheSameStepGivesTheSameOne(@TempDir Path root) throws Exception {
        CheckpointStore store = new CheckpointStore(root);
        store.write("r", 1, 0, 3, Map.of(), List.of("b2", "b0", "b1"), model, base);
        StoredSnapshot s = store.writeSnapshot("r", 1, 4, 1, Map.of("loss", 0.5), model, base);
        assertEquals(List.of(1L), store.versions("r"), "a snapshot is outside the version sequence");
        assertEquals(root.resolve("r").resolve(CheckpointStore.SNAPSHOTS).resolve("step-00000004"), s.location());
        assertEquals(model.config(), HfCheckpoint.load(s.location()).config());
        StoredSnapshot again = store.writeSnapshot("r", 1, 4, 1, Map.of(), model, base);
        assertEquals(s, again, "the one already there");
        assertEquals(List.of("b0", "b1", "b2"), store.read("r", 1).batchIds());
        assertTrue(store.read("r", 1).writtenBy(3, 0, List.of("b1", "b2", "b0")));
        assertFalse(store.read("r", 1).writtenBy(3, 0, List.of("b1", "b2", "other")));
        assertFalse(store.read("r", 1).writtenBy(4, 0, List.of("b1", "b2", "b0")));
    }

    /** The pid of a process that has exited. */
    private static long deadPid() throws IOException, InterruptedException {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-version")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        p.waitFor();
        return p.pid();
    }
}
