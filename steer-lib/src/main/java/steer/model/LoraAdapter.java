package steer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HostTensor;
import steer.checkpoint.LoraCheckpoint;
import steer.checkpoint.LoraConfig;
import steer.checkpoint.LoraConfig.Target;

/**
 * LoRA adapter matrices for every layer of a decoder (Hu et al. 2021, arXiv 2106.09685, Eq. 3): a targeted
 * projection {@code y = x·Wᵀ} becomes
 * <pre>
 *   y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ,   s = α / r,   A [r, in],  B [out, r]
 * </pre>
 * so only A and B (r·(in + out) values per projection) are trained while W stays frozen, and the adapter is
 * saved on its own in PEFT's layout ({@link LoraCheckpoint}). A new adapter starts as PEFT's does: A from
 * {@code kaiming_uniform_(a = √5)}, which is U(−1/√in, 1/√in), and B = 0, so the adapted model starts equal to
 * the base (Hu et al. §4.1).
 *
 * <p>Use: {@link Decoder#withAdapter} puts an adapter in front of a base decoder's weights, without copying
 * them; {@link #read} loads a PEFT directory onto a base that is already in memory (a served model's hot swap).
 *
 * <p>Layout: A and B are held transposed, {@code Aᵀ [in, r]} and {@code Bᵀ [r, out]}, so each is one
 * {@code x.matMul(w)} like the decoder's weights; {@link #toCheckpoint} writes them in PEFT's orientation.
 *
 * <p>Memory: the matrices and the scale live on the adapter's own manager, which {@link #close} frees; the
 * decoder's weights are untouched. What {@link #addTo} computes is owned by the input's manager.
 */
@SuppressWarnings("checkstyle:LocalVariableName") // single-letter dimension names follow the shape comments
public final class LoraAdapter implements AutoCloseable {

    private final DecoderConfig base;
    private final LoraConfig config;
    private final NDManager manager;
    private final DataType dtype;
    private final List<Map<Target, NDArray[]>> layers; // per layer: target -> {Aᵀ [in, r], Bᵀ [r, out]}
    private final NDArray scale;                        // [1], s = α / r (an array: a scalar operand costs a tensor)

    private LoraAdapter(DecoderConfig base, LoraConfig config, NDManager manager, DataType dtype,
                        List<Map<Target, NDArray[]>> layers) {
        this.base = base;
        this.config = config;
        this.manager = manager;
        this.dtype = dtype;
        this.layers = layers;
        this.scale = dtype == DataType.FLOAT64 ? manager.create(new double[] {config.scale()})
                : manager.create(new float[] {(float) config.scale()});
    }

    /**
     * A new adapter as PEFT initialises one: A ~ U(−1/√in, 1/√in) drawn from one {@link Random} stream seeded
     * with {@code seed} (layer after layer, targets in q, k, v, o, gate, up, down order), B = 0.
     *
     * @param manager owns the matrices from now on; the adapter closes it
     * @param dtype   FLOAT32, or FLOAT64 to match a float64 decoder in gradient checks
     */
    public static LoraAdapter initialise(DecoderConfig base, LoraConfig config, long seed, NDManager manager,
                                         DataType dtype) {
        Random random = new Random(seed);
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        int r = config.rank();
        for (int l = 0; l < base.numLayers(); l++) {
            for (Target t : config.orderedTargets()) {
                int in = t.in(base), out = t.out(base);
                float[] a = new float[r * in];
                double bound = 1 / Math.sqrt(in); // kaiming_uniform_ with a = √5: gain √(2/6) times √(3/in)
                for (int i = 0; i < a.length; i++) {
                    a[i] = (float) ((2 * random.nextDouble() - 1) * bound);
                }
                String nameA = LoraConfig.tensorName(l, t, "A"), nameB = LoraConfig.tensorName(l, t, "B");
                tensors.put(nameA, new HostTensor(nameA, new long[] {r, in}, a));
                tensors.put(nameB, new HostTensor(nameB, new long[] {out, r}, new float[out * r]));
            }
        }
        return fromCheckpoint(base, new LoraCheckpoint(config, tensors), manager, dtype);
    }

    /**
     * An adapter from PEFT-named tensors (checked against the base by {@link LoraCheckpoint#load}).
     *
     * @param manager owns the matrices from now on; the adapter closes it
     */
    public static LoraAdapter fromCheckpoint(DecoderConfig base, LoraCheckpoint checkpoint, NDManager manager,
                                             DataType dtype) {
        if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT64) {
            throw new IllegalArgumentException("adapter data type must be FLOAT32 or FLOAT64, got " + dtype);
        }
        LoraConfig config = checkpoint.config();
        List<Map<Target, NDArray[]>> layers = new ArrayList<>();
        for (int l = 0; l < base.numLayers(); l++) {
            Map<Target, NDArray[]> m = new EnumMap<>(Target.class);
            for (Target t : config.orderedTargets()) {
                HostTensor a = require(checkpoint, LoraConfig.tensorName(l, t, "A"));
                HostTensor b = require(checkpoint, LoraConfig.tensorName(l, t, "B"));
                m.put(t, new NDArray[] {transposed(manager, dtype, a), transposed(manager, dtype, b)});
            }
            layers.add(m);
        }
        return new LoraAdapter(base, config, manager, dtype, layers);
    }

    /**
     * Reads a PEFT adapter directory for {@code base}: the matrices go on a child of the base's manager, in the
     * base's data type, so {@code base.withAdapter(LoraAdapter.read(dir, base))} serves the adapted model.
     *
     * @throws steer.checkpoint.CheckpointException if the directory is malformed or does not fit the base
     */
    public static LoraAdapter read(Path dir, Decoder base) {
        LoraCheckpoint checkpoint = LoraCheckpoint.load(dir, base.config());
        return fromCheckpoint(base.config(), checkpoint, base.manager().newSubManager(), base.dtype());
    }

    /** The matrices in PEFT's names and orientation, copied to Java memory as float32 (for saving). */
    public LoraCheckpoint toCheckpoint() {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (int l = 0; l < layers.size(); l++) {
            for (Map.Entry<Target, NDArray[]> e : layers.get(l).entrySet()) {
                String nameA = LoraConfig.tensorName(l, e.getKey(), "A"), nameB = LoraConfig.tensorName(l, e.getKey(), "B");
                out.put(nameA, untransposed(nameA, e.getValue()[0]));
                out.put(nameB, untransposed(nameB, e.getValue()[1]));
            }
        }
        return new LoraCheckpoint(config, out);
    }

    /**
     * The trainable matrices, named {@code layers.N.<module>.lora_A} / {@code lora_B} (held as Aᵀ and Bᵀ), in a
     * fixed order; an optimizer updates them in place.
     */
    public List<Map.Entry<String, NDArray>> parameters() {
        List<Map.Entry<String, NDArray>> out = new ArrayList<>();
        for (int l = 0; l < layers.size(); l++) {
            for (Map.Entry<Target, NDArray[]> e : layers.get(l).entrySet()) {
                String p = "layers." + l + "." + e.getKey().module() + ".";
                out.add(Map.entry(p + "lora_A", e.getValue()[0]));
                out.add(Map.entry(p + "lora_B", e.getValue()[1]));
            }
        }
        return out;
    }

    /** The hyperparameters. */
    public LoraConfig config() {
        return config;
    }

    /** The base shape the adapter fits. */
    public DecoderConfig baseConfig() {
        return base;
    }

    /** FLOAT32, or FLOAT64 for gradient checks. */
    public DataType dtype() {
        return dtype;
    }

    /** Adapter values (A and B entries) held. */
    public long parameterCount() {
        long n = 0;
        for (Map.Entry<String, NDArray> p : parameters()) {
            n += p.getValue().size();
        }
        return n;
    }

    /**
     * Adds the adapter's part to a projection's output in place, for a projection whose output is {@code parts}
     * side by side (q|k|v, gate|up, or one of o, down): with the targeted parts' matrices stacked,
     * <pre>
     *   y += s·(x·[A₁ᵀ | A₂ᵀ | …])·blockdiag(B₁ᵀ, B₂ᵀ, …)     (a part without an adapter: zero columns)
     * </pre>
     * which equals each part's {@code s·(x·Aᵀ)·Bᵀ} in its own columns, in two products whose only activation-sized
     * result is the one addition (every op's result stays alive until the step's scope closes, so each counts).
     * In place is safe under autograd: a product's backward reads its inputs, not its output.
     *
     * @param y {@code [..., Σ out]}, a projection's output owned by the step; returned
     * @param x {@code [..., in]}, the projection's input
     * @return {@code y}, with the adapter's part added when any part has an adapter
     */
    NDArray addTo(int layer, NDArray y, NDArray x, Target... parts) {
        Map<Target, NDArray[]> m = layers.get(layer);
        NDManager step = x.getManager();
        int r = config.rank(), in = (int) x.getShape().get(x.getShape().dimension() - 1), width = 0;
        boolean any = false;
        for (Target t : parts) {
            width += t.out(base);
            any |= m.containsKey(t);
        }
        if (!any) {
            return y;
        }
        // every list starts with a zero-width array of the step, so each concatenation's result belongs to the
        // step (DJL attaches a result to its first operand's manager, and the adapter's is shared by requests)
        NDList a = new NDList(step.zeros(new Shape(in, 0), dtype));
        NDList rows = new NDList(step.zeros(new Shape(0, width), dtype));
        int at = 0;
        for (Target t : parts) {
            NDArray[] ab = m.get(t);
            if (ab != null) {
                a.add(ab[0]);
                rows.add(NDArrays.concat(new NDList(step.zeros(new Shape(r, at), dtype), ab[1],
                        step.zeros(new Shape(r, width - at - t.out(base)), dtype)), 1));    // [r, Σ out]
            }
            at += t.out(base);
        }
        NDArray aT = NDArrays.concat(a, 1);                                                 // [in, n·r]
        NDArray bT = NDArrays.concat(rows, 0);                                              // [n·r, Σ out]
        if (x.getDataType() == dtype) {
            return y.addi(x.matMul(aT).mul(scale).matMul(bT));                            // [..., n·r] → [..., Σ out]
        }
        // a half-precision base: the adapter stays float32 (its master weights), as PEFT casts the input to it
        NDArray delta = Casts.to(x, dtype, step).matMul(aT).mul(scale).matMul(bT);
        return y.addi(Casts.to(delta, y.getDataType(), step));
    }

    @Override
    public void close() {
        manager.close();
    }

    private static HostTensor require(LoraCheckpoint checkpoint, String name) {
        HostTensor t = checkpoint.tensors().get(name);
        if (t == null) {
            throw new IllegalArgumentException("missing adapter tensor " + name);
        }
        return t;
    }

    /** PEFT {@code [rows, cols]} to this layout's {@code [cols, rows]}, widened to {@code dtype} in Java. */
    private static NDArray transposed(NDManager m, DataType dtype, HostTensor t) {
        int rows = (int) t.shape()[0], cols = (int) t.shape()[1];
        float[] d = t.data();
        Shape shape = new Shape(cols, rows);
        if (dtype == DataType.FLOAT32) {
            float[] w = new float[d.length];
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    w[j * rows + i] = d[i * cols + j];
                }
            }
            return m.create(w, shape);
        }
        double[] w = new double[d.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                w[j * rows + i] = d[i * cols + j];
            }
        }
        return m.create(w, shape);
    }

    /** Inverse of {@link #transposed}, narrowed to float32 in Java (no native temporary on the adapter's manager). */
    private static HostTensor untransposed(String name, NDArray a) {
        int rows = (int) a.getShape().get(0), cols = (int) a.getShape().get(1);
        double[] d = a.getDataType() == DataType.FLOAT64 ? a.toDoubleArray() : null;
        float[] f = d == null ? a.toFloatArray() : null;
        float[] out = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                out[j * rows + i] = d != null ? (float) d[i * cols + j] : f[i * cols + j];
            }
        }
        return new HostTensor(name, new long[] {cols, rows}, out);
    }
}
