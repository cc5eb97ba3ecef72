package steer.objective;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * Supervised fine-tuning: the mean negative log-likelihood per response token, prompt tokens masked.
 *
 * <pre>
 *   L = −Σ_b log πθ(y_b|x_b) / Σ_b |y_b|
 * </pre>
 *
 * <p>The sums run over the batch; log πθ(y|x) is summed over response tokens only, so every response token of
 * the batch weighs the same (as Hugging Face's causal-LM loss with masked prompt labels). No hyperparameters.
 */
public record Sft() implements Objective<SftLogps> {

    /** The only SFT objective. */
    public static Sft defaults() {
        return new Sft();
    }

    /** @throws IllegalArgumentException if the batch holds no response token */
    @Override
    public LossResult loss(SftLogps in) {
        NDArray tokens = in.lengths().sum();
        if (tokens.toType(DataType.FLOAT64, false).getDouble() < 1) {
            throw new IllegalArgumentException("SFT batch has no response tokens to learn from");
        }
        return new LossResult(in.sums().sum().div(tokens).neg(), Diagnostics.ofSft(in.sums()));
    }

    @Override
    public LossResult lossFrom(LogpsSource source) {
        return loss(source.sft());
    }
}
