package steer.objective;

import ai.djl.ndarray.NDArray;

/** Pieces shared by the pair losses. */
final class PairLosses {

    private PairLosses() {
    }

    /**
     * log σ(z) computed as −softplus(−z), owned by z's manager. PyTorch's softplus returns its input above 20
     * and log1p(exp(x)) below, so margins of ±1e4 give neither inf nor NaN, in the value or the gradient.
     */
    static NDArray logSigmoid(NDArray z) {
        return z.neg().getNDArrayInternal().softPlus().neg();
    }

    /** The body of every {@link PairObjective#loss}: log-ratios once, per-pair loss, batch mean, diagnostics. */
    static LossResult meanLoss(PairObjective objective, PreferenceLogps in) {
        LogRatios ratios = in.logRatios(objective.perToken());
        NDArray perPair = objective.lossPerPair(in, ratios);
        return new LossResult(perPair.mean(), Diagnostics.ofPairs(objective.beta(), ratios, in));
    }

    static void requirePositiveBeta(String objective, double beta, String recommended) {
        if (!(beta > 0 && Double.isFinite(beta))) {
            throw new IllegalArgumentException(objective + " beta must be finite and > 0, got " + beta + "; "
                    + recommended);
        }
    }
}
