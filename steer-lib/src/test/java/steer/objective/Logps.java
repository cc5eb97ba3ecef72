package steer.objective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import java.util.function.Function;

/** Float64 test inputs and a finite-difference gradient check, shared by the objective tests. */
final class Logps {

    private Logps() {
    }

    /**
     * Pairs from a flat vector {@code [policyChosen(B), policyRejected(B), referenceChosen(B), referenceRejected(B)]}
     * whose slices keep x's graph; lengths and strength (may be null) are constants on x's manager.
     */
    static PreferenceLogps pairs(NDArray x, double[] chosenLengths, double[] rejectedLengths, double[] strength) {
        int b = chosenLengths.length;
        NDManager m = x.getManager();
        return new PreferenceLogps(x.get("{}:{}", 0, b), x.get("{}:{}", b, 2 * b), x.get("{}:{}", 2 * b, 3 * b),
                x.get("{}:{}", 3 * b, 4 * b), m.create(chosenLengths), m.create(rejectedLengths),
                strength == null ? null : m.create(strength));
    }

    /** One pair with both responses of length 1 and no strength. */
    static PreferenceLogps pair(NDManager m, double pc, double pr, double rc, double rr) {
        return pairs(m.create(new double[] {pc, pr, rc, rr}), new double[] {1}, new double[] {1}, null);
    }

    static double value(LossResult r) {
        return value(r.loss());
    }

    static double value(NDArray scalar) {
        return scalar.toType(DataType.FLOAT64, false).getDouble();
    }

    /** d f / d x by autograd, f evaluated at x0 inside one gradient collector. */
    static double[] autograd(NDManager m, double[] x0, Function<NDArray, NDArray> f) {
        NDArray x = m.create(x0);
        x.setRequiresGradient(true);
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            collector.backward(f.apply(x));
        }
        return x.getGradient().toDoubleArray();
    }

    /**
     * Compares autograd with central differences (f(x + eps·e_i) − f(x − eps·e_i)) / (2·eps), eps = 1e-6, in
     * float64. The difference error is O(eps²·f''') + O(1e-16/eps), far below the tolerance
     * |fd − autograd| ≤ 1e-6·(1 + |autograd|).
     *
     * @return the autograd gradient
     */
    static double[] checkGradient(NDManager m, double[] x0, Function<NDArray, NDArray> f) {
        double[] grad = autograd(m, x0, f);
        double eps = 1e-6;
        for (int i = 0; i < x0.length; i++) {
            double[] plus = x0.clone();
            double[] minus = x0.clone();
            plus[i] += eps;
            minus[i] -= eps;
            double fd = (value(f.apply(m.create(plus))) - value(f.apply(m.create(minus)))) / (2 * eps);
            assertEquals(fd, grad[i], 1e-6 * (1 + Math.abs(grad[i])), "d loss / d x[" + i + "]");
        }
        return grad;
    }

    static void assertFinite(double[] values) {
        for (double v : values) {
            assertTrue(Double.isFinite(v), "not finite: " + v);
        }
    }
}
