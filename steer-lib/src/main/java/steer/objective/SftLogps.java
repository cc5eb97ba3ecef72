package steer.objective;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.util.Objects;
import steer.model.SequenceScorer;

/**
 * Policy log-probabilities of a batch of B demonstrations (x, y), read by {@link Sft}. Prompt tokens never count.
 *
 * @param sums    log πθ(y|x) summed over response tokens, {@code [B]}, carrying the graph
 * @param lengths |y| in tokens, {@code [B]}; converted to the sums' data type
 */
public record SftLogps(NDArray sums, NDArray lengths) {

    public SftLogps {
        Objects.requireNonNull(sums, "sums");
        Objects.requireNonNull(lengths, "lengths");
        if (sums.getShape().dimension() != 1 || !sums.getShape().equals(lengths.getShape())) {
            throw new IllegalArgumentException("sums and lengths must both be [B], got " + sums.getShape()
                    + " and " + lengths.getShape());
        }
        DataType type = sums.getDataType();
        lengths = lengths.getDataType() == type ? lengths : lengths.toType(type, false);
    }

    /** Builds the input from one scored batch, as {@link SequenceScorer#score} returns it. */
    public static SftLogps of(SequenceScorer.Batch batch) {
        return new SftLogps(batch.sum(), batch.lengths());
    }
}
