package steer.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import steer.checkpoint.CheckpointException;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.LoraCheckpoint;
import steer.tokenizer.Tokenizer;

/**
 * Versioned policy checkpoints per run, as generators and judges load them:
 * {@code ROOT/<run id>/v000001/} holds {@code config.json}, {@code model.safetensors} and {@code tokenizer.json}
 * (the Hugging Face layout) plus {@code checkpoint.json} (run id, version, iteration, step, metrics, creation
 * time). A run that trains a LoRA adapter stores the adapter instead of the weights, in PEFT's layout
 * ({@code adapter_config.json}, {@code adapter_model.safetensors}, a few MB), with the same tokenizer and
 * {@code checkpoint.json}: {@link LoraCheckpoint#isAdapter} tells the two apart, and a reader puts the adapter onto
 * the base model the run started from.
 *
 * <p>Version 0 is the base (SFT) model the run started from; it lives wherever the run's configuration says and
 * is never stored here, so stored versions start at 1.
 *
 * <p>A version appears atomically: it is written into a hidden temporary directory
 * {@code .v000001.tmp-<pid>-<uuid>} beside its final name, every file forced to disk, then renamed. A reader
 * listing versions never sees a half-written one. A writer that crashes leaves its temporary directory; readers
 * ignore it and {@link #cleanLeftovers} (called by every write) deletes those whose process is gone.
 *
 * <p>One writer per run: two processes writing the same version of one run is a configuration error, which the
 * rename detects (the second fails with {@link CheckpointException}).
 */
public final class CheckpointStore {

    /** The metadata file of each version. */
    public static final String INFO_FILE = "checkpoint.json";

    private static final Pattern RUN_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final Pattern VERSION_DIR = Pattern.compile("v(\\d{6,})");
    private static final Pattern TEMP_DIR = Pattern.compile("\\.v\\d{6,}\\.tmp-(\\d+)-[0-9a-f-]+");
    private static final Pattern SNAPSHOT_TEMP_DIR = Pattern.compile("\\.step-\\d{8}\\.tmp-(\\d+)-[0-9a-f-]+");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The directory of a run's snapshots, beside its versions. */
    public static final String SNAPSHOTS = "snapshots";
    /** The metadata file of each snapshot. */
    public static final String SNAPSHOT_FILE = "snapshot.json";

    /**
     * Called inside {@link #write} once every file of a version is on disk, before its rename: the one moment a
     * crash leaves a whole version under its temporary name. For fault-injection tests; production passes none.
     */
    @FunctionalInterface
    public interface WriteProbe {
        /** No probe. */
        WriteProbe NONE = (runId, version, step) -> { };

        void filesWritten(String runId, long version, long step);
    }

    private final Path root;
    private final WriteProbe probe;

    /** A store under {@code root}, created on the first write. */
    public CheckpointStore(Path root) {
        this(root, WriteProbe.NONE);
    }

    /** A store under {@code root} that calls {@code probe} inside every version write. */
    public CheckpointStore(Path root, WriteProbe probe) {
        this.root = root.toAbsolutePath().normalize();
        this.probe = probe;
    }

    /** The store's root directory. */
    public Path root() {
        return root;
    }

    /**
     * Writes a version, recording no batch ids.
     *
     * @see #write(String, long, int, long, Map, List, HfCheckpoint, Path)
     */
    public StoredCheckpoint write(String runId, long version, int iteration, long step, Map<String, Double> metrics,
                                  HfCheckpoint model, Path tokenizerDir) {
        return write(runId, version, iteration, step, metrics, List.of(), model, tokenizerDir);
    }

    /**
     * Writes a version.
     *
     * @param runId          the run; letters, digits, '.', '_' and '-', starting with a letter or digit
     * @param version        the new version, ≥ 1; must not exist yet
     * @param iteration      the iteration that produced it
     * @param step           optimizer steps so far in the run
     * @param metrics        the iteration's mean metrics
     * @param batchIds       the ids of the iteration's batches (stored sorted), so that a replayed step can tell its
     *                       own version from another writer's
     * @param model          the weights and configuration
     * @param tokenizerDir   a directory holding the model's {@code tokenizer.json}, copied beside the weights
     * @return the stored version, with its location
     * @throws IllegalArgumentException if the run id or version is invalid
     * @throws CheckpointException      if the version already exists or a file cannot be written
     */
    public StoredCheckpoint write(String runId, long version, int iteration, long step, Map<String, Double> metrics,
                                  List<String> batchIds, HfCheckpoint model, Path tokenizerDir) {
        return write(runId, version, iteration, step, metrics, batchIds, weights(model), tokenizerDir);
    }

    /**
     * Writes a version whose weights are supplied one tensor at a time ({@code Decoder.hfWeights()}), so the
     * Java heap holds a piece of one tensor, never the model; otherwise as
     * {@link #write(String, long, int, long, Map, List, HfCheckpoint, Path)}, with the same files.
     */
    public StoredCheckpoint write(String runId, long version, int iteration, long step, Map<String, Double> metrics,
                                  List<String> batchIds, HfCheckpoint.Source model, Path tokenizerDir) {
        return write(runId, version, iteration, step, metrics, batchIds, model::save, tokenizerDir);
    }

    /**
     * Writes a version that is a LoRA adapter, in PEFT's layout, to be loaded onto the run's base model; otherwise as
     * {@link #write(String, long, int, long, Map, List, HfCheckpoint, Path)}.
     */
    public StoredCheckpoint write(String runId, long version, int iteration, long step, Map<String, Double> metrics,
                                  List<String> batchIds, LoraCheckpoint adapter, Path tokenizerDir) {
        return write(runId, version, iteration, step, metrics, batchIds, adapter::save, tokenizerDir);
    }

    /** Writes what a version's directory holds besides its tokenizer and metadata. */
    @FunctionalInterface
    private interface Weights {
        void writeInto(Path dir) throws IOException;
    }

    private static Weights weights(HfCheckpoint model) {
        return dir -> HfCheckpoint.save(dir, model.config(), model.tensors());
    }

    private StoredCheckpoint write(String runId, long version, int iteration, long step, Map<String, Double> metrics,
                                   List<String> batchIds, Weights model, Path tokenizerDir) {
        requireRunId(runId);
        if (version < 1) {
            throw new IllegalArgumentException("stored versions start at 1 (version 0 is the base model), got "
                    + version);
        }
        Path target = location(runId, version);
        if (Files.exists(target)) {
            throw new CheckpointException(target, "version " + version + " of run " + runId + " already exists");
        }
        cleanLeftovers(runId);
        StoredCheckpoint stored = new StoredCheckpoint(runId, version, iteration, step, metrics,
                System.currentTimeMillis(), target, batchIds.stream().sorted().toList());
        try {
            writeDirectory(target, model, tokenizerDir, INFO_FILE, JSON.writerWithDefaultPrettyPrinter()
                    .writeValueAsBytes(toJson(stored)), () -> probe.filesWritten(runId, version, step));
        } catch (FileAlreadyExistsException e) {
            throw new CheckpointException(target, "version " + version + " of run " + runId
                    + " was written by someone else meanwhile", e);
        } catch (IOException e) {
            throw new CheckpointException(target, "could not write: " + e, e);
        }
        return stored;
    }

    /**
     * Writes a snapshot of a run's policy: the same layout as a version, under {@code ROOT/<run id>/snapshots/},
     * outside the run's version sequence ({@link #versions} never lists it), so that asking for the weights of a
     * run mid-iteration never makes a version the run's iterations count on. A snapshot at a step that has one
     * already is that one (the same step has the same weights).
     *
     * @param basedOnVersion the run's newest version when the snapshot was taken
     */
    public StoredSnapshot writeSnapshot(String runId, int iteration, long step, long basedOnVersion,
                                        Map<String, Double> metrics, HfCheckpoint model, Path tokenizerDir) {
        return writeSnapshot(runId, iteration, step, basedOnVersion, metrics, weights(model), tokenizerDir);
    }

    /** A snapshot whose weights are supplied one tensor at a time, as {@link #write(String, long, int, long, Map,
     * List, HfCheckpoint.Source, Path)}. */
    public StoredSnapshot writeSnapshot(String runId, int iteration, long step, long basedOnVersion,
                                        Map<String, Double> metrics, HfCheckpoint.Source model, Path tokenizerDir) {
        return writeSnapshot(runId, iteration, step, basedOnVersion, metrics, model::save, tokenizerDir);
    }

    /** A snapshot of a run that trains a LoRA adapter: the adapter in PEFT's layout, as its versions. */
    public StoredSnapshot writeSnapshot(String runId, int iteration, long step, long basedOnVersion,
                                        Map<String, Double> metrics, LoraCheckpoint adapter, Path tokenizerDir) {
        return writeSnapshot(runId, iteration, step, basedOnVersion, metrics, adapter::save, tokenizerDir);
    }

    private StoredSnapshot writeSnapshot(String runId, int iteration, long step, long basedOnVersion,
                                         Map<String, Double> metrics, Weights model, Path tokenizerDir) {
        requireRunId(runId);
        Path target = root.resolve(runId).resolve(SNAPSHOTS).resolve(String.format("step-%08d", step));
        Path info = target.resolve(SNAPSHOT_FILE);
        try {
            cleanLeftovers(target.getParent(), SNAPSHOT_TEMP_DIR);
            if (Files.isRegularFile(info)) {
                JsonNode json = JSON.readTree(info.toFile());
                return new StoredSnapshot(runId, json.path("iteration").asInt(), step,
                        json.path("based_on_version").asLong(), json.path("created_unix_ms").asLong(), target);
            }
            StoredSnapshot s = new StoredSnapshot(runId, iteration, step, basedOnVersion, System.currentTimeMillis(),
                    target);
            ObjectNode o = JSON.createObjectNode();
            o.put("run_id", runId);
            o.put("kind", "snapshot");
            o.put("iteration", iteration);
            o.put("step", step);
            o.put("based_on_version", basedOnVersion);
            ObjectNode m = o.putObject("metrics");
            metrics.forEach(m::put);
            o.put("created_unix_ms", s.createdUnixMs());
            writeDirectory(target, model, tokenizerDir, SNAPSHOT_FILE, JSON.writerWithDefaultPrettyPrinter()
                    .writeValueAsBytes(o), () -> { });
            return s;
        } catch (IOException e) {
            throw new CheckpointException(target, "could not write the snapshot: " + e, e);
        }
    }

    /**
     * Writes weights, tokenizer and an info file into a hidden temporary directory beside {@code target}, forces
     * them, runs {@code beforeRename}, renames the directory to {@code target} and forces the parent.
     */
    private static void writeDirectory(Path target, Weights model, Path tokenizerDir, String infoName,
                                       byte[] info, Runnable beforeRename) throws IOException {
        Path temp = target.resolveSibling("." + target.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-"
                + UUID.randomUUID());
        try {
            Files.createDirectories(temp);
            model.writeInto(temp);
            copyDurably(tokenizerDir.resolve(Tokenizer.FILE_NAME), temp.resolve(Tokenizer.FILE_NAME));
            writeDurably(temp.resolve(infoName), info);
            beforeRename.run();
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
            forceDirectory(target.getParent());
        } finally {
            try {
                deleteRecursively(temp);
            } catch (IOException e) {
                // the rename succeeded or the write failed; cleanLeftovers removes what remains later
            }
        }
    }

    /** The stored versions of a run, ascending; empty if the run has none. */
    public List<Long> versions(String runId) {
        requireRunId(runId);
        Path dir = root.resolve(runId);
        List<Long> versions = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return versions;
        }
        try (Stream<Path> s = Files.list(dir)) {
            for (Iterator<Path> it = s.iterator(); it.hasNext(); ) {
                Matcher m = VERSION_DIR.matcher(it.next().getFileName().toString());
                if (m.matches()) {
                    versions.add(Long.parseLong(m.group(1)));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("listing " + dir + ": " + e.getMessage(), e);
        }
        versions.sort(null);
        return versions;
    }

    /** The newest stored version of a run, if any. */
    public Optional<Long> latest(String runId) {
        List<Long> v = versions(runId);
        return v.isEmpty() ? Optional.empty() : Optional.of(v.get(v.size() - 1));
    }

    /** The directory of a version, whether or not it exists. */
    public Path location(String runId, long version) {
        requireRunId(runId);
        if (version < 1) {
            throw new IllegalArgumentException("stored versions start at 1 (version 0 is the base model), got "
                    + version);
        }
        return root.resolve(runId).resolve(String.format("v%06d", version));
    }

    /** Whether a version is stored. */
    public boolean exists(String runId, long version) {
        return Files.isRegularFile(location(runId, version).resolve(INFO_FILE));
    }

    /**
     * Reads a version's {@code checkpoint.json}.
     *
     * @throws CheckpointException if the version is not stored or its metadata is unreadable
     */
    public StoredCheckpoint read(String runId, long version) {
        Path dir = location(runId, version);
        Path file = dir.resolve(INFO_FILE);
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException(dir, "version " + version + " of run " + runId + " is not stored; stored: "
                    + versions(runId));
        }
        try {
            JsonNode json = JSON.readTree(file.toFile());
            Map<String, Double> metrics = new LinkedHashMap<>();
            json.path("metrics").fields().forEachRemaining(e -> metrics.put(e.getKey(), e.getValue().asDouble()));
            List<String> batchIds = new ArrayList<>();
            json.path("batch_ids").forEach(id -> batchIds.add(id.asText()));
            return new StoredCheckpoint(json.path("run_id").asText(), json.path("version").asLong(),
                    json.path("iteration").asInt(), json.path("step").asLong(), metrics,
                    json.path("created_unix_ms").asLong(), dir, batchIds);
        } catch (IOException e) {
            throw new CheckpointException(file, "cannot read: " + e.getMessage(), e);
        }
    }

    /**
     * Deletes temporary directories of a run left by writers that no longer run (a crash mid-write).
     *
     * @return how many were deleted
     */
    public int cleanLeftovers(String runId) {
        requireRunId(runId);
        return cleanLeftovers(root.resolve(runId), TEMP_DIR);
    }

    private static int cleanLeftovers(Path dir, Pattern temporary) {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        int deleted = 0;
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                Matcher m = temporary.matcher(p.getFileName().toString());
                // a live writer's directory is its own business; its pid tells us whether it still runs
                if (m.matches() && !writerRuns(Long.parseLong(m.group(1)), p)) {
                    deleteRecursively(p);
                    deleted++;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cleaning " + dir + ": " + e.getMessage(), e);
        }
        return deleted;
    }

    /**
     * Whether the process that made a temporary directory still runs: its pid is alive and started before the
     * directory was last modified. A pid started later is a reuse, as a restarted container's pid 1 always is.
     */
    private static boolean writerRuns(long pid, Path dir) throws IOException {
        Optional<ProcessHandle> h = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
        if (h.isEmpty()) {
            return false;
        }
        Optional<Instant> started = h.get().info().startInstant();
        // start times are kept to the clock tick: a second of slack never takes a live writer for a reuse
        return started.isEmpty() || !started.get().minusSeconds(1).isAfter(Files.getLastModifiedTime(dir).toInstant());
    }

    private static ObjectNode toJson(StoredCheckpoint c) {
        ObjectNode o = JSON.createObjectNode();
        o.put("run_id", c.runId());
        o.put("version", c.version());
        o.put("iteration", c.iteration());
        o.put("step", c.step());
        ObjectNode metrics = o.putObject("metrics");
        c.metrics().forEach(metrics::put);
        c.batchIds().forEach(o.putArray("batch_ids")::add);
        o.put("created_unix_ms", c.createdUnixMs());
        o.put("created", Instant.ofEpochMilli(c.createdUnixMs()).toString());
        return o;
    }

    /**
     * Checks a run id: it names a directory (here and in a trainer's state), so 1 to 128 letters, digits, '.',
     * '_' or '-', starting with a letter or digit.
     *
     * @throws IllegalArgumentException naming the rule and the id
     */
    public static void requireRunId(String runId) {
        if (runId == null || !RUN_ID.matcher(runId).matches()) {
            throw new IllegalArgumentException("run id must be 1 to 128 letters, digits, '.', '_' or '-', starting"
                    + " with a letter or digit; got '" + runId + "'");
        }
    }

    private static void copyDurably(Path from, Path to) throws IOException {
        writeDurably(to, Files.readAllBytes(from));
    }

    private static void writeDurably(Path file, byte[] bytes) throws IOException {
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer buffer = java.nio.ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                c.write(buffer);
            }
            c.force(true);
        }
    }

    private static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }

    private static void forceDirectory(Path dir) {
        try (FileChannel c = FileChannel.open(dir, StandardOpenOption.READ)) {
            c.force(true);
        } catch (IOException e) {
            // best effort: some platforms cannot open a directory
        }
    }
}
