package steer.objective;

import ai.djl.ndarray.NDArray;
import steer.model.Scalars;

/**
 * Conservative DPO: DPO with label smoothing, for preference labels that are wrong with probability ε.
 *
 * <pre>
 *   L = −(1−ε)·log σ(β·h) − ε·log σ(−β·h),   h = r(y_w) − r(y_l),   r(y) = log πθ(y|x) − log π_ref(y|x)
 * </pre>
 *
 * <p>β inverse temperature; ε assumed label-flip rate; log-probs summed over response tokens. Mitchell 2023, "A
 * note on DPO with noisy preferences and relationship to IPO"; TRL's {@code label_smoothing}. TSO (Xu et al.
 * 2024, arXiv 2409.02118, App. C.2.2) trains with ε = 0.3.
 *
 * <p>Departures: stable log σ as in {@link Dpo}; optional per-token log-ratios (off by default).
 *
 * @param beta     β &gt; 0; default 0.1
 * @param epsilon  ε in [0, 0.5); default 0.3 (TSO App. C.2.2); ε = 0 is DPO
 * @param perToken divide log-probs by response length before the margin; default false
 */
public record Cdpo(double beta, double epsilon, boolean perToken) implements PairObjective {

    public Cdpo {
        PairLosses.requirePositiveBeta("Cdpo", beta, "TSO uses 0.1");
        if (!(epsilon >= 0 && epsilon < 0.5)) {
            throw new IllegalArgumentException("Cdpo epsilon must be in [0, 0.5), got " + epsilon
                    + "; TSO (App. C.2.2) uses 0.3, TRL suggests 0.1 for robust DPO");
        }
    }

    /** β = 0.1, ε = 0.3, summed log-probs. */
    public static Cdpo defaults() {
        return new Cdpo(0.1, 0.3, false);
    }

    @Override
    public NDArray lossPerPair(PreferenceLogps in, LogRatios ratios) {
        NDArray z = Scalars.mul(ratios.margin(), beta);
        return Scalars.mul(PairLosses.logSigmoid(z), -(1 - epsilon)).sub(Scalars.mul(PairLosses.logSigmoid(z.neg()), epsilon));
    }
}
