package steer.serving;

import steer.model.GeneratedSequence;

/**
 * One sample of a generation job, with the model that produced it.
 *
 * @param promptIndex  index of its prompt in the job
 * @param sampleIndex  0..n-1 among that prompt's samples
 * @param text         the continuation, cut before a stop string
 * @param tokenIds     the generated token ids (with the EOS token when it ended on one)
 * @param logProbs     log π of each generated token at temperature 1
 * @param finishReason why it stopped
 * @param model        the name of the model that produced it
 * @param modelVersion that model's checkpoint version
 * @param seed         the seed of the generation call that drew it
 */
public record GeneratedSample(int promptIndex, int sampleIndex, String text, int[] tokenIds, float[] logProbs,
                              GeneratedSequence.FinishReason finishReason, String model, long modelVersion, long seed) {
}
