package steer.generator;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import steer.serving.grpc.ModelServingConfig;

/**
 * The generator's settings, prefix {@code steer.generator}; read once at startup. The start model, LoadModel root,
 * batcher and text-length keys are those of {@link ModelServingConfig}.
 */
@ConfigMapping(prefix = "steer.generator")
public interface GeneratorConfig extends ModelServingConfig {

    /** Name of the model served at start; requests with an empty model field use it. */
    @Override
    @WithDefault("policy")
    String modelName();

    /** Most prompts in one request. */
    @WithDefault("64")
    int maxPrompts();

    /** Most samples per prompt (n). */
    @WithDefault("16")
    int maxSamples();
}
