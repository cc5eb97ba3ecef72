package steer.objective;

import ai.djl.ndarray.NDArray;
import steer.model.Scalars;

/**
 * TSO's dual-clip loss: two hinges that push the chosen log-ratio up and the rejected one down, each released
 * once its own margin is met.
 *
 * <pre>
 *   L = max(0, γ_w − β·r(y_w)) + max(0, γ_l + β·r(y_l)),   r(y) = log πθ(y|x) − log π_ref(y|x)
 * </pre>
 *
 * <p>β scale of the log-ratios; γ_w, γ_l the margins in units of β × log-ratio. Xu et al. 2024, "Self-Training
 * with Scaled Preference Optimization" (TSO), arXiv 2409.02118, its dual-clip reward loss.
 *
 * <p>Departures and caveat: with summed log-ratios and β = 0.1, the hinges release only at r(y_w) ≥ 200 and
 * r(y_l) ≤ −100 nats, never for short responses, where the loss is the unbounded −β·r(y_w) + β·r(y_l). For
 * short responses set {@code perToken} (length-averaged log-ratios) or scale γ to the response length, and
 * report the setting used (DESIGN, dual-clip note). The max is PyTorch's relu: zero gradient past the hinge.
 *
 * <p>Margins scaled to the response length ({@code lengthScale} L &gt; 0): each hinge's margin is its γ times the
 * response's length over L,
 *
 * <pre>
 *   L = max(0, γ_w·|y_w|/L − β·r(y_w)) + max(0, γ_l·|y_l|/L + β·r(y_l))
 * </pre>
 *
 * <p>so a response of L tokens keeps the paper's margins and a short one releases after proportionally less
 * log-ratio: the same margin per token as the paper's responses of L tokens. With summed log-ratios the
 * gradient is still the paper's (β per hinge that is not met).
 *
 * @param beta        β &gt; 0; default 0.1 (TSO)
 * @param gammaWin    γ_w ≥ 0; default 20 (TSO)
 * @param gammaLose   γ_l ≥ 0; default 10 (TSO)
 * @param perToken    read per-token log-ratios instead of summed ones; default false (the paper's form)
 * @param lengthScale L, the response length in tokens at which the margins are the paper's; 0 = not scaled
 *                    (the paper's form)
 */
public record DualClip(double beta, double gammaWin, double gammaLose, boolean perToken, double lengthScale)
        implements PairObjective {

    /** Margins not scaled to the length. */
    public DualClip(double beta, double gammaWin, double gammaLose, boolean perToken) {
        this(beta, gammaWin, gammaLose, perToken, 0);
    }

    public DualClip {
        if (!(lengthScale >= 0 && Double.isFinite(lengthScale))) {
            throw new IllegalArgumentException("DualClip length_scale must be finite and >= 0 (0 = margins not"
                    + " scaled to the response length), got " + lengthScale);
        }
        if (lengthScale > 0 && perToken) {
            throw new IllegalArgumentException("DualClip scales its margins to the length (length_scale "
                    + lengthScale + ") or reads per-token log-ratios (per_token), not both");
        }
        PairLosses.requirePositiveBeta("DualClip", beta, "TSO uses 0.1");
        if (!(gammaWin >= 0 && Double.isFinite(gammaWin) && gammaLose >= 0 && Double.isFinite(gammaLose))) {
            throw new IllegalArgumentException("DualClip margins must be finite and >= 0, got gammaWin=" + gammaWin
                    + ", gammaLose=" + gammaLose + "; TSO uses 20 and 10 (with summed log-ratios)");
        }
    }

    /** β = 0.1, γ_w = 20, γ_l = 10, summed log-ratios, as in TSO. */
    public static DualClip defaults() {
        return new DualClip(0.1, 20, 10, false);
    }

    @Override
    public NDArray lossPerPair(PreferenceLogps in, LogRatios ratios) {
        if (lengthScale == 0) {
            NDArray win = Scalars.mul(ratios.chosen(), -beta).add(gammaWin).getNDArrayInternal().relu();
            NDArray lose = Scalars.mul(ratios.rejected(), beta).add(gammaLose).getNDArrayInternal().relu();
            return win.add(lose);
        }
        NDArray marginWin = Scalars.mul(in.chosenLengths(), gammaWin / lengthScale);
        NDArray marginLose = Scalars.mul(in.rejectedLengths(), gammaLose / lengthScale);
        NDArray win = Scalars.mul(ratios.chosen(), -beta).add(marginWin).getNDArrayInternal().relu();
        NDArray lose = Scalars.mul(ratios.rejected(), beta).add(marginLose).getNDArrayInternal().relu();
        return win.add(lose);
    }
}
