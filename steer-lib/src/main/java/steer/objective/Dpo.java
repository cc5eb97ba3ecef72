package steer.objective;

import ai.djl.ndarray.NDArray;
import steer.model.Scalars;

/**
 * Direct Preference Optimization: a logistic loss on the policy's implicit reward margin over the reference.
 *
 * <pre>
 *   L = −log σ(β·h),   h = r(y_w) − r(y_l),   r(y) = log πθ(y|x) − log π_ref(y|x)
 * </pre>
 *
 * <p>β inverse temperature (strength of the KL anchor to π_ref); y_w, y_l chosen and rejected responses;
 * log-probs summed over response tokens. Rafailov et al. 2023, arXiv 2305.18290, Eq. 7.
 *
 * <p>Departures: log σ is computed as −softplus(−z) so margins of any size stay finite; {@code perToken}
 * optionally reads length-averaged log-ratios (not in the paper; off by default).
 *
 * @param beta     β &gt; 0; default 0.1 (the paper's value for dialogue; same as TRL {@code DPOConfig})
 * @param perToken divide log-probs by response length before the margin; default false
 */
public record Dpo(double beta, boolean perToken) implements PairObjective {

    public Dpo {
        PairLosses.requirePositiveBeta("Dpo", beta, "Rafailov et al. 2023 recommend 0.1");
    }

    /** β = 0.1, summed log-probs. */
    public static Dpo defaults() {
        return new Dpo(0.1, false);
    }

    @Override
    public NDArray lossPerPair(PreferenceLogps in, LogRatios ratios) {
        return PairLosses.logSigmoid(Scalars.mul(ratios.margin(), beta)).neg();
    }
}
