package steer.generator;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import steer.serving.BatchedGenerator;
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

    /**
     * How generation batches sequences: {@code continuous} (each sequence joins the running batch at a token
     * boundary and leaves it when done; max-batch-size is per decoding thread, queue-capacity counts places of
     * max-batch-size sequences) or {@code static} (requests gathered within batch-window run as one batch to its
     * longest sequence, as before). Scoring is always batched statically.
     */
    @WithDefault("continuous")
    BatchedGenerator.Scheduler scheduler();

    /** Decoding threads of the continuous scheduler; 0 = one per core. */
    @WithDefault("0")
    int decodeThreads();

    /** The decoding threads {@link #decodeThreads()} asks for. */
    default int resolvedDecodeThreads() {
        if (decodeThreads() < 0) {
            throw new IllegalArgumentException("steer.generator.decode-threads must be 0 (one per core) or positive, got "
                    + decodeThreads());
        }
        return decodeThreads() == 0 ? Runtime.getRuntime().availableProcessors() : decodeThreads();
    }
}
