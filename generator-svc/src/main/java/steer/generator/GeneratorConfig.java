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

    /**
     * The admin key LoadModel needs ({@code authorization: Bearer <key>}; see {@link AdminAuth}); unset: open, as on
     * loopback in the demo. The orchestrator sends {@code steer.orchestrator.generator-admin-key}.
     */
    java.util.Optional<String> adminKey();

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

    /**
     * With the continuous scheduler, pick tokens in native ops (temperature, top-k, top-p on the device; only the
     * chosen ids and their log-probs reach Java) instead of copying every row's vocabulary log-probs to the Java
     * sampler. The same draws up to float32 rounding, so seeded samples can differ from the Java sampler's in
     * rare tokens; off by default, so seeded outputs stay those of earlier versions.
     */
    @WithDefault("false")
    boolean deviceSampling();

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
