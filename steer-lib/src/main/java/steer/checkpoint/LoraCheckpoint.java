package steer.checkpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A LoRA adapter directory in Hugging Face PEFT's layout, in memory: {@code adapter_config.json} and
 * {@code adapter_model.safetensors} holding, for every layer and targeted projection,
 * {@code base_model.model.model.layers.N.<module>.lora_A.weight} {@code [r, in]} and {@code ...lora_B.weight}
 * {@code [out, r]} (float32). PEFT's {@code PeftModel.from_pretrained} loads such a directory onto the base model,
 * and {@link #merge} folds it into the base weights.
 *
 * @param config  the adapter's hyperparameters
 * @param tensors the adapter matrices by PEFT name, in {@link #expected} order when loaded
 */
public record LoraCheckpoint(LoraConfig config, Map<String, HostTensor> tensors) {

    /** The weights file PEFT writes. */
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";

    public LoraCheckpoint {
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    }

    /** Whether {@code dir} holds an adapter (its {@code adapter_config.json}) rather than a full model. */
    public static boolean isAdapter(Path dir) {
        return Files.isRegularFile(dir.resolve(LoraConfig.FILE_NAME));
    }

    /**
     * Every matrix an adapter with {@code lora} on a base of shape {@code base} holds: per layer, per target in
     * q, k, v, o, gate, up, down order, A then B.
     */
    public static List<HfTensorLayout.TensorSpec> expected(LoraConfig lora, DecoderConfig base) {
        List<HfTensorLayout.TensorSpec> specs = new ArrayList<>();
        for (int l = 0; l < base.numLayers(); l++) {
            for (LoraConfig.Target t : lora.orderedTargets()) {
                specs.add(new HfTensorLayout.TensorSpec(LoraConfig.tensorName(l, t, "A"), new long[] {lora.rank(), t.in(base)}));
                specs.add(new HfTensorLayout.TensorSpec(LoraConfig.tensorName(l, t, "B"), new long[] {t.out(base), lora.rank()}));
            }
        }
        return specs;
    }

    /**
     * Reads an adapter directory and checks every tensor's name and shape against the base it is meant for.
     *
     * @throws CheckpointException naming the file, the PEFT name and expected versus actual shape, or a tensor the
     *                             configuration does not account for
     */
    public static LoraCheckpoint load(Path dir, DecoderConfig base) {
        LoraConfig config = LoraConfig.read(dir.resolve(LoraConfig.FILE_NAME));
        Path file = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException(file, "missing: a PEFT adapter directory holds " + WEIGHTS_FILE + " beside "
                    + LoraConfig.FILE_NAME);
        }
        Map<String, SafetensorsEntry> entries = SafetensorsReader.readHeader(file).tensors();
        List<HfTensorLayout.TensorSpec> specs = expected(config, base);
        List<SafetensorsEntry> wanted = new ArrayList<>();
        for (HfTensorLayout.TensorSpec spec : specs) {
            SafetensorsEntry e = entries.get(spec.name());
            if (e == null) {
                throw new CheckpointException(file, "missing tensor " + spec.name() + " (expected shape "
                        + spec.shapeText() + " for r " + config.rank() + " on this base)");
            }
            if (!Arrays.equals(e.shape(), spec.shape())) {
                throw new CheckpointException(file, "tensor " + spec.name() + ": expected shape " + spec.shapeText()
                        + " from adapter_config.json and the base's config.json, actual shape " + Arrays.toString(e.shape()));
            }
            wanted.add(e);
        }
        if (entries.size() != specs.size()) {
            List<String> extra = new ArrayList<>(entries.keySet());
            specs.forEach(s -> extra.remove(s.name()));
            throw new CheckpointException(file, "holds tensors adapter_config.json does not account for, e.g. "
                    + extra.get(0) + " (" + extra.size() + " in all)");
        }
        return new LoraCheckpoint(config, SafetensorsReader.read(wanted));
    }

    /** Writes {@code adapter_model.safetensors} then {@code adapter_config.json}, each atomically. */
    public void save(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new CheckpointException(dir, "could not create the directory: " + e, e);
        }
        SafetensorsWriter.write(dir.resolve(WEIGHTS_FILE), tensors.values());
        config.write(dir.resolve(LoraConfig.FILE_NAME));
    }

    /**
     * The base weights with the adapter folded in, as PEFT's {@code merge_and_unload} does: for every layer and
     * targeted projection
     * <pre>
     *   W' = W + (α / r)·B·A       W, W' [out, in],  B [out, r],  A [r, in]
     * </pre>
     * computed in double and rounded once to float32. Every other tensor is shared with {@code base}.
     *
     * @param baseConfig the base model's configuration, which the adapter was checked against
     * @param base       the base model's tensors by Hugging Face name
     * @return a new map in {@code base}'s order
     * @throws IllegalArgumentException if a targeted base tensor is missing or misshapen
     */
    public Map<String, HostTensor> merge(DecoderConfig baseConfig, Map<String, HostTensor> base) {
        Map<String, HostTensor> out = new LinkedHashMap<>(base);
        double s = config.scale();
        int r = config.rank();
        for (int l = 0; l < baseConfig.numLayers(); l++) {
            for (LoraConfig.Target t : config.orderedTargets()) {
                String name = HfTensorLayout.layer(l, t.path() + ".weight");
                HostTensor w = base.get(name);
                float[] a = tensors.get(LoraConfig.tensorName(l, t, "A")).data();
                float[] b = tensors.get(LoraConfig.tensorName(l, t, "B")).data();
                int in = t.in(baseConfig), outDim = t.out(baseConfig);
                if (w == null || w.size() != in * outDim) {
                    throw new IllegalArgumentException("base tensor " + name + " is missing or not [" + outDim + ", " + in + "]");
                }
                float[] merged = w.data().clone();
                double[] row = new double[in];
                for (int o = 0; o < outDim; o++) {
                    Arrays.fill(row, 0);
                    for (int k = 0; k < r; k++) {
                        double bk = b[o * r + k];
                        if (bk != 0) {
                            for (int i = 0; i < in; i++) {
                                row[i] += bk * a[k * in + i];
                            }
                        }
                    }
                    for (int i = 0; i < in; i++) {
                        merged[o * in + i] = (float) (merged[o * in + i] + s * row[i]);
                    }
                }
                out.put(name, new HostTensor(name, w.shape(), merged));
            }
        }
        return out;
    }
}
