package steer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HostTensor;
import steer.checkpoint.LoraConfig.Target;
import steer.checkpoint.SafetensorsWriter;

/**
 * A Llama/Qwen2/Qwen3-family decoder in DJL: token embedding, RMSNorm, rotary position embedding (Hugging Face
 * "rotate half" convention, optionally with Llama 3's frequency scaling), grouped-query attention with an
 * optional KV cache, SwiGLU MLP, tied or untied output head. The model types differ only through
 * {@link DecoderConfig}: Qwen2's q/k/v biases ({@link DecoderConfig#attentionBias()}), Qwen3's per-head RMSNorm
 * of q and k before RoPE ({@link DecoderConfig#qkNorm()}), a head width Dh that need not be C / H.
 *
 * <p>Dimension letters used in shape comments: B batch, T new positions, S key positions (cache + new),
 * C hidden size, H query heads, KV key/value heads, G = H / KV query heads per key/value head, Dh head
 * width, I MLP width, V vocabulary.
 *
 * <p>Weights are kept in a layout made for speed, fused and transposed to {@code [in, out]} so every
 * projection is one {@code x.matMul(w)}: q, k and v are one matrix, gate and up are one matrix. Hugging Face
 * tensors map to this layout in {@link #fromTensors} and back in {@link #hfWeights} (tensor by tensor, for saving)
 * and {@link #toHostTensors} (all at once, for tests).
 *
 * <p>Precision: weights and every constant table share one data type, float32 by default; float64 serves
 * finite-difference gradient checks, where float32's rounding would swamp the differences. In half precision
 * (bfloat16 on a GPU, float16 anywhere; see {@link Placement}) activations are half while RMSNorm, attention's
 * softmax and the logits are float32, as in Hugging Face's eager Llama; the weights are half, or float32 master
 * weights cast at each use when full parameters train. Callers pass float inputs (attention biases) and get
 * logits in {@link #dtype()}, float32 for every precision but float64. Host tensors are float32 either way.
 *
 * <p>Memory: the weights live on the model manager for the model's whole life. Every method that computes
 * puts an activation first in each op, so results attach to the caller's manager (DJL attaches a result
 * to its first operand's manager); the few ops that must start from a weight (embedding lookup, rotary
 * table lookup) attach their result to the caller's manager explicitly.
 *
 * <p>References: Touvron et al. 2023 (Llama, arXiv 2302.13971); Hugging Face {@code modeling_llama.py}
 * for the rotary and GQA conventions.
 */
@SuppressWarnings("checkstyle:LocalVariableName") // single-letter dimension names follow the shape comments
public final class Decoder implements AutoCloseable {

    /** Additive attention bias for masked positions: large enough to zero a softmax weight, finite so a
     * fully masked (padding) row gives a uniform softmax instead of NaN. */
    static final float MASKED = -1e9f;

    private final DecoderConfig config;
    private final NDManager manager;
    private final DataType dtype;         // FLOAT32 or FLOAT64: of float inputs, logits and (unless half) weights
    private final DataType compute;       // activations' and constants' type: dtype, or FLOAT16 / BFLOAT16
    private final boolean half;           // compute is FLOAT16 or BFLOAT16
    private final NDArray embed;          // [V, C]
    private final Layer[] layers;
    private final NDArray finalNorm;      // [C]
    private final NDArray lmHead;         // [C, V]; null when tied to embed
    private final NDArray cosTable;       // [maxPos, Dh]
    private final NDArray sinTable;       // [maxPos, Dh]
    private final NDArray rotateHalf;     // [Dh, Dh], x.matMul(rotateHalf) = cat(-x2, x1)
    private final NDArray rotaryScale;    // [H+2KV, 1]: 1/√Dh for q heads, 1 for k heads, 0 for v heads
    private final NDArray rotaryIdentity; // [H+2KV, 1]: 1 for v heads (cos 1, sin 0 leaves v as it is)
    private final NDArray normEps;        // [1], RMSNorm's epsilon as an array: DJL turns every scalar
                                          // operand into a new native tensor, which costs more than the op
    private final LoraAdapter adapter;    // null for the plain model
    private final boolean ownsWeights;    // false for a view made by withAdapter
    private VectorDecoder vectorDecoder;  // the weights copied for Generation.Engine.VECTOR, on first use
    private volatile boolean weightsHandedOut; // parameters() was called: an optimizer may update them in place

    /** One decoder layer's weights, fused and transposed. */
    private record Layer(NDArray attnNorm, NDArray wqkv, NDArray bqkv, NDArray qNorm, NDArray kNorm, NDArray wo,
                         NDArray mlpNorm, NDArray wGateUp, NDArray wDown) {
        // bqkv [(H+2KV)*Dh] is null without attention bias; qNorm and kNorm [Dh] are null without q/k norm
    }

    private Decoder(DecoderConfig config, NDManager manager, DataType dtype, DataType compute, NDArray embed,
                    Layer[] layers, NDArray finalNorm, NDArray lmHead) {
        this.config = config;
        this.manager = manager;
        this.dtype = dtype;
        this.compute = compute;
        this.half = compute != dtype;
        this.embed = embed;
        this.layers = layers;
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.adapter = null;
        this.ownsWeights = true;
        int dh = config.headDim();
        float[][] tables = rotaryTables(config.maxPositionEmbeddings(), dh, config.ropeTheta(), config.ropeScaling());
        this.cosTable = create(manager, compute, tables[0], new Shape(config.maxPositionEmbeddings(), dh));
        this.sinTable = create(manager, compute, tables[1], new Shape(config.maxPositionEmbeddings(), dh));
        float[] r = new float[dh * dh];
        int half = dh / 2;
        for (int i = 0; i < half; i++) {
            r[(i + half) * dh + i] = -1f;   // out[i] = -x[i + half]
            r[i * dh + i + half] = 1f;      // out[i + half] = x[i]
        }
        this.rotateHalf = create(manager, compute, r, new Shape(dh, dh));
        // half precision normalises in float32, so epsilon is float32 there
        this.normEps = create(manager, dtype, new float[] {(float) config.rmsNormEps()}, new Shape(1));
        int heads = config.numHeads() + 2 * config.numKvHeads();
        float[] scale = new float[heads];
        float[] identity = new float[heads];
        java.util.Arrays.fill(scale, 0, config.numHeads(), (float) (1.0 / Math.sqrt(dh)));
        java.util.Arrays.fill(scale, config.numHeads(), config.numHeads() + config.numKvHeads(), 1f);
        java.util.Arrays.fill(identity, config.numHeads() + config.numKvHeads(), heads, 1f);
        this.rotaryScale = create(manager, compute, scale, new Shape(heads, 1));
        this.rotaryIdentity = create(manager, compute, identity, new Shape(heads, 1));
    }

    /** A view of {@code base}'s weights and tables with {@code adapter} in front of them. */
    private Decoder(Decoder base, LoraAdapter adapter) {
        this.config = base.config;
        this.manager = base.manager;
        this.dtype = base.dtype;
        this.compute = base.compute;
        this.half = base.half;
        this.embed = base.embed;
        this.layers = base.layers;
        this.finalNorm = base.finalNorm;
        this.lmHead = base.lmHead;
        this.cosTable = base.cosTable;
        this.sinTable = base.sinTable;
        this.rotateHalf = base.rotateHalf;
        this.rotaryScale = base.rotaryScale;
        this.rotaryIdentity = base.rotaryIdentity;
        this.normEps = base.normEps;
        this.adapter = adapter;
        this.ownsWeights = false;
    }

    /**
     * This decoder's weights with a LoRA adapter in front of them (Hu et al. 2021): every targeted projection adds
     * {@code s·(x·Aᵀ)·Bᵀ} to its output (see {@link LoraAdapter}). Nothing is copied, so one base in memory can
     * serve the plain model and any number of adapted ones side by side, each a decoder of its own, safe to use
     * from concurrent requests. The view owns the adapter, not the weights: closing it closes the adapter only,
     * and the base must outlive it.
     *
     * @param adapter an adapter for this shape and data type, or null for the plain weights
     * @throws IllegalArgumentException if the adapter was made for another shape or data type
     */
    public Decoder withAdapter(LoraAdapter adapter) {
        if (adapter != null && (!adapter.baseConfig().equals(config) || adapter.dtype() != dtype)) {
            throw new IllegalArgumentException("the adapter was made for another base: " + adapter.baseConfig()
                    + " in " + adapter.dtype() + ", this decoder is " + config + " in " + dtype);
        }
        return new Decoder(this, adapter);
    }

    /**
     * This decoder's weights copied for {@link Generation.Engine#VECTOR}, made on the first call and kept while
     * the weights cannot have changed. Once {@link #parameters()} has handed the arrays out (to an optimizer that
     * updates them in place), every call copies them afresh, so a trained decoder never generates from stale
     * weights.
     */
    synchronized VectorDecoder vectorDecoder() {
        if (weightsHandedOut) {
            vectorDecoder = null;
            return VectorDecoder.of(this);
        }
        if (vectorDecoder == null) {
            vectorDecoder = VectorDecoder.of(this);
        }
        return vectorDecoder;
    }

    /** The LoRA adapter in front of the weights, or null for the plain model. */
    public LoraAdapter adapter() {
        return adapter;
    }

    /**
     * What training updates: the adapter's matrices when there is one (the base weights stay frozen and record no
     * gradient), else every weight of {@link #parameters()}.
     */
    public List<Map.Entry<String, NDArray>> trainableParameters() {
        return adapter != null ? adapter.parameters() : parameters();
    }

    /**
     * Builds a float32 decoder from Hugging Face-named tensors (already checked against the config by the
     * checkpoint loader). The weights are created on {@code manager}, which the decoder then owns and closes.
     */
    public static Decoder fromHostTensors(DecoderConfig config, Map<String, HostTensor> tensors, NDManager manager) {
        return fromHostTensors(config, tensors, manager, DataType.FLOAT32);
    }

    /**
     * Builds a decoder whose weights and constant tables have data type {@code dtype}, as
     * {@link #fromHostTensors(DecoderConfig, Map, NDManager)} does. The float32 values are widened exactly, so a
     * float64 decoder computes the same function as the float32 one, with less rounding. Scoring and training
     * run in either type; generation needs float32.
     *
     * @param dtype {@link DataType#FLOAT32} (serving, training) or {@link DataType#FLOAT64} (gradient checks)
     */
    public static Decoder fromHostTensors(DecoderConfig config, Map<String, HostTensor> tensors, NDManager manager,
                                          DataType dtype) {
        return fromTensors(config, tensors::get, manager, dtype);
    }

    /**
     * Builds a decoder from a checkpoint directory read one tensor at a time ({@link HfCheckpoint#stream}): each
     * tensor's float32 values live in the Java heap only until its native array exists, so loading holds the
     * weights about once (natively), not twice. The same weights, bit for bit, as
     * {@code fromHostTensors(HfCheckpoint.load(dir))}.
     *
     * @throws steer.checkpoint.CheckpointException naming the file at fault, as {@link HfCheckpoint#load}
     */
    public static Decoder load(Path dir, NDManager manager) {
        return load(dir, manager, Placement.Precision.F32, false);
    }

    /** {@link #load(Path, NDManager)} from a checkpoint already opened (its headers read and checked). */
    public static Decoder load(HfCheckpoint.Streamed checkpoint, NDManager manager) {
        return load(checkpoint, manager, Placement.Precision.F32, false);
    }

    /**
     * {@link #load(Path, NDManager)} in a precision: float32 as there, or half-precision activations with the
     * weights stored half ({@code masterWeights} false: serving, references, a LoRA run's frozen base) or float32
     * ({@code masterWeights} true: full fine-tuning, where the optimizer updates float32 weights and every forward
     * pass casts them, so gradients reach the float32 arrays through the casts).
     *
     * @param manager on the device the model runs on ({@link Placement#newManager()}); the decoder owns it
     */
    public static Decoder load(Path dir, NDManager manager, Placement.Precision precision, boolean masterWeights) {
        HfCheckpoint.Streamed checkpoint;
        try {
            checkpoint = HfCheckpoint.stream(dir);
        } catch (RuntimeException e) {
            manager.close();   // the decoder would have owned it
            throw e;
        }
        return load(checkpoint, manager, precision, masterWeights);
    }

    /** {@link #load(Path, NDManager, Placement.Precision, boolean)} from a checkpoint already opened. */
    public static Decoder load(HfCheckpoint.Streamed checkpoint, NDManager manager, Placement.Precision precision,
                               boolean masterWeights) {
        try {
            return fromTensors(checkpoint.config(), checkpoint::read, manager, precision, masterWeights);
        } catch (RuntimeException | Error e) {
            manager.close();
            throw e;
        }
    }

    /**
     * {@link #fromHostTensors(DecoderConfig, Map, NDManager)} in a precision, with half or float32 master weights
     * as {@link #load(Path, NDManager, Placement.Precision, boolean)} says.
     */
    public static Decoder fromHostTensors(DecoderConfig config, Map<String, HostTensor> tensors, NDManager manager,
                                          Placement.Precision precision, boolean masterWeights) {
        return fromTensors(config, tensors::get, manager, precision, masterWeights);
    }

    private static Decoder fromTensors(DecoderConfig config, Function<String, HostTensor> tensors, NDManager manager,
                                       Placement.Precision precision, boolean masterWeights) {
        if (!precision.isHalf()) {
            return fromTensors(config, tensors, manager, DataType.FLOAT32);
        }
        DataType halfType = precision.dataType();
        return fromTensors(config, tensors, manager, DataType.FLOAT32, masterWeights ? DataType.FLOAT32 : halfType,
                halfType);
    }

    /**
     * Builds a decoder from a lookup of Hugging Face-named tensors that is asked for each tensor once, in the
     * layout's order, so a lookup that reads from disk keeps one layer's tensors in the heap at a time.
     */
    static Decoder fromTensors(DecoderConfig config, Function<String, HostTensor> tensors, NDManager manager,
                               DataType dtype) {
        if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT64) {
            throw new IllegalArgumentException("decoder data type must be FLOAT32 or FLOAT64, got " + dtype);
        }
        return fromTensors(config, tensors, manager, dtype, dtype, dtype);
    }

    /**
     * @param dtype      float inputs' and logits' type (FLOAT32 or FLOAT64)
     * @param weightType the stored weights' type: dtype, or the half type
     * @param compute    the activations' type: dtype, or FLOAT16 / BFLOAT16
     */
    private static Decoder fromTensors(DecoderConfig config, Function<String, HostTensor> tensors, NDManager manager,
                                       DataType dtype, DataType weightType, DataType compute) {
        Layer[] layers = new Layer[config.numLayers()];
        for (int i = 0; i < layers.length; i++) {
            String p = "model.layers." + i + ".";
            NDArray wqkv = transposedConcat(manager, weightType, tensors, p + "self_attn.q_proj.weight",
                    p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight");
            NDArray bqkv = config.attentionBias() ? concatenatedVector(manager, weightType, tensors,
                    p + "self_attn.q_proj.bias", p + "self_attn.k_proj.bias", p + "self_attn.v_proj.bias") : null;
            NDArray qNorm = config.qkNorm() ? vector(manager, weightType, tensors, p + "self_attn.q_norm.weight") : null;
            NDArray kNorm = config.qkNorm() ? vector(manager, weightType, tensors, p + "self_attn.k_norm.weight") : null;
            layers[i] = new Layer(vector(manager, weightType, tensors, p + "input_layernorm.weight"), wqkv, bqkv, qNorm, kNorm,
                    transposedConcat(manager, weightType, tensors, p + "self_attn.o_proj.weight"),
                    vector(manager, weightType, tensors, p + "post_attention_layernorm.weight"),
                    transposedConcat(manager, weightType, tensors, p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"),
                    transposedConcat(manager, weightType, tensors, p + "mlp.down_proj.weight"));
        }
        NDArray embed = vector(manager, weightType, tensors, "model.embed_tokens.weight");
        NDArray lmHead = config.tieWordEmbeddings() ? null
                : transposedConcat(manager, weightType, tensors, "lm_head.weight");
        return new Decoder(config, manager, dtype, compute, embed, layers,
                vector(manager, weightType, tensors, "model.norm.weight"), lmHead);
    }

    /**
     * The weights under their Hugging Face names and layout, all copied to Java memory as float32 at once (a whole
     * model's worth of heap: 2 GB at Qwen2.5-0.5B's shape). For tests and small models; saving goes through
     * {@link #hfWeights}, which holds one piece of one tensor at a time. An adapter is not folded in: that is
     * {@code LoraCheckpoint.merge}.
     */
    public Map<String, HostTensor> toHostTensors() {
        Map<String, HfPiece> pieces = hfPieces();
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (String name : pieces.keySet()) {
            out.put(name, hostTensor(pieces, name));
        }
        return out;
    }

    /**
     * The weights as a checkpoint to save one Hugging Face tensor at a time, straight from native memory: saving it
     * ({@link HfCheckpoint.Source#save}) splits q|k|v and gate|up and transposes back to {@code [out, in]} per
     * tensor, in pieces of at most {@value NativeFloats#CHUNK_VALUES} values, so the Java heap never holds more than one
     * piece of one tensor, where {@link #toHostTensors} copies every weight there at once. The file is byte for
     * byte the one {@code HfCheckpoint.save(dir, config(), toHostTensors())} writes. An adapter is not folded in.
     * The weights must not change while the save runs (the trainer saves between steps).
     */
    public HfCheckpoint.Source hfWeights() {
        Map<String, HfPiece> pieces = hfPieces();
        return new HfCheckpoint.Source(config, (name, sink) -> writePiece(pieces, name, sink));
    }

    /**
     * One weight under its Hugging Face name and layout, copied to Java memory as float32: one tensor's worth of
     * heap, read in pieces as {@link #hfWeights} reads it.
     *
     * @throws IllegalArgumentException if the layout has no tensor of that name
     */
    public HostTensor hfTensor(String name) {
        return hostTensor(hfPieces(), name);
    }

    private static HostTensor hostTensor(Map<String, HfPiece> pieces, String name) {
        HfPiece piece = pieces.get(name);
        if (piece == null) {
            throw new IllegalArgumentException("no tensor " + name + " in this decoder's Hugging Face layout");
        }
        float[] out = new float[Math.toIntExact((long) piece.rows * piece.width)];
        int[] at = {0};
        writePiece(pieces, name, (values, from, count) -> {
            System.arraycopy(values, from, out, at[0], count);
            at[0] += count;
        });
        return new HostTensor(name, piece.shape(), out);
    }

    /**
     * Where a Hugging Face tensor lives in the fused layout: {@code rows × width} values. Plain, it is
     * {@code array}'s flat values from {@code offset} (a vector, a slice of the fused bias, the embedding);
     * transposed, it is columns {@code [offset, offset + rows)} of a {@code [width, Σ out]} matrix, read back as
     * {@code [rows, width]}.
     */
    private record HfPiece(NDArray array, boolean transposed, long offset, int rows, int width, boolean vector) {
        long[] shape() {
            return vector ? new long[] {rows} : new long[] {rows, width};
        }
    }

    /** Every Hugging Face tensor of this decoder, by name, in the layout's order. */
    private Map<String, HfPiece> hfPieces() {
        Map<String, HfPiece> out = new LinkedHashMap<>();
        int C = config.hiddenSize(), qDim = config.qDim(), kvDim = config.kvDim();
        int I = config.intermediateSize();
        plain(out, "model.embed_tokens.weight", embed);
        for (int i = 0; i < layers.length; i++) {
            String p = "model.layers." + i + ".";
            Layer l = layers[i];
            plain(out, p + "input_layernorm.weight", l.attnNorm);
            out.put(p + "self_attn.q_proj.weight", new HfPiece(l.wqkv, true, 0, qDim, C, false));
            out.put(p + "self_attn.k_proj.weight", new HfPiece(l.wqkv, true, qDim, kvDim, C, false));
            out.put(p + "self_attn.v_proj.weight", new HfPiece(l.wqkv, true, qDim + kvDim, kvDim, C, false));
            if (l.bqkv != null) {
                out.put(p + "self_attn.q_proj.bias", new HfPiece(l.bqkv, false, 0, qDim, 1, true));
                out.put(p + "self_attn.k_proj.bias", new HfPiece(l.bqkv, false, qDim, kvDim, 1, true));
                out.put(p + "self_attn.v_proj.bias", new HfPiece(l.bqkv, false, qDim + kvDim, kvDim, 1, true));
            }
            if (l.qNorm != null) {
                plain(out, p + "self_attn.q_norm.weight", l.qNorm);
                plain(out, p + "self_attn.k_norm.weight", l.kNorm);
            }
            out.put(p + "self_attn.o_proj.weight", new HfPiece(l.wo, true, 0, C, qDim, false));
            plain(out, p + "post_attention_layernorm.weight", l.mlpNorm);
            out.put(p + "mlp.gate_proj.weight", new HfPiece(l.wGateUp, true, 0, I, C, false));
            out.put(p + "mlp.up_proj.weight", new HfPiece(l.wGateUp, true, I, I, C, false));
            out.put(p + "mlp.down_proj.weight", new HfPiece(l.wDown, true, 0, C, I, false));
        }
        plain(out, "model.norm.weight", finalNorm);
        if (lmHead != null) {
            out.put("lm_head.weight", new HfPiece(lmHead, true, 0, config.vocabSize(), C, false));
        }
        return out;
    }

    private static void plain(Map<String, HfPiece> out, String name, NDArray a) {
        long[] shape = a.getShape().getShape();
        boolean vector = shape.length == 1;
        out.put(name, new HfPiece(a, false, 0, (int) shape[0], vector ? 1 : (int) shape[1], vector));
    }

    /** Puts one Hugging Face tensor's values into {@code sink}, row-major, in pieces ({@link NativeFloats}). */
    private static void writePiece(Map<String, HfPiece> pieces, String name, SafetensorsWriter.FloatSink sink) {
        HfPiece piece = pieces.get(name);
        if (piece == null) {
            throw new IllegalArgumentException("no tensor " + name + " in this decoder's Hugging Face layout");
        }
        if (piece.transposed) {
            NativeFloats.writeTransposedColumns(piece.array, piece.offset, piece.rows, sink);
        } else {
            NativeFloats.write(piece.array, piece.offset, (long) piece.rows * piece.width, sink);
        }
    }

    /**
     * The base weights with their names in this decoder's fused layout, in a fixed order. An optimizer
     * updates these arrays in place; norms and biases are named so a caller can exempt them from weight decay.
     * An adapter's matrices are not among them (see {@link #trainableParameters()}).
     */
    public List<Map.Entry<String, NDArray>> parameters() {
        weightsHandedOut = true;
        return weights();
    }

    /** {@link #parameters()} for reading only (their sizes): the vector engine's copy stays valid. */
    List<Map.Entry<String, NDArray>> weights() {
        List<Map.Entry<String, NDArray>> out = new ArrayList<>();
        out.add(Map.entry("embed", embed));
        for (int i = 0; i < layers.length; i++) {
            Layer l = layers[i];
            String p = "layers." + i + ".";
            out.add(Map.entry(p + "attn_norm", l.attnNorm));
            out.add(Map.entry(p + "wqkv", l.wqkv));
            if (l.bqkv != null) {
                out.add(Map.entry(p + "bqkv", l.bqkv));
            }
            if (l.qNorm != null) {
                out.add(Map.entry(p + "q_norm", l.qNorm));
                out.add(Map.entry(p + "k_norm", l.kNorm));
            }
            out.add(Map.entry(p + "wo", l.wo));
            out.add(Map.entry(p + "mlp_norm", l.mlpNorm));
            out.add(Map.entry(p + "w_gate_up", l.wGateUp));
            out.add(Map.entry(p + "w_down", l.wDown));
        }
        out.add(Map.entry("final_norm", finalNorm));
        if (lmHead != null) {
            out.add(Map.entry("lm_head", lmHead));
        }
        return out;
    }

    /** The hyperparameters. */
    public DecoderConfig config() {
        return config;
    }

    /**
     * The data type of float inputs (attention biases) and of logits: FLOAT32, or FLOAT64 for gradient checks. It is
     * also the weights' type unless the decoder runs in half precision ({@link #computeType()}).
     */
    public DataType dtype() {
        return dtype;
    }

    /** The activations' data type: {@link #dtype()}, or FLOAT16 / BFLOAT16 in half precision. */
    public DataType computeType() {
        return compute;
    }

    /** The manager that owns the weights; request managers are made as its children. */
    public NDManager manager() {
        return manager;
    }

    /**
     * Runs the decoder and returns the final normalised hidden states.
     *
     * @param ids       token ids, int64 {@code [B, T]}
     * @param positions rotary position of each token, int64 {@code [B, T]}
     * @param attnBias  additive attention bias {@code [B, 1, T, S]} (or broadcastable to it): 0 where a query
     *                  may attend a key, {@link #MASKED} elsewhere; S = cached length + T; null when every
     *                  query may attend every key (a decode step with no padding)
     * @param cache     the KV cache to read and extend, or null for a full forward (S = T)
     * @return hidden states {@code [B, T, C]}, owned by {@code ids}' manager
     */
    public NDArray hidden(NDArray ids, NDArray positions, NDArray attnBias, KvCache cache) {
        // Decoding runs this once per token with tiny tensors, so the cost is the number of native ops:
        // q, k and v are rotated together and split once, and T = 1 replaces transposes by free reshapes.
        long B = ids.getShape().get(0), T = ids.getShape().get(1);
        int H = config.numHeads(), KV = config.numKvHeads(), Dh = config.headDim(), G = H / KV;
        NDArray x = rows(embed, ids);                                                      // [B, T, C]
        if (half) {
            x = Casts.to(x, compute, x.getManager());                                       // float32 masters
        }
        NDArray[] rotary = rotary(positions);                                           // 2 × [B, T, H+2KV, Dh]
        if (attnBias != null && G > 1 && T > 1) {
            attnBias = attnBias.tile(new long[] {1, 1, G, 1});                             // [B, 1, G*T, S]
        }
        long[] qkvSplit = {H, H + KV};
        LoraAdapter lora = adapter;
        // Without a graph to keep, a layer's activations are freed when the next layer starts: DJL otherwise keeps
        // every intermediate until the caller's scope closes, which for a prefill of 7 × 64 tokens at Qwen2.5-0.5B's
        // shape is 24 layers × ~60 MB. Decode steps (T = 1) are small and bound by native calls, so they skip it.
        NDManager outer = x.getManager();
        boolean freeLayers = T > 1 && !JniUtils.isGradMode();
        for (int li = 0; li < layers.length; li++) {
            Layer l = layers[li];
            NDManager layerScope = null;
            if (freeLayers) {
                layerScope = outer.newSubManager();
                x.attach(layerScope);
            }
            // attention block
            NDArray h = rmsNorm(x, l.attnNorm);
            NDArray qkv = h.matMul(use(l.wqkv, h));                                                // [B, T, (H+2KV)*Dh]
            if (lora != null) {
                qkv = lora.addTo(li, qkv, h, Target.Q, Target.K, Target.V);
            }
            if (l.bqkv != null) {
                qkv = qkv.add(use(l.bqkv, h));
            }
            qkv = qkv.reshape(B, T, H + 2L * KV, Dh);                                     // [B, T, H+2KV, Dh]
            if (l.qNorm != null) {
                // Qwen3: RMSNorm over each q and k head's Dh values, before RoPE (modeling_qwen3.py)
                NDList heads = qkv.split(qkvSplit, 2);                                     // [B, T, H|KV|KV, Dh]
                qkv = NDArrays.concat(new NDList(rmsNorm(heads.get(0), l.qNorm), rmsNorm(heads.get(1), l.kNorm),
                        heads.get(2)), 2);                                                 // [B, T, H+2KV, Dh]
            }
            qkv = qkv.mul(rotary[0]).add(qkv.matMul(rotateHalf).mul(rotary[1]));          // rotate-half RoPE
            NDList parts = qkv.split(qkvSplit, 2);                                         // [B, T, H|KV|KV, Dh]
            NDArray q, kT, v;
            if (T == 1) {
                q = parts.get(0).reshape(B, KV, G, Dh);                                    // [B, KV, G*T, Dh]
                kT = parts.get(1).reshape(B, KV, Dh, 1);                                   // [B, KV, Dh, T]
                v = parts.get(2).reshape(B, KV, 1, Dh);                                    // [B, KV, T, Dh]
            } else {
                q = parts.get(0).transpose(0, 2, 1, 3).reshape(B, KV, G * T, Dh);          // [B, KV, G*T, Dh]
                kT = parts.get(1).transpose(0, 2, 3, 1);                                   // [B, KV, Dh, T]
                v = parts.get(2).transpose(0, 2, 1, 3);                                    // [B, KV, T, Dh]
            }
            if (cache != null) {
                NDArray[] kv = cache.append(li, kT, v);
                kT = kv[0];                                                                 // [B, KV, Dh, S]
                v = kv[1];                                                                  // [B, KV, S, Dh]
            }
            NDArray att = q.matMul(kT);                                                     // [B, KV, G*T, S]
            if (half) {
                // scores, masking and softmax in float32 (a float16 mask of -1e9 would be -inf), then back
                att = Casts.to(att, dtype, att.getManager());
                att = Casts.to((attnBias == null ? att : att.add(attnBias)).softmax(-1), compute, att.getManager());
            } else {
                att = (attnBias == null ? att : att.add(attnBias)).softmax(-1);
            }
            NDArray y = att.matMul(v);                                                      // [B, KV, G*T, Dh]
            y = T == 1 ? y.reshape(B, 1, (long) H * Dh)
                    : y.reshape(B, H, T, Dh).transpose(0, 2, 1, 3).reshape(B, T, (long) H * Dh); // [B, T, H*Dh]
            NDArray o = y.matMul(use(l.wo, y));                                                    // [B, T, C]
            x = x.add(lora == null ? o : lora.addTo(li, o, y, Target.O));
            // SwiGLU MLP block
            h = rmsNorm(x, l.mlpNorm);
            NDArray gateUpOut = h.matMul(use(l.wGateUp, h));                                        // [B, T, 2I]
            if (lora != null) {
                gateUpOut = lora.addTo(li, gateUpOut, h, Target.GATE, Target.UP);
            }
            NDList gateUp = gateUpOut.split(2, 2);                                         // 2 × [B, T, I]
            NDArray gate = gateUp.get(0);
            NDArray m = gate.mul(Activation.sigmoid(gate)).mul(gateUp.get(1));             // [B, T, I]
            NDArray down = m.matMul(use(l.wDown, m));                                               // [B, T, C]
            x = x.add(lora == null ? down : lora.addTo(li, down, m, Target.DOWN));
            if (layerScope != null) {
                x.attach(outer);
                layerScope.close();
            }
        }
        if (cache != null) {
            cache.advance(T);
        }
        return rmsNorm(x, finalNorm);
    }

    /**
     * Per-head rotary factors for the fused q|k|v heads: {@code qkv·cos + rotateHalf(qkv)·sin} rotates q and k
     * (Su et al. 2021, arXiv 2104.09864, HF rotate-half layout), leaves v as it is (cos 1, sin 0), and folds
     * attention's 1/√Dh into q, which is linear and so commutes with the rotation.
     *
     * @return cos and sin, each {@code [B, T, H+2KV, Dh]}, owned by {@code m}
     */
    private NDArray[] rotary(NDArray positions) {
        NDArray cos = rows(cosTable, positions).expandDims(2);                              // [B, T, 1, Dh]
        NDArray sin = rows(sinTable, positions).expandDims(2);                              // [B, T, 1, Dh]
        return new NDArray[] {cos.mul(rotaryScale).add(rotaryIdentity), sin.mul(rotaryScale)};
    }

    /**
     * Projects hidden states to vocabulary logits.
     *
     * @param hidden {@code [..., C]}
     * @return logits {@code [..., V]}, owned by {@code hidden}'s manager
     */
    public NDArray logits(NDArray hidden) {
        // a tied head reuses the embedding [V, C] as a linear layer's weight (x·Wᵀ), an op that starts from
        // the activation, so nothing touches the shared model manager
        NDArray logits = lmHead == null
                ? hidden.getNDArrayInternal().linear(hidden, use(embed, hidden), null).singletonOrThrow()
                : hidden.matMul(use(lmHead, hidden));
        return half ? Casts.to(logits, dtype, hidden.getManager()) : logits;
    }

    /**
     * A weight in the activations' type: itself, or for float32 master weights under half precision a cast owned
     * by {@code activation}'s manager (the step's, not the model's), through which autograd reaches the weight.
     */
    private NDArray use(NDArray weight, NDArray activation) {
        return Casts.to(weight, compute, activation.getManager());
    }

    /**
     * Rows {@code table[index]}, e.g. embeddings of token ids: {@code [N, D]} and {@code [B, T]} give
     * {@code [B, T, D]}, owned by {@code index}'s manager and differentiable with respect to {@code table}.
     * An indexing op on the table itself would attach its result to the shared model manager first, which
     * concurrent requests must not do (DJL's manager bookkeeping then leaks under contention).
     */
    static NDArray rows(NDArray table, NDArray index) {
        return index.getNDArrayInternal().embedding(index, table, SparseFormat.DENSE).singletonOrThrow();
    }

    /**
     * Moves {@code a} to manager {@code m} and returns it: for results whose first operand is a weight, which
     * DJL would otherwise attach to the model manager for the model's whole life.
     */
    static NDArray owned(NDArray a, NDManager m) {
        a.attach(m);
        return a;
    }

    /** RMSNorm (Zhang and Sennrich 2019): x / sqrt(mean(x²) + eps) · w, over the last axis. */
    private NDArray rmsNorm(NDArray x, NDArray w) {
        if (half) {
            // normalised in float32, then scaled in the activations' type (Hugging Face's LlamaRMSNorm)
            NDArray f = Casts.to(x, dtype, x.getManager());
            NDArray n = f.div(f.square().mean(new int[] {-1}, true).add(normEps).sqrt());
            return Casts.to(n, compute, x.getManager()).mul(use(w, x));
        }
        return x.div(x.square().mean(new int[] {-1}, true).add(normEps).sqrt()).mul(w);
    }

    /**
     * cos and sin of position·ω_i, ω_i from {@link #inverseFrequencies}, each frequency written to both halves
     * of the head (HF layout).
     */
    static float[][] rotaryTables(int maxPos, int dh, double theta, DecoderConfig.RopeScaling scaling) {
        float[] cos = new float[maxPos * dh];
        float[] sin = new float[maxPos * dh];
        int half = dh / 2;
        double[] invFreq = inverseFrequencies(dh, theta, scaling);
        for (int pos = 0; pos < maxPos; pos++) {
            for (int i = 0; i < half; i++) {
                // float32 inverse frequency as in HF and llama2.c, then the angle in double
                double angle = pos * (double) (float) invFreq[i];
                float c = (float) Math.cos(angle), s = (float) Math.sin(angle);
                cos[pos * dh + i] = c;
                cos[pos * dh + i + half] = c;
                sin[pos * dh + i] = s;
                sin[pos * dh + i + half] = s;
            }
        }
        return new float[][] {cos, sin};
    }

    /**
     * The rotary inverse frequencies ω_i = θ^(−2i/Dh), i = 0 … Dh/2 − 1 (Su et al. 2021), rescaled as Llama 3
     * does when {@code scaling} is given (Meta's {@code apply_scaling} in llama-models, and
     * {@code _compute_llama3_parameters} in {@code transformers}' {@code modeling_rope_utils.py}): with
     * wavelength λ = 2π/ω, L the original context length, and low/high the frequency factors,
     * <pre>
     *   λ &lt; L / high                  ω                      (high frequencies kept)
     *   λ &gt; L / low                   ω / factor             (low frequencies interpolated)
     *   otherwise                     (1 − s)·ω/factor + s·ω, s = (L/λ − low) / (high − low)
     * </pre>
     *
     * @param dh      head width, even
     * @param theta   the base θ
     * @param scaling Llama 3's scaling, or null for none
     * @return Dh/2 inverse frequencies, in double
     */
    public static double[] inverseFrequencies(int dh, double theta, DecoderConfig.RopeScaling scaling) {
        double[] out = new double[dh / 2];
        for (int i = 0; i < out.length; i++) {
            double w = 1.0 / Math.pow(theta, (2.0 * i) / dh);
            if (scaling != null) {
                double wavelen = 2 * Math.PI / w;
                double original = scaling.originalMaxPositionEmbeddings();
                double low = scaling.lowFreqFactor(), high = scaling.highFreqFactor();
                if (wavelen > original / low) {
                    w = w / scaling.factor();
                } else if (!(wavelen < original / high)) {
                    double smooth = (original / wavelen - low) / (high - low);
                    w = (1 - smooth) * w / scaling.factor() + smooth * w;
                }
            }
            out[i] = w;
        }
        return out;
    }

    /** Makes a request-scoped KV cache for {@code batch} sequences of at most {@code capacity} positions. */
    public KvCache newCache(NDManager requestManager, int batch, int capacity) {
        return new KvCache(requestManager, config.numLayers(), batch, config.numKvHeads(), capacity, config.headDim(),
                compute);
    }

    /** Frees the weights, or for a view made by {@link #withAdapter}, its adapter only. */
    @Override
    public void close() {
        if (ownsWeights) {
            manager.close();
        } else if (adapter != null) {
            adapter.close();
        }
    }

    // ---- layout mapping between Hugging Face tensors and the fused, transposed weights ----

    private static HostTensor require(Function<String, HostTensor> tensors, String name) {
        HostTensor t = tensors.apply(name);
        if (t == null) {
            throw new IllegalArgumentException("missing tensor " + name);
        }
        return t;
    }

    /** A tensor as it is (vectors, the embedding). */
    private static NDArray vector(NDManager m, DataType dtype, Function<String, HostTensor> tensors, String name) {
        HostTensor t = require(tensors, name);
        return create(m, dtype, t.data(), new Shape(t.shape()));
    }

    /** Concatenates HF vectors into one, in Java, so no partial arrays are left on the manager. */
    private static NDArray concatenatedVector(NDManager m, DataType dtype, Function<String, HostTensor> tensors,
                                              String... names) {
        HostTensor[] parts = requireAll(tensors, names);
        int total = 0;
        for (HostTensor t : parts) {
            total += t.size();
        }
        float[] out = new float[total];
        int at = 0;
        for (HostTensor t : parts) {
            System.arraycopy(t.data(), 0, out, at, t.size());
            at += t.size();
        }
        return create(m, dtype, out, new Shape(total));
    }

    /** Each named tensor, asked for once (a streamed lookup reads it from disk on each call). */
    private static HostTensor[] requireAll(Function<String, HostTensor> tensors, String... names) {
        HostTensor[] out = new HostTensor[names.length];
        for (int i = 0; i < names.length; i++) {
            out[i] = require(tensors, names[i]);
        }
        return out;
    }

    /** Concatenates HF {@code [out_i, in]} matrices along out and transposes to {@code [in, Σ out_i]}. */
    private static NDArray transposedConcat(NDManager m, DataType dtype, Function<String, HostTensor> tensors,
                                            String... names) {
        HostTensor[] parts = requireAll(tensors, names);
        int in = (int) parts[0].shape()[1];
        int totalOut = 0;
        for (HostTensor t : parts) {
            totalOut += (int) t.shape()[0];
        }
        float[] w = new float[in * totalOut];
        int col = 0;
        for (HostTensor t : parts) {
            int out = (int) t.shape()[0];
            float[] d = t.data();
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) {
                    w[i * totalOut + col + o] = d[o * in + i];
                }
            }
            col += out;
        }
        return create(m, dtype, w, new Shape(in, totalOut));
    }

    /**
     * Float32 values in {@code dtype}: widened to float64 in Java, or narrowed to a half type natively with the
     * float32 copy freed at once, so no float32 copy is left on the manager.
     */
    private static NDArray create(NDManager m, DataType dtype, float[] values, Shape shape) {
        if (dtype == DataType.FLOAT32) {
            return m.create(values, shape);
        }
        if (dtype == DataType.FLOAT16 || dtype == DataType.BFLOAT16) {
            try (NDArray f = m.create(values, shape)) {
                return f.toType(dtype, false);
            }
        }
        double[] wide = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            wide[i] = values[i];
        }
        return m.create(wide, shape);
    }
}
