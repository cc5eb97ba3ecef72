package steer.objective;

import ai.djl.ndarray.NDArray;

/**
 * The log-ratios of a batch of pairs, r(y) = log πθ(y|x) − log π_ref(y|x), summed or per token.
 *
 * @param chosen   r(y_w), {@code [B]}
 * @param rejected r(y_l), {@code [B]}
 */
public record LogRatios(NDArray chosen, NDArray rejected) {

    /** The margin h = r(y_w) − r(y_l), {@code [B]}, owned by chosen's manager. */
    public NDArray margin() {
        return chosen.sub(rejected);
    }
}
