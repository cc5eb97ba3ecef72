package steer.objective;

/**
 * A training objective: a pure function from log-probs to a scalar loss and its {@link Diagnostics}.
 *
 * <p>Each implementation is a record of its hyperparameters only, validated at construction, with a static
 * {@code defaults()}. Losses hold no state, do no I/O and create arrays only from their inputs' manager
 * (results follow the first operand), so the same input always gives the same output.
 *
 * @param <I> the input it reads: {@link SftLogps}, {@link PreferenceLogps} or {@link SsoLogps}
 */
public sealed interface Objective<I> permits Sft, PairObjective, Sso {

    /**
     * The loss over a batch: the mean over the batch of the per-example loss (for SFT, per token).
     *
     * @return a scalar loss owned by the inputs' manager, and diagnostics read once from detached copies
     */
    LossResult loss(I input);

    /** Asks the source for exactly the input this objective reads, then computes {@link #loss}. */
    LossResult lossFrom(LogpsSource source);
}
