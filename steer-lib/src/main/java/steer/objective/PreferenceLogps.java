package steer.objective;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.util.Objects;
import steer.model.SequenceScorer;

/**
 * Log-probabilities of a batch of B preference pairs (x, y_w, y_l) under the policy and the reference model:
 * everything a pair objective reads.
 *
 * <p>Log-probs are summed over response tokens; per-token means are derived from the lengths, so a loss that
 * normalises by length (IPO, or any pair loss with {@code perToken}) divides sum by |y| as TRL does. Policy
 * arrays carry the autograd graph when recorded under a gradient collector; reference arrays normally do not.
 * Lengths and strength are converted to the log-probs' data type. Every derived array is owned by the manager
 * of the array it starts from (the step manager that owns the inputs).
 *
 * @param policyChosen      log πθ(y_w|x) summed over response tokens, {@code [B]}
 * @param policyRejected    log πθ(y_l|x) summed, {@code [B]}
 * @param referenceChosen   log π_ref(y_w|x) summed, {@code [B]}
 * @param referenceRejected log π_ref(y_l|x) summed, {@code [B]}
 * @param chosenLengths     |y_w| in tokens, {@code [B]}; a length below 1 counts as 1 when averaging
 * @param rejectedLengths   |y_l| in tokens, {@code [B]}
 * @param strength          optional judged strength p(y_w ≻ y_l) in [0, 1], {@code [B]}, read by SPCE; may be null
 */
public record PreferenceLogps(NDArray policyChosen, NDArray policyRejected, NDArray referenceChosen,
                              NDArray referenceRejected, NDArray chosenLengths, NDArray rejectedLengths,
                              NDArray strength) {

    public PreferenceLogps {
        Objects.requireNonNull(policyChosen, "policyChosen");
        long b = batchSize(policyChosen, "policyChosen");
        DataType type = policyChosen.getDataType();
        String[] names = {"policyRejected", "referenceChosen", "referenceRejected", "chosenLengths",
                "rejectedLengths"};
        NDArray[] arrays = {policyRejected, referenceChosen, referenceRejected, chosenLengths, rejectedLengths};
        for (int i = 0; i < arrays.length; i++) {
            Objects.requireNonNull(arrays[i], names[i]);
            if (batchSize(arrays[i], names[i]) != b) {
                throw new IllegalArgumentException(names[i] + " has " + arrays[i].getShape()
                        + " but policyChosen has [" + b + "]: every array must be [B]");
            }
        }
        if (strength != null && batchSize(strength, "strength") != b) {
            throw new IllegalArgumentException("strength has " + strength.getShape() + ", expected [" + b + "]");
        }
        chosenLengths = as(chosenLengths, type);
        rejectedLengths = as(rejectedLengths, type);
        strength = strength == null ? null : as(strength, type);
    }

    /**
     * Builds the input from four scored batches, as {@link SequenceScorer#score} returns them.
     *
     * @param strength optional p(y_w ≻ y_l), {@code [B]}, or null
     */
    public static PreferenceLogps of(SequenceScorer.Batch policyChosen, SequenceScorer.Batch policyRejected,
                                     SequenceScorer.Batch referenceChosen, SequenceScorer.Batch referenceRejected,
                                     NDArray strength) {
        return new PreferenceLogps(policyChosen.sum(), policyRejected.sum(), referenceChosen.sum(),
                referenceRejected.sum(), policyChosen.lengths(), policyRejected.lengths(), strength);
    }

    /** The batch size B. */
    public long batchSize() {
        return policyChosen.getShape().get(0);
    }

    /** π̃θ(y_w|x) = log πθ(y_w|x) / |y_w|, {@code [B]}, owned by policyChosen's manager. */
    public NDArray policyChosenMean() {
        return policyChosen.div(chosenLengths.maximum(1));
    }

    /** π̃θ(y_l|x) = log πθ(y_l|x) / |y_l|, {@code [B]}, owned by policyRejected's manager. */
    public NDArray policyRejectedMean() {
        return policyRejected.div(rejectedLengths.maximum(1));
    }

    /**
     * The log-ratios r(y) = log πθ(y|x) − log π_ref(y|x) of both responses, computed once for every pair loss.
     *
     * @param perToken true to divide each log-prob by its response length first (length-averaged, as IPO)
     * @return arrays {@code [B]} owned by the policy arrays' manager
     */
    public LogRatios logRatios(boolean perToken) {
        NDArray chosen = policyChosen.sub(referenceChosen);
        NDArray rejected = policyRejected.sub(referenceRejected);
        if (perToken) {
            chosen = chosen.div(chosenLengths.maximum(1));
            rejected = rejected.div(rejectedLengths.maximum(1));
        }
        return new LogRatios(chosen, rejected);
    }

    private static long batchSize(NDArray a, String name) {
        if (a.getShape().dimension() != 1 || a.getShape().get(0) < 1) {
            throw new IllegalArgumentException(name + " must have shape [B] with B >= 1, got " + a.getShape());
        }
        return a.getShape().get(0);
    }

    private static NDArray as(NDArray a, DataType type) {
        return a.getDataType() == type ? a : a.toType(type, false);
    }
}
