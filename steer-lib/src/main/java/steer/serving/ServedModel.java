package steer.serving;

import java.nio.file.Path;

/**
 * What a registry serves under one name.
 *
 * @param name          the name callers use (the policy, an older version, another size)
 * @param version       the checkpoint version; 0 is the checkpoint a service started with
 * @param location      the checkpoint directory it was read from
 * @param parameters    trainable parameters (a tied head counted once)
 * @param maxPositions  the model's context length in tokens
 * @param vocabSize     the decoder's vocabulary size
 * @param memoryBytes   bytes its weights take as held ({@link steer.model.LanguageModel#parameterBytes}), what a
 *                      registry's memory budget counts
 */
public record ServedModel(String name, long version, Path location, long parameters, int maxPositions, int vocabSize,
                          long memoryBytes) {
}
