package steer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
import steer.checkpoint.SafetensorsWriter;
import steer.model.NativeFloats;

/**
 * Adam with decoupled weight decay, updating named parameters in place from their gradients.
 *
 * <pre>
 *   θ ← θ − η_t·λ·θ                         (only parameters in the decay group)
 *   m ← β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   θ ← θ − η_t·m̂ / (√v̂ + ε),   m̂ = m / (1 − β1^t),   v̂ = v / (1 − β2^t)
 * </pre>
 *
 * <p>t the 1-based update number; η_t the learning rate passed to {@link #step(double)}; g the parameter's
 * gradient; λ, β1, β2, ε from {@link AdamWConfig}. Loshchilov &amp; Hutter 2019, arXiv 1711.05101, Algorithm 2;
 * Kingma &amp; Ba 2015, arXiv 1412.6980. Departure: as PyTorch's {@code AdamW}, the decay is scaled by the
 * scheduled learning rate η_t (the paper scales λ by the schedule multiplier alone) and applied before the
 * moment update; √v̂ + ε is computed as √v / √(1 − β2^t) + ε.
 *
 * <p>Groups: parameters whose names match {@code noDecay} get λ = 0; {@link #NORMS_AND_BIASES} is the default
 * rule, the usual choice of Hugging Face trainers.
 *
 * <p>Memory: m and v are created lazily, at a parameter's first update, on the parameter's own manager, where they
 * live as long as the weights. Every temporary lives on a sub-manager closed inside each call. Call {@link #step}
 * after the gradient collector and any step scope are closed; it turns gradient recording off while it runs.
 * Not thread-safe.
 */
public final class AdamW {

    /**
     * No decay for norms and biases: a name with a dot-separated part ending in {@code norm} ({@code attn_norm},
     * {@code final_norm}, {@code input_layernorm.weight}) or whose last part is {@code bias} or {@code bqkv}.
     */
    public static final Predicate<String> NORMS_AND_BIASES = name -> {
        String[] parts = name.split("\\.");
        String last = parts[parts.length - 1];
        if (last.equals("bias") || last.equals("bqkv")) {
            return true;
        }
        for (String part : parts) {
            if (part.endsWith("norm")) {
                return true;
            }
        }
        return false;
    };

    private final AdamWConfig config;
    private final Map<String, NDArray> parameters = new LinkedHashMap<>();
    private final Predicate<String> noDecay;
    private final Map<String, NDArray[]> moments = new HashMap<>();
    private long step;

    /**
     * @param parameters the trainable arrays by unique name, e.g. {@code Decoder.parameters()}
     * @param noDecay    names exempt from weight decay
     */
    public AdamW(AdamWConfig config, List<Map.Entry<String, NDArray>> parameters, Predicate<String> noDecay) {
        this.config = config;
        this.noDecay = noDecay;
        for (Map.Entry<String, NDArray> e : parameters) {
            if (this.parameters.put(e.getKey(), e.getValue()) != null) {
                throw new IllegalArgumentException("parameter name " + e.getKey() + " appears twice");
            }
        }
    }

    /** With the {@link #NORMS_AND_BIASES} rule. */
    public AdamW(AdamWConfig config, List<Map.Entry<String, NDArray>> parameters) {
        this(config, parameters, NORMS_AND_BIASES);
    }

    /** The hyperparameters. */
    public AdamWConfig config() {
        return config;
    }

    /** The number of updates applied so far. */
    public long stepCount() {
        return step;
    }

    /** Whether the named parameter is in the weight-decay group. */
    public boolean decays(String name) {
        return !noDecay.test(name);
    }

    /**
     * Applies one update to every parameter that records gradients, with learning rate {@code lr} (the peak rate
     * times the schedule's factor). A gradient never computed reads as zeros, so such a parameter is still
     * decayed (PyTorch skips parameters whose gradient is None).
     */
    public void step(double lr) {
        if (!(lr >= 0 && Double.isFinite(lr))) {
            throw new IllegalArgumentException("learning rate must be finite and >= 0, got " + lr);
        }
        // in-place updates of leaves that require gradients are only legal with recording off
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            update(lr);
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    private void update(double lr) {
        step++;
        double b1 = config.beta1();
        double b2 = config.beta2();
        double stepSize = lr / (1 - Math.pow(b1, step));
        double sqrtCorrection2 = Math.sqrt(1 - Math.pow(b2, step));
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            NDArray p = e.getValue();
            if (!p.hasGradient()) {
                continue;
            }
            NDArray[] mv = moments.computeIfAbsent(e.getKey(), name -> new NDArray[] {
                p.getManager().zeros(p.getShape(), p.getDataType()), p.getManager().zeros(p.getShape(), p.getDataType())});
            try (NDManager scope = p.getManager().newSubManager()) {
                NDArray g = p.getGradient();
                g.attach(scope);
                // borrowed: results of ops on them land on the scope; they return to their manager at close
                p.tempAttach(scope);
                mv[0].tempAttach(scope);
                mv[1].tempAttach(scope);
                if (decays(e.getKey())) {
                    p.muli(1 - lr * config.weightDecay());
                }
                mv[0].muli(b1).addi(g.mul(1 - b1));
                mv[1].muli(b2).addi(g.square().muli(1 - b2));
                NDArray denominator = mv[1].sqrt().divi(sqrtCorrection2).addi(config.epsilon());
                p.subi(mv[0].div(denominator).muli(stepSize));
            }
        }
    }

    /** Sets every parameter's gradient to zero in place (also clearing NaN or inf); gradients otherwise accumulate. */
    public void zeroGradients() {
        for (NDArray p : parameters.values()) {
            if (p.hasGradient()) {
                try (NDManager scope = p.getManager().newSubManager()) {
                    NDArray g = p.getGradient();
                    g.attach(scope);
                    g.set(new NDIndex("..."), 0);
                }
            }
        }
    }

    /**
     * Clips the parameters' gradients to a global L2 norm; see {@link GradientClipping#clipGlobalNorm}.
     *
     * @return the global norm before clipping
     */
    public double clipGradients(double maxNorm) {
        List<NDArray> grads = new ArrayList<>();
        List<NDManager> scopes = new ArrayList<>();
        try {
            for (NDArray p : parameters.values()) {
                if (p.hasGradient()) {
                    NDManager scope = p.getManager().newSubManager();
                    scopes.add(scope);
                    NDArray g = p.getGradient();
                    g.attach(scope);
                    grads.add(g);
                }
            }
            return GradientClipping.clipGlobalNorm(grads, maxNorm);
        } finally {
            scopes.forEach(NDManager::close);
        }
    }

    /**
     * The parameters that have moments so far (those updated at least once), each with its shape, sorted by name:
     * with {@link #writeMoment}, what a checkpoint streams without {@link #exportState}'s copy of every moment.
     */
    public Map<String, long[]> momentShapes() {
        Map<String, long[]> out = new TreeMap<>();
        for (Map.Entry<String, NDArray[]> e : moments.entrySet()) {
            out.put(e.getKey(), e.getValue()[0].getShape().getShape());
        }
        return out;
    }

    /**
     * Puts a parameter's first ({@code second} false) or second moment into {@code sink}, float32, row-major, a
     * bounded piece at a time ({@link NativeFloats}): the Java heap holds one piece, not the moment.
     *
     * @throws IllegalArgumentException if the parameter has no moments yet
     * @throws IllegalStateException    if the moment is not float32 (as {@link #exportState})
     */
    public void writeMoment(String parameter, boolean second, SafetensorsWriter.FloatSink sink) {
        NDArray[] mv = moments.get(parameter);
        if (mv == null) {
            throw new IllegalArgumentException("parameter " + parameter + " has no optimizer state; parameters with"
                    + " state: " + momentShapes().keySet());
        }
        if (mv[0].getDataType() != DataType.FLOAT32) {
            throw new IllegalStateException("state export holds float32 only; parameter " + parameter + " is "
                    + mv[0].getDataType());
        }
        NativeFloats.write(mv[second ? 1 : 0], sink);
    }

    /** The step count and the moments of every parameter updated so far, copied to Java. */
    public AdamWState exportState() {
        Map<String, float[]> first = new HashMap<>();
        Map<String, float[]> second = new HashMap<>();
        for (Map.Entry<String, NDArray[]> e : moments.entrySet()) {
            NDArray[] mv = e.getValue();
            if (mv[0].getDataType() != DataType.FLOAT32) {
                throw new IllegalStateException("state export holds float32 only; parameter " + e.getKey()
                        + " is " + mv[0].getDataType());
            }
            first.put(e.getKey(), mv[0].toFloatArray());
            second.put(e.getKey(), mv[1].toFloatArray());
        }
        return new AdamWState(step, first, second);
    }

    /**
     * Replaces the step count and moments with exported ones; parameters absent from the state get fresh state at
     * their next update.
     *
     * @throws IllegalArgumentException if the state names an unknown parameter, has the wrong size, or the
     *                                  parameter is not float32
     */
    public void importState(MomentSource state) {
        Map<String, NDArray[]> loaded = new HashMap<>();
        try {
            for (String name : state.parameters()) {
                NDArray p = parameters.get(name);
                if (p == null) {
                    throw new IllegalArgumentException("optimizer state names unknown parameter " + name);
                }
                // one parameter's moments in the heap at a time: each is garbage once its native copy exists
                float[] m = state.first(name);
                float[] v = state.second(name);
                if (p.getDataType() != DataType.FLOAT32 || m.length != p.size() || v.length != p.size()) {
                    throw new IllegalArgumentException("optimizer state for " + name + " holds " + m.length + "/"
                            + v.length + " float32 values; the parameter has " + p.size() + " " + p.getDataType());
                }
                loaded.put(name, new NDArray[] {p.getManager().create(m, p.getShape()),
                    p.getManager().create(v, p.getShape())});
            }
        } catch (RuntimeException e) {
            for (NDArray[] partial : loaded.values()) {   // the optimizer keeps its old state
                partial[0].close();
                partial[1].close();
            }
            throw e;
        }
        for (NDArray[] old : moments.values()) {
            old[0].close();
            old[1].close();
        }
        moments.clear();
        moments.putAll(loaded);
        step = state.step();
    }
}
