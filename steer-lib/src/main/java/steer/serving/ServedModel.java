package steer.serving;

import java.nio.file.Path;
import java.util.Optional;

/**
 * What a registry serves under one name.
 *
 * @param name          the name callers use (the policy, an older version, another size)
 * @param version       the checkpoint version; 0 is the checkpoint a service started with
 * @param location      the checkpoint directory it was read from: a full model, or a LoRA adapter
 * @param base          for an adapter, the checkpoint directory of the base weights it is applied onto; empty for a
 *                      full model
 * @param parameters    parameters held (a tied head counted once), an adapter's matrices included
 * @param maxPositions  the model's context length in tokens
 * @param vocabSize     the decoder's vocabulary size
 * @param memoryBytes   bytes its weights take as held ({@link steer.model.LanguageModel#parameterBytes}: for an
 *                      adapter, the base's and the adapter's), what a registry's memory budget counts
 */
public record ServedModel(String name, long version, Path location, Optional<Path> base, long parameters,
                          int maxPositions, int vocabSize, long memoryBytes) {
}
