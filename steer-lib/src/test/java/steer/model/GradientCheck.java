package steer.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import steer.checkpoint.DecoderConfig;

/**
 * Finite-difference checks of the gradient of a scalar function of a float64 decoder's weights: autograd
 * against central differences (f(w + h·e) − f(w − h·e)) / (2h), one weight entry e at a time.
 *
 * <p>Step and tolerance: h = 1e-5 in float64. The difference's truncation error is h²/6·f''' ≈ 2e-11·f''' and
 * its rounding error about 1e-16·|f| / h ≈ 1e-11·|f|, so for losses of order 1–30 and moderate curvature both
 * stay near 1e-9; the check allows |fd − autograd| ≤ {@value #ABSOLUTE} + {@value #RELATIVE}·|autograd|. The
 * largest discrepancy measured in the model and objective checks was 1/25 of that (1e-9 on a gradient of 0.03).
 */
public final class GradientCheck {

    /** The finite-difference step h. */
    public static final double STEP = 1e-5;
    /** Absolute part of the tolerance. */
    public static final double ABSOLUTE = 1e-8;
    /** Relative part of the tolerance. */
    public static final double RELATIVE = 1e-6;
    /** At least one checked gradient must exceed this, so a check cannot pass on all-zero gradients. */
    public static final double NON_ZERO = 1e-4;

    private GradientCheck() {
    }

    /**
     * One weight entry: a parameter by its name in {@link Decoder#parameters()} (the fused layout, e.g.
     * {@code layers.0.wqkv} as {@code [C, (H+2KV)·Dh]}) and its index in that array.
     */
    public record Entry(String parameter, long... index) {

        @Override
        public String toString() {
            return parameter + Arrays.toString(index);
        }
    }

    /** A tiny float64 decoder with weights N(0, 0.3²) (large enough that logits and attention vary), norms 1. */
    public static Decoder decoder(DecoderConfig config, long seed) {
        return Decoder.fromHostTensors(config, new DecoderInit(0.3, false).tensors(config, seed),
                NDManager.newBaseManager(), DataType.FLOAT64);
    }

    /**
     * Checks the gradient of {@code f} at each entry, autograd against central differences.
     *
     * @param decoder the float64 decoder whose weights {@code f} reads; its gradients are left at zero
     * @param entries the weight entries to check
     * @param f       the scalar function, computed on the step manager it is given
     * @return the autograd gradient at each entry
     */
    public static double[] check(Decoder decoder, List<Entry> entries, Function<NDManager, NDArray> f) {
        return check(decoder, decoder.parameters(), entries, f);
    }

    /**
     * Checks the gradient of {@code f} with respect to {@code trainable} only (a LoRA adapter's matrices, say),
     * as {@link #check(Decoder, List, Function)} does; every other array stays out of the recording.
     *
     * @param trainable the arrays that record gradients, by the names {@code entries} use
     */
    public static double[] check(Decoder decoder, List<Map.Entry<String, NDArray>> trainable, List<Entry> entries,
                                 Function<NDManager, NDArray> f) {
        Map<String, NDArray> parameters = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> p : trainable) {
            p.getValue().setRequiresGradient(true);
            parameters.put(p.getKey(), p.getValue());
        }
        double[] autograd = autograd(decoder, parameters, entries, f);
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false); // perturbing a weight in place must not be recorded
        try {
            for (int i = 0; i < entries.size(); i++) {
                NDArray w = parameters.get(entries.get(i).parameter());
                int at = flatIndex(w.getShape(), entries.get(i));
                double[] values = w.toDoubleArray();
                double w0 = values[at];
                values[at] = w0 + STEP;
                w.set(values);
                double plus = value(decoder, f);
                values[at] = w0 - STEP;
                w.set(values);
                double minus = value(decoder, f);
                values[at] = w0;
                w.set(values);
                double fd = (plus - minus) / (2 * STEP);
                double tolerance = ABSOLUTE + RELATIVE * Math.abs(autograd[i]);
                assertTrue(Math.abs(fd - autograd[i]) <= tolerance, "d f / d " + entries.get(i) + ": autograd "
                        + autograd[i] + ", central difference " + fd + ", tolerance " + tolerance);
            }
        } finally {
            JniUtils.setGradMode(gradMode);
        }
        assertTrue(Arrays.stream(autograd).anyMatch(g -> Math.abs(g) > NON_ZERO),
                "every checked gradient is below " + NON_ZERO + ": " + Arrays.toString(autograd));
        return autograd;
    }

    /** One recorded forward and backward; reads the entries' gradients and zeroes every parameter's. */
    private static double[] autograd(Decoder decoder, Map<String, NDArray> parameters, List<Entry> entries,
                                     Function<NDManager, NDArray> f) {
        double[] out = new double[entries.size()];
        try (NDManager step = decoder.manager().newSubManager()) {
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                collector.backward(f.apply(step));
            }
            for (int i = 0; i < entries.size(); i++) {
                NDArray w = parameters.get(entries.get(i).parameter());
                out[i] = gradient(w, step).toDoubleArray()[flatIndex(w.getShape(), entries.get(i))];
            }
            // DJL accumulates gradients across collectors, so the next check must start from zero
            for (NDArray w : parameters.values()) {
                gradient(w, step).subi(gradient(w, step));
            }
        }
        return out;
    }

    /** The parameter's gradient, as a handle owned by {@code step} (getGradient attaches it to the model's). */
    private static NDArray gradient(NDArray w, NDManager step) {
        NDArray g = w.getGradient();
        g.attach(step);
        return g;
    }

    private static double value(Decoder decoder, Function<NDManager, NDArray> f) {
        try (NDManager step = decoder.manager().newSubManager()) {
            return f.apply(step).getDouble();
        }
    }

    private static int flatIndex(Shape shape, Entry entry) {
        if (entry.index().length != shape.dimension()) {
            throw new IllegalArgumentException(entry + " does not index a parameter of shape " + shape);
        }
        long flat = 0;
        for (int d = 0; d < shape.dimension(); d++) {
            if (entry.index()[d] < 0 || entry.index()[d] >= shape.get(d)) {
                throw new IllegalArgumentException(entry + " is outside the parameter's shape " + shape);
            }
            flat = flat * shape.get(d) + entry.index()[d];
        }
        return Math.toIntExact(flat);
    }
}
