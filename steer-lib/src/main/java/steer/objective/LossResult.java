package steer.objective;

import ai.djl.ndarray.NDArray;

/**
 * A loss value and what it reports.
 *
 * @param loss        the scalar loss (shape {@code []}), carrying the autograd graph; owned by the inputs' manager
 * @param diagnostics Java values read once from detached arrays
 */
public record LossResult(NDArray loss, Diagnostics diagnostics) {
}
