package steer.model;

/**
 * One generated continuation.
 *
 * @param tokenIds     the new tokens, without the prompt; includes the EOS token when generation ended on it
 * @param logProbs     log π(token | prefix) of each new token under the model at temperature 1, unfiltered
 * @param finishReason why generation stopped
 */
public record GeneratedSequence(int[] tokenIds, float[] logProbs, FinishReason finishReason) {

    /** Why a sequence stopped growing. */
    public enum FinishReason {
        /** The model produced a stop token (EOS). */
        STOP_TOKEN,
        /** The caller's stop check fired (a stop string, for instance). */
        STOP_CHECK,
        /** max_new_tokens was reached. */
        LENGTH
    }
}
