package steer.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import steer.checkpoint.CheckpointException;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HostTensor;
import steer.checkpoint.SafetensorsReader;
import steer.checkpoint.SafetensorsWriter;
import steer.model.Decoder;
import steer.tokenizer.Tokenizer;

/**
 * A resumable training checkpoint: the policy in the Hugging Face layout (so {@code ./steer generate} reads it
 * as it is), its tokenizer, the optimizer's moments ({@code optimizer.safetensors}) and the trainer state
 * ({@code trainer_state.json}: step, data position, seed, run settings).
 *
 * <p>Writes are atomic and durable: everything goes into a hidden temporary directory beside the target, every
 * file and the directory itself are forced to disk, the directory is renamed to its final name, and the parent is
 * forced so the rename itself survives a power loss. A crash mid-write leaves a temporary directory that
 * {@link #latest} ignores, never a half checkpoint under a real name; once {@link #save} returns, the checkpoint
 * is on disk (a consumer may commit its input position past the step it records).
 */
public final class TrainerCheckpoint {

    /** The trainer state file. */
    public static final String STATE_FILE = "trainer_state.json";
    /** The optimizer moments file. */
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";

    private static final ObjectMapper JSON = new ObjectMapper();

    private TrainerCheckpoint() {
    }

    /**
     * Where training stands, beside the weights and moments.
     *
     * @param step      optimizer steps taken
     * @param epoch     epoch of the next example to train on (0-based)
     * @param position  index, in that epoch's shuffled order, of the next example
     * @param settings  the run's settings (objective, hyperparameters, base model, seed), kept for resuming
     *                  and for the record
     */
    public record State(long step, int epoch, int position, ObjectNode settings) {
    }

    /** A checkpoint read back. */
    public record Loaded(HfCheckpoint model, AdamWState optimizer, State state) {
    }

    /**
     * Writes a checkpoint to {@code dir}, which must not exist yet.
     *
     * @param tokenizerSource directory whose {@code tokenizer.json} is copied beside the weights
     */
    public static void save(Path dir, Decoder policy, AdamW optimizer, State state, Path tokenizerSource) {
        Path tmp = dir.resolveSibling("." + dir.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        try {
            deleteRecursively(tmp);
            policy.hfWeights().save(tmp);
            Files.copy(tokenizerSource.resolve(Tokenizer.FILE_NAME), tmp.resolve(Tokenizer.FILE_NAME),
                    StandardCopyOption.REPLACE_EXISTING);
            saveOptimizer(tmp.resolve(OPTIMIZER_FILE), optimizer);
            ObjectNode json = JSON.createObjectNode();
            json.put("step", state.step());
            json.put("optimizer_step", optimizer.stepCount());
            json.put("epoch", state.epoch());
            json.put("position", state.position());
            json.set("settings", state.settings());
            Files.write(tmp.resolve(STATE_FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(json));
            forceTree(tmp);
            Files.createDirectories(dir.getParent());
            Files.move(tmp, dir, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            force(dir.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException("writing checkpoint " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes an optimizer's moments as {@link #OPTIMIZER_FILE} holds them: {@code m.<parameter>} and
     * {@code v.<parameter>}, each flat {@code [size]} float32, streamed from native memory a piece at a time
     * ({@link AdamW#writeMoment}), so the Java heap never holds the moments (twice the weights for full training).
     * The bytes are those of writing {@link AdamW#exportState}'s arrays; atomic as every safetensors write.
     */
    public static void saveOptimizer(Path file, AdamW optimizer) {
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        for (Map.Entry<String, long[]> e : optimizer.momentShapes().entrySet()) {
            long size = 1;
            for (long d : e.getValue()) {
                size *= d;
            }
            entries.add(new SafetensorsWriter.Entry("m." + e.getKey(), new long[] {size}));
            entries.add(new SafetensorsWriter.Entry("v." + e.getKey(), new long[] {size}));
        }
        SafetensorsWriter.write(file, entries,
                (name, sink) -> optimizer.writeMoment(name.substring(2), name.startsWith("v."), sink),
                SafetensorsWriter.PYTORCH_METADATA, SafetensorsWriter.StoredType.F32);
    }

    /** Reads a checkpoint written by {@link #save}. */
    public static Loaded load(Path dir) {
        return new Loaded(HfCheckpoint.load(dir), loadOptimizer(dir), state(readStateJson(dir)));
    }

    /** Reads only the optimizer state of a checkpoint written by {@link #save}: step count and moments. */
    public static AdamWState loadOptimizer(Path dir) {
        JsonNode json = readStateJson(dir);
        Map<String, HostTensor> tensors = SafetensorsReader.read(dir.resolve(OPTIMIZER_FILE));
        Map<String, float[]> first = new HashMap<>();
        Map<String, float[]> second = new HashMap<>();
        for (HostTensor t : tensors.values()) {
            (t.name().startsWith("m.") ? first : second).put(t.name().substring(2), t.data());
        }
        return new AdamWState(json.get("optimizer_step").asLong(), first, second);
    }

    /**
     * The optimizer state of a checkpoint written by {@link #save}, read one parameter's moments at a time as
     * {@link AdamW#importState} asks (the header is read and checked now): what a resume uses, so the moments pass
     * through the Java heap one tensor at a time.
     *
     * @throws steer.checkpoint.CheckpointException if the file is malformed, or a moment lacks its pair
     */
    public static MomentSource openOptimizer(Path dir) {
        long step = readStateJson(dir).get("optimizer_step").asLong();
        Path file = dir.resolve(OPTIMIZER_FILE);
        java.util.Set<String> names = new java.util.TreeSet<>();
        java.util.Set<String> second = new java.util.TreeSet<>();
        for (String name : SafetensorsReader.readHeader(file).tensors().keySet()) {
            if (name.startsWith("m.")) {
                names.add(name.substring(2));
            } else if (name.startsWith("v.")) {
                second.add(name.substring(2));
            } else {
                throw new steer.checkpoint.CheckpointException(file, "tensor " + name + " is neither m.<parameter> nor"
                        + " v.<parameter>");
            }
        }
        if (!names.equals(second)) {
            throw new steer.checkpoint.CheckpointException(file, "first moments " + names + " and second moments "
                    + second + " name different parameters");
        }
        java.util.Set<String> parameters = java.util.Collections.unmodifiableSet(names);
        return new MomentSource() {
            @Override
            public long step() {
                return step;
            }

            @Override
            public java.util.Set<String> parameters() {
                return parameters;
            }

            @Override
            public float[] first(String parameter) {
                return moment("m." + parameter);
            }

            @Override
            public float[] second(String parameter) {
                return moment("v." + parameter);
            }

            private float[] moment(String name) {
                return SafetensorsReader.read(file, java.util.List.of(name)).get(name).data();
            }
        };
    }

    /** Reads only the trainer state of a checkpoint written by {@link #save}: no weights, no moments. */
    public static State loadState(Path dir) {
        return state(readStateJson(dir));
    }

    private static JsonNode readStateJson(Path dir) {
        Path stateFile = dir.resolve(STATE_FILE);
        JsonNode json;
        try {
            json = JSON.readTree(stateFile.toFile());
        } catch (IOException e) {
            throw new CheckpointException(stateFile, "cannot read the trainer state: " + e.getMessage(), e);
        }
        for (String field : new String[] {"step", "optimizer_step", "epoch", "position", "settings"}) {
            if (json == null || !json.has(field)) {
                throw new CheckpointException(stateFile, "trainer state has no '" + field + "'");
            }
        }
        return json;
    }

    private static State state(JsonNode json) {
        return new State(json.get("step").asLong(), json.get("epoch").asInt(), json.get("position").asInt(),
                (ObjectNode) json.get("settings"));
    }

    /** Directory name of the checkpoint after {@code step} steps, zero-padded so names sort by step. */
    public static String name(long step) {
        return String.format("step-%08d", step);
    }

    /** The newest complete checkpoint under {@code checkpointsDir}, if any (temporary directories are skipped). */
    public static Optional<Path> latest(Path checkpointsDir) {
        if (!Files.isDirectory(checkpointsDir)) {
            return Optional.empty();
        }
        try (Stream<Path> s = Files.list(checkpointsDir)) {
            return s.filter(p -> p.getFileName().toString().matches("step-\\d{8}"))
                    .filter(p -> Files.exists(p.resolve(STATE_FILE)))
                    .max(Comparator.comparing(p -> p.getFileName().toString()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes the final model (weights, config, tokenizer) into {@code dir} in the Hugging Face layout. */
    public static void saveModel(Path dir, Decoder policy, Path tokenizerSource) {
        policy.hfWeights().save(dir);
        try {
            Path tmp = dir.resolve("." + Tokenizer.FILE_NAME + ".tmp");
            Files.copy(tokenizerSource.resolve(Tokenizer.FILE_NAME), tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, dir.resolve(Tokenizer.FILE_NAME), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + dir.resolve(Tokenizer.FILE_NAME) + ": " + e.getMessage(), e);
        }
    }

    /** Forces every file of a (flat) checkpoint directory, then the directory's own entries, to disk. */
    private static void forceTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.filter(Files::isRegularFile).toList()) {
                force(f);
            }
        }
        force(dir);
    }

    /**
     * fsync of a file or a directory. Linux allows it on a descriptor opened read-only, which is the only way
     * Java opens a directory.
     */
    private static void force(Path p) throws IOException {
        try (FileChannel c = FileChannel.open(p, StandardOpenOption.READ)) {
            c.force(true);
        }
    }

    /** Deletes a directory tree (a checkpoint, a run's working files); nothing if it does not exist. */
    public static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }
}
