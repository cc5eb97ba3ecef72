package steer.objective;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import steer.model.Scalars;

/**
 * OSP's soft-preference cross-entropy: DPO's logistic loss with a judged preference strength as soft label.
 *
 * <pre>
 *   L = −[p·log p̂ + (1−p)·log(1−p̂)],   p̂ = σ(β·h),   h = r(y_w) − r(y_l),   r(y) = log πθ(y|x) − log π_ref(y|x)
 * </pre>
 *
 * <p>p the judge's strength p(y_w ≻ y_l | x) in [0, 1] ({@link PreferenceLogps#strength()}); β inverse
 * temperature; log-probs summed over response tokens. Zhang et al. 2024 (OSP), arXiv 2405.14103, the SPCE loss;
 * p = 1 gives DPO.
 *
 * <p>Departures: log(1−p̂) is computed as log σ(−β·h), both through the stable log σ of {@link Dpo};
 * optional per-token log-ratios (off by default).
 *
 * @param beta     β &gt; 0; default 0.1; OSP Table 4 uses 0.001–0.1 by task and model
 * @param perToken divide log-probs by response length before the margin; default false
 */
public record Spce(double beta, boolean perToken) implements PairObjective {

    public Spce {
        PairLosses.requirePositiveBeta("Spce", beta, "OSP (Table 4) uses 0.001 to 0.1 by task and model");
    }

    /** β = 0.1, summed log-probs. */
    public static Spce defaults() {
        return new Spce(0.1, false);
    }

    /** @throws IllegalArgumentException when the pairs carry no strength or a strength lies outside [0, 1] */
    @Override
    public NDArray lossPerPair(PreferenceLogps in, LogRatios ratios) {
        NDArray p = in.strength();
        if (p == null) {
            throw new IllegalArgumentException("Spce needs the judged strength p of each pair, but"
                    + " PreferenceLogps.strength is null");
        }
        for (double v : p.toType(DataType.FLOAT64, false).toDoubleArray()) {
            if (!(v >= 0 && v <= 1)) {
                throw new IllegalArgumentException("Spce strength p must lie in [0, 1], got " + v);
            }
        }
        NDArray z = Scalars.mul(ratios.margin(), beta);
        return PairLosses.logSigmoid(z).mul(p).add(PairLosses.logSigmoid(z.neg()).mul(p.neg().add(1))).neg();
    }
}
