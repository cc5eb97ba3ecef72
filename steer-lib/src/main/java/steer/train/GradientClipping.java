package steer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.List;

/**
 * Global gradient-norm clipping (Pascanu et al. 2013, arXiv 1211.5063), as PyTorch's {@code clip_grad_norm_}.
 * DJL's {@code optClipGrad} only clamps each element, which changes the gradient's direction; this keeps it.
 */
public final class GradientClipping {

    private GradientClipping() {
    }

    /**
     * Scales every gradient in place by maxNorm / ‖g‖ when the global L2 norm ‖g‖ = √(Σ_i Σ g_i²) over all of
     * them exceeds maxNorm; leaves them alone otherwise. The squares are summed in float64.
     *
     * <p>Departure from PyTorch: no 1e-6 is added to the norm, so the clipped norm is maxNorm exactly (up to the
     * gradients' precision); a non-finite norm leaves the gradients untouched, for the caller to skip the step.
     * Temporaries live on a sub-manager closed before returning; the gradients return to their own managers.
     *
     * @param grads   the gradients, modified in place
     * @param maxNorm the largest allowed global norm, &gt; 0; DESIGN's training default is 1.0
     * @return the global norm before clipping
     */
    public static double clipGlobalNorm(List<NDArray> grads, double maxNorm) {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("maxNorm must be > 0, got " + maxNorm + "; the default is 1.0");
        }
        if (grads.isEmpty()) {
            return 0;
        }
        try (NDManager scope = grads.get(0).getManager().newSubManager()) {
            double sumSquares = 0;
            for (NDArray g : grads) {
                g.tempAttach(scope);
                sumSquares += g.toType(DataType.FLOAT64, false).square().sum().getDouble();
            }
            double norm = Math.sqrt(sumSquares);
            if (norm > maxNorm && Double.isFinite(norm)) {
                double scale = maxNorm / norm;
                for (NDArray g : grads) {
                    g.muli(scale);
                }
            }
            return norm;
        }
    }
}
