package steer.objective;

import ai.djl.ndarray.NDArray;

/**
 * A loss over preference pairs: DPO, IPO, cDPO, dual-clip or SPCE. SSO takes one as its base loss.
 *
 * <p>Each is an {@code Objective<PreferenceLogps>} whose loss is the batch mean of {@link #lossPerPair}; the
 * unreduced per-pair form is what SSO weights example by example.
 */
public sealed interface PairObjective extends Objective<PreferenceLogps> permits Dpo, Ipo, Cdpo, DualClip, Spce {

    /** The inverse temperature β that scales log-ratios, also used for the reward diagnostics. */
    double beta();

    /** Whether the loss reads per-token (length-averaged) log-ratios instead of summed ones. */
    boolean perToken();

    /**
     * The loss of each pair, not reduced.
     *
     * @param in     the pairs
     * @param ratios {@code in.logRatios(perToken())}, computed once by the caller
     * @return {@code [B]}, owned by the log-ratios' manager
     */
    NDArray lossPerPair(PreferenceLogps in, LogRatios ratios);

    /** The mean loss over the pairs with its diagnostics; see {@link Objective#loss}. */
    @Override
    default LossResult loss(PreferenceLogps in) {
        return PairLosses.meanLoss(this, in);
    }

    @Override
    default LossResult lossFrom(LogpsSource source) {
        return loss(source.pairs());
    }
}
