package steer.model;

/**
 * A prompt's continuation as text and tokens.
 *
 * @param text         the continuation, without the prompt; cut before a stop string when one was hit
 * @param promptIds    the prompt's token ids (with BOS)
 * @param tokenIds     the generated token ids
 * @param logProbs     log π of each generated token at temperature 1
 * @param finishReason why generation stopped
 */
public record TextCompletion(String text, int[] promptIds, int[] tokenIds, float[] logProbs,
                             GeneratedSequence.FinishReason finishReason) {
}
