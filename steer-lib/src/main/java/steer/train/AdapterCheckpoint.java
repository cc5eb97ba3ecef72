package steer.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HostTensor;
import steer.checkpoint.LoraCheckpoint;
import steer.checkpoint.SafetensorsReader;
import steer.model.LoraAdapter;
import steer.tokenizer.Tokenizer;

/**
 * A resumable checkpoint of LoRA training: the adapter in PEFT's layout ({@code adapter_config.json},
 * {@code adapter_model.safetensors}, a few MB where the full model is GB), the tokenizer, AdamW's moments of the
 * adapter's matrices only, and the trainer state, in the same files and with the same atomic, durable write as
 * {@link TrainerCheckpoint} (whose {@link TrainerCheckpoint#latest} and {@link TrainerCheckpoint#loadState} read
 * these directories too). The base model is not copied: {@code adapter_config.json}'s
 * {@code base_model_name_or_path} names it.
 */
public final class AdapterCheckpoint {

    private static final ObjectMapper JSON = new ObjectMapper();

    private AdapterCheckpoint() {
    }

    /** A checkpoint read back: the adapter's matrices, the optimizer state and where training stands. */
    public record Loaded(LoraCheckpoint adapter, AdamWState optimizer, TrainerCheckpoint.State state) {
    }

    /**
     * Writes a checkpoint to {@code dir}, which must not exist yet: everything into a hidden temporary directory,
     * each file forced to disk, then one rename.
     *
     * @param tokenizerSource directory whose {@code tokenizer.json} (and {@code tokenizer_config.json}, if any) is
     *                        copied beside the adapter
     */
    public static void save(Path dir, LoraAdapter adapter, AdamW optimizer, TrainerCheckpoint.State state,
                            Path tokenizerSource) {
        Path tmp = dir.resolveSibling("." + dir.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        try {
            TrainerCheckpoint.deleteRecursively(tmp);
            saveAdapter(tmp, adapter, tokenizerSource);
            TrainerCheckpoint.saveOptimizer(tmp.resolve(TrainerCheckpoint.OPTIMIZER_FILE), optimizer);
            ObjectNode json = JSON.createObjectNode();
            json.put("step", state.step());
            json.put("optimizer_step", optimizer.stepCount());
            json.put("epoch", state.epoch());
            json.put("position", state.position());
            json.set("settings", state.settings());
            Files.write(tmp.resolve(TrainerCheckpoint.STATE_FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(json));
            try (Stream<Path> files = Files.list(tmp)) {
                for (Path f : files.toList()) {
                    force(f);
                }
            }
            force(tmp);
            Files.createDirectories(dir.getParent());
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            force(dir.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException("writing checkpoint " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Reads a checkpoint written by {@link #save}, checking the adapter against the base it belongs to. */
    public static Loaded load(Path dir, DecoderConfig base) {
        LoraCheckpoint adapter = LoraCheckpoint.load(dir, base);
        Map<String, float[]> first = new HashMap<>();
        Map<String, float[]> second = new HashMap<>();
        for (HostTensor t : SafetensorsReader.read(dir.resolve(TrainerCheckpoint.OPTIMIZER_FILE)).values()) {
            (t.name().startsWith("m.") ? first : second).put(t.name().substring(2), t.data());
        }
        long optimizerStep;
        try {
            optimizerStep = JSON.readTree(dir.resolve(TrainerCheckpoint.STATE_FILE).toFile()).path("optimizer_step").asLong();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Loaded(adapter, new AdamWState(optimizerStep, first, second), TrainerCheckpoint.loadState(dir));
    }

    /**
     * Writes the adapter in PEFT's layout into {@code dir} (created if needed), with the tokenizer files of
     * {@code tokenizerSource}: a directory PEFT's {@code PeftModel.from_pretrained} and Steer's
     * {@link LoraAdapter#read} load onto the base.
     */
    public static void saveAdapter(Path dir, LoraAdapter adapter, Path tokenizerSource) {
        adapter.toCheckpoint().save(dir);
        try {
            for (String name : new String[] {Tokenizer.FILE_NAME, "tokenizer_config.json"}) {
                Path from = tokenizerSource.resolve(name);
                if (Files.exists(from)) {
                    Path tmp = dir.resolve("." + name + ".tmp");
                    Files.copy(from, tmp, StandardCopyOption.REPLACE_EXISTING);
                    Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("writing the tokenizer into " + dir + ": " + e.getMessage(), e);
        }
    }

    /** fsync of a file or a directory (Linux allows it on a read-only descriptor). */
    private static void force(Path p) throws IOException {
        try (FileChannel c = FileChannel.open(p, StandardOpenOption.READ)) {
            c.force(true);
        }
    }
}
