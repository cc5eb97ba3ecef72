package steer.checkpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face checkpoint directory in memory: the decoder configuration and its float32 weights,
 * checked against {@link HfTensorLayout}.
 *
 * <p>On disk: {@code config.json} plus {@code model.safetensors} (or, when reading, a sharded
 * {@code model.safetensors.index.json} with its shards). Other files in the directory, such as
 * {@code tokenizer.json}, are neither read nor touched.
 *
 * @param config  the decoder configuration
 * @param tensors the weights by Hugging Face name, in {@link HfTensorLayout#expected} order when loaded
 */
public record HfCheckpoint(DecoderConfig config, Map<String, HostTensor> tensors) {

    /** Keeps the caller's order but not the caller's map, so the record cannot change behind our back. */
    public HfCheckpoint {
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    }

    /**
     * Loads a checkpoint directory: reads {@code config.json}, checks every safetensors header against the
     * layout, then reads only the tensors the layout names (widening F16/BF16 to float32).
     *
     * @param dir the checkpoint directory
     * @return the configuration and the validated tensors
     * @throws CheckpointException naming the file at fault if anything is missing, malformed, or disagrees
     *                             with the configuration
     */
    public static HfCheckpoint load(Path dir) {
        Streamed checkpoint = stream(dir);
        return new HfCheckpoint(checkpoint.config(), SafetensorsReader.read(checkpoint.entries().values()));
    }

    /**
     * A checkpoint directory whose headers are read and checked against the layout (as {@link #load}) but whose
     * tensors are read only when asked for, one at a time: a loader that turns each into a native array before it
     * asks for the next never holds the weights in the Java heap.
     *
     * @param config  the decoder configuration
     * @param entries the validated header entry of every tensor the layout names
     */
    public record Streamed(DecoderConfig config, Map<String, SafetensorsEntry> entries) {

        public Streamed {
            entries = Collections.unmodifiableMap(new LinkedHashMap<>(entries));
        }

        /**
         * Reads one tensor (widening F16/BF16 to float32), or returns null for a name the layout does not have.
         *
         * @throws CheckpointException naming the file if it changed since its header was read
         */
        public HostTensor read(String name) {
            SafetensorsEntry entry = entries.get(name);
            return entry == null ? null : SafetensorsReader.read(List.of(entry)).get(name);
        }
    }

    /**
     * Opens a checkpoint directory for reading tensor by tensor: reads {@code config.json} and checks every
     * safetensors header against the layout, reading no tensor data yet.
     *
     * @throws CheckpointException naming the file at fault, as {@link #load}
     */
    public static Streamed stream(Path dir) {
        DecoderConfig config = HfConfigJson.read(dir.resolve(HfConfigJson.FILE_NAME));
        Map<String, SafetensorsEntry> entries = SafetensorsReader.readCheckpointEntries(dir);
        Path single = dir.resolve(SafetensorsReader.SINGLE_FILE);
        Path source = Files.isRegularFile(single) ? single : dir.resolve(SafetensorsReader.INDEX_FILE);
        HfTensorLayout.validateEntries(config, entries, source);
        Map<String, SafetensorsEntry> wanted = new LinkedHashMap<>();
        for (HfTensorLayout.TensorSpec spec : HfTensorLayout.expected(config)) {
            wanted.put(spec.name(), entries.get(spec.name()));
        }
        return new Streamed(config, wanted);
    }

    /**
     * Saves a checkpoint directory: {@code model.safetensors} (F32) then {@code config.json}, each written
     * to a temporary file and renamed into place. Creates the directory if needed; other files in it are
     * left alone.
     *
     * @param dir     the checkpoint directory
     * @param config  the decoder configuration
     * @param tensors the weights by Hugging Face name; checked against the layout before anything is written
     * @throws CheckpointException if a tensor is missing or misshapen, or a file cannot be written
     */
    public static void save(Path dir, DecoderConfig config, Map<String, HostTensor> tensors) {
        HfTensorLayout.validateTensors(config, tensors, dir);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new CheckpointException(dir, "could not create the directory: " + e, e);
        }
        SafetensorsWriter.write(dir.resolve(SafetensorsReader.SINGLE_FILE), tensors.values());
        HfConfigJson.write(config, dir.resolve(HfConfigJson.FILE_NAME));
    }

    /**
     * Saves this checkpoint; see {@link #save(Path, DecoderConfig, Map)}.
     *
     * @param dir the checkpoint directory
     * @throws CheckpointException if a file cannot be written
     */
    public void save(Path dir) {
        save(dir, config, tensors);
    }

    /**
     * A checkpoint to be written whose tensors are supplied one at a time, in pieces (a decoder's weights read from
     * native memory): {@link #save} holds at most a piece of one tensor in the Java heap, where
     * {@link HfCheckpoint#save(Path, DecoderConfig, Map)} needs every weight there at once.
     *
     * @param config the decoder configuration; it names the tensors and their shapes ({@link HfTensorLayout#expected})
     * @param values each tensor's values, asked for by Hugging Face name, once each, in the file's (name) order
     */
    public record Source(DecoderConfig config, SafetensorsWriter.Values values) {

        /** Saves as F32; see {@link #save(Path, SafetensorsWriter.StoredType)}. */
        public void save(Path dir) {
            save(dir, SafetensorsWriter.StoredType.F32);
        }

        /**
         * Saves a checkpoint directory as {@link HfCheckpoint#save(Path, DecoderConfig, Map)} does, byte for byte
         * the same files for the same weights: {@code model.safetensors} streamed through
         * {@link SafetensorsWriter#write(Path, List, SafetensorsWriter.Values, Map, SafetensorsWriter.StoredType)},
         * then {@code config.json}, each to a temporary file renamed into place. If the supplier fails, neither
         * file is touched and a checkpoint saved there before stays whole.
         *
         * @param type F32, or BF16 (half the size, as published checkpoints ship)
         * @throws CheckpointException if a tensor gets the wrong number of values or a file cannot be written
         */
        public void save(Path dir, SafetensorsWriter.StoredType type) {
            List<SafetensorsWriter.Entry> entries = new ArrayList<>();
            for (HfTensorLayout.TensorSpec spec : HfTensorLayout.expected(config)) {
                entries.add(new SafetensorsWriter.Entry(spec.name(), spec.shape()));
            }
            try {
                Files.createDirectories(dir);
            } catch (IOException e) {
                throw new CheckpointException(dir, "could not create the directory: " + e, e);
            }
            SafetensorsWriter.write(dir.resolve(SafetensorsReader.SINGLE_FILE), entries, values,
                    SafetensorsWriter.PYTORCH_METADATA, type);
            HfConfigJson.write(config, dir.resolve(HfConfigJson.FILE_NAME));
        }
    }
}
