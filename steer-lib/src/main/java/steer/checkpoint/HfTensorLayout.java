package steer.checkpoint;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The one table of Hugging Face tensor names and shapes of a Llama/Qwen2/Qwen3 decoder, and the check of a
 * checkpoint against it.
 *
 * <p>Letters: V vocabulary, C hidden size, I intermediate size, H query heads, KV key/value heads, Dh head
 * dimension. Per layer {@code i} the names start with {@code model.layers.{i}.}. Matrices are stored
 * {@code [out, in]}, as in {@code torch.nn.Linear}.
 *
 * <pre>
 * model.embed_tokens.weight                 [V, C]
 * input_layernorm.weight                    [C]
 * self_attn.q_proj.weight                   [H*Dh, C]     (+ bias [H*Dh] if attention bias)
 * self_attn.k_proj.weight                   [KV*Dh, C]    (+ bias [KV*Dh] if attention bias)
 * self_attn.v_proj.weight                   [KV*Dh, C]    (+ bias [KV*Dh] if attention bias)
 * self_attn.q_norm.weight                   [Dh]          (only Qwen3: RMSNorm of each query head)
 * self_attn.k_norm.weight                   [Dh]          (only Qwen3: RMSNorm of each key head)
 * self_attn.o_proj.weight                   [C, H*Dh]
 * post_attention_layernorm.weight           [C]
 * mlp.gate_proj.weight                      [I, C]
 * mlp.up_proj.weight                        [I, C]
 * mlp.down_proj.weight                      [C, I]
 * model.norm.weight                         [C]
 * lm_head.weight                            [V, C]        (only if embeddings are not tied)
 * </pre>
 *
 * <p>With tied embeddings a checkpoint may still hold {@code lm_head.weight}; like {@code transformers},
 * we ignore it. Tensors outside the table (e.g. {@code rotary_emb.inv_freq}) are ignored too.
 */
public final class HfTensorLayout {

    /** Token embedding, {@code [V, C]}. */
    public static final String EMBED_TOKENS = "model.embed_tokens.weight";
    /** Final RMSNorm weight, {@code [C]}. */
    public static final String FINAL_NORM = "model.norm.weight";
    /** Output head, {@code [V, C]}, absent when tied to the embedding. */
    public static final String LM_HEAD = "lm_head.weight";

    /** Per-layer suffix (see {@link #layer}): RMSNorm before attention, {@code [C]}. */
    public static final String INPUT_NORM = "input_layernorm.weight";
    /** Per-layer suffix: query projection, {@code [H*Dh, C]}. */
    public static final String Q_PROJ = "self_attn.q_proj.weight";
    /** Per-layer suffix: query bias, {@code [H*Dh]}, only with attention bias. */
    public static final String Q_BIAS = "self_attn.q_proj.bias";
    /** Per-layer suffix: key projection, {@code [KV*Dh, C]}. */
    public static final String K_PROJ = "self_attn.k_proj.weight";
    /** Per-layer suffix: key bias, {@code [KV*Dh]}, only with attention bias. */
    public static final String K_BIAS = "self_attn.k_proj.bias";
    /** Per-layer suffix: value projection, {@code [KV*Dh, C]}. */
    public static final String V_PROJ = "self_attn.v_proj.weight";
    /** Per-layer suffix: value bias, {@code [KV*Dh]}, only with attention bias. */
    public static final String V_BIAS = "self_attn.v_proj.bias";
    /** Per-layer suffix: RMSNorm weight of each query head, {@code [Dh]}, only with q/k norm (Qwen3). */
    public static final String Q_NORM = "self_attn.q_norm.weight";
    /** Per-layer suffix: RMSNorm weight of each key head, {@code [Dh]}, only with q/k norm (Qwen3). */
    public static final String K_NORM = "self_attn.k_norm.weight";
    /** Per-layer suffix: attention output projection, {@code [C, H*Dh]}. */
    public static final String O_PROJ = "self_attn.o_proj.weight";
    /** Per-layer suffix: RMSNorm before the MLP, {@code [C]}. */
    public static final String POST_ATTENTION_NORM = "post_attention_layernorm.weight";
    /** Per-layer suffix: SwiGLU gate projection, {@code [I, C]}. */
    public static final String GATE_PROJ = "mlp.gate_proj.weight";
    /** Per-layer suffix: SwiGLU up projection, {@code [I, C]}. */
    public static final String UP_PROJ = "mlp.up_proj.weight";
    /** Per-layer suffix: SwiGLU down projection, {@code [C, I]}. */
    public static final String DOWN_PROJ = "mlp.down_proj.weight";

    private HfTensorLayout() {
    }

    /**
     * One expected tensor.
     *
     * @param name  the Hugging Face name
     * @param shape the expected shape
     */
    public record TensorSpec(String name, long[] shape) {

        /** The shape as text, e.g. {@code [64, 512]}, for error messages. */
        public String shapeText() {
            return Arrays.toString(shape);
        }
    }

    /**
     * The full name of a per-layer tensor.
     *
     * @param layer  the layer index, from 0
     * @param suffix one of the per-layer suffix constants, e.g. {@link #Q_PROJ}
     * @return e.g. {@code model.layers.3.self_attn.q_proj.weight}
     */
    public static String layer(int layer, String suffix) {
        return "model.layers." + layer + "." + suffix;
    }

    /**
     * Every tensor a checkpoint of this configuration must hold, in a fixed order: embedding, then each
     * layer, then the final norm and (if untied) the output head.
     *
     * @param config the decoder configuration
     * @return the expected names and shapes
     */
    public static List<TensorSpec> expected(DecoderConfig config) {
        long v = config.vocabSize();
        long c = config.hiddenSize();
        long i = config.intermediateSize();
        long q = config.qDim();
        long dh = config.headDim();
        long kv = config.kvDim();
        List<TensorSpec> specs = new ArrayList<>();
        specs.add(new TensorSpec(EMBED_TOKENS, new long[] {v, c}));
        for (int l = 0; l < config.numLayers(); l++) {
            specs.add(new TensorSpec(layer(l, INPUT_NORM), new long[] {c}));
            specs.add(new TensorSpec(layer(l, Q_PROJ), new long[] {q, c}));
            specs.add(new TensorSpec(layer(l, K_PROJ), new long[] {kv, c}));
            specs.add(new TensorSpec(layer(l, V_PROJ), new long[] {kv, c}));
            if (config.attentionBias()) {
                specs.add(new TensorSpec(layer(l, Q_BIAS), new long[] {q}));
                specs.add(new TensorSpec(layer(l, K_BIAS), new long[] {kv}));
                specs.add(new TensorSpec(layer(l, V_BIAS), new long[] {kv}));
            }
            if (config.qkNorm()) {
                specs.add(new TensorSpec(layer(l, Q_NORM), new long[] {dh}));
                specs.add(new TensorSpec(layer(l, K_NORM), new long[] {dh}));
            }
            specs.add(new TensorSpec(layer(l, O_PROJ), new long[] {c, q}));
            specs.add(new TensorSpec(layer(l, POST_ATTENTION_NORM), new long[] {c}));
            specs.add(new TensorSpec(layer(l, GATE_PROJ), new long[] {i, c}));
            specs.add(new TensorSpec(layer(l, UP_PROJ), new long[] {i, c}));
            specs.add(new TensorSpec(layer(l, DOWN_PROJ), new long[] {c, i}));
        }
        specs.add(new TensorSpec(FINAL_NORM, new long[] {c}));
        if (!config.tieWordEmbeddings()) {
            specs.add(new TensorSpec(LM_HEAD, new long[] {v, c}));
        }
        return specs;
    }

    /**
     * Checks safetensors headers against the table before any data is read: every expected tensor is
     * present, has the expected shape and a dtype we can read (F32, F16, BF16).
     *
     * @param config     the decoder configuration
     * @param entries    the header entries of a checkpoint, e.g. from {@link SafetensorsReader#readCheckpointEntries}
     * @param checkpoint the file named when a tensor is missing (a wrong tensor names its own file)
     * @throws CheckpointException naming the file, the Hugging Face name and expected versus actual shape
     */
    public static void validateEntries(DecoderConfig config, Map<String, SafetensorsEntry> entries, Path checkpoint) {
        for (TensorSpec spec : expected(config)) {
            SafetensorsEntry entry = entries.get(spec.name());
            if (entry == null) {
                throw missing(checkpoint, spec);
            }
            checkShape(entry.file(), spec, entry.shape());
            String dtype = entry.dtype();
            if (!dtype.equals("F32") && !dtype.equals("F16") && !dtype.equals("BF16")) {
                throw new CheckpointException(entry.file(), "tensor " + spec.name() + " has dtype " + dtype
                        + ", which is not supported (supported: F32, F16, BF16)");
            }
        }
    }

    /**
     * Checks tensors in memory against the table: every expected tensor is present, filed under its own
     * name, and has the expected shape.
     *
     * @param config  the decoder configuration
     * @param tensors the tensors by Hugging Face name
     * @param source  the file or directory the tensors came from (or are going to), named in errors
     * @throws CheckpointException naming the source, the Hugging Face name and expected versus actual shape
     */
    public static void validateTensors(DecoderConfig config, Map<String, HostTensor> tensors, Path source) {
        for (TensorSpec spec : expected(config)) {
            HostTensor tensor = tensors.get(spec.name());
            if (tensor == null) {
                throw missing(source, spec);
            }
            if (!tensor.name().equals(spec.name())) {
                throw new CheckpointException(source, "tensor " + tensor.name() + " is filed under the name " + spec.name());
            }
            checkShape(source, spec, tensor.shape());
        }
    }

    private static CheckpointException missing(Path file, TensorSpec spec) {
        return new CheckpointException(file, "missing tensor " + spec.name() + " (expected shape " + spec.shapeText() + ")");
    }

    private static void checkShape(Path file, TensorSpec spec, long[] actual) {
        if (!Arrays.equals(spec.shape(), actual)) {
            throw new CheckpointException(file, "tensor " + spec.name() + ": expected shape " + spec.shapeText()
                    + " from the config, actual shape " + Arrays.toString(actual));
        }
    }
}
