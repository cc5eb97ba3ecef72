package steer.objective;

import ai.djl.ndarray.NDArray;

/**
 * Identity Preference Optimization: regresses the length-averaged log-ratio margin onto 1/(2β).
 *
 * <pre>
 *   L = (h − 1/(2β))²,   h = r̃(y_w) − r̃(y_l),   r̃(y) = (log πθ(y|x) − log π_ref(y|x)) / |y|
 * </pre>
 *
 * <p>β regularisation strength (a smaller β asks for a larger margin); |y| response length in tokens. Azar et
 * al. 2023, arXiv 2310.12036, Eq. 17.
 *
 * <p>Departures: the paper's h is over summed log-probs; here policy and reference log-probs are both averaged
 * per token, as TRL does (confirmed with the authors) and as the SSO authors' code does, so the target margin
 * does not depend on response length. TSO (Xu et al. 2024, arXiv 2409.02118, Eq. 12) writes the family as
 * (β'·h − 1/(2τ))² with β' = 0.1, τ = 0.2; since that equals β'²·(h − 1/(2τβ'))², it is this loss with
 * β = τ·β' (0.02 for TSO's values) scaled by β'².
 *
 * @param beta β &gt; 0; default 0.1 (TRL {@code DPOConfig}); DESIGN's SSO runs use 0.2 (see {@link Sso#defaults})
 */
public record Ipo(double beta) implements PairObjective {

    public Ipo {
        PairLosses.requirePositiveBeta("Ipo", beta, "TRL uses 0.1; SSO (Xiang et al. 2024) uses 0.2");
    }

    /** β = 0.1. */
    public static Ipo defaults() {
        return new Ipo(0.1);
    }

    /** Always true: IPO reads length-averaged log-ratios. */
    @Override
    public boolean perToken() {
        return true;
    }

    @Override
    public NDArray lossPerPair(PreferenceLogps in, LogRatios ratios) {
        return ratios.margin().sub(1 / (2 * beta)).square();
    }
}
