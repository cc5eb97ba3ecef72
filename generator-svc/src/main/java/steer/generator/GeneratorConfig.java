package steer.generator;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import steer.serving.MicroBatcher;

/** The generator's settings, prefix {@code steer.generator}; read once at startup. */
@ConfigMapping(prefix = "steer.generator")
public interface GeneratorConfig {

    /** Checkpoint directory (Hugging Face layout) of the model served at start; none = start empty, never ready. */
    Optional<Path> modelLocation();

    /** Name of the model served at start; requests with an empty model field use it. */
    @WithDefault("policy")
    String modelName();

    /** Checkpoint version reported for the model served at start (0 = the SFT model). */
    @WithDefault("0")
    long modelVersion();

    /** If set, LoadModel only reads directories under this root (a public API must not read arbitrary paths). */
    Optional<Path> allowedRoot();

    /** How long the oldest waiting request waits for others to share its batch. */
    @WithDefault("5ms")
    Duration batchWindow();

    /** Most sequences (prompts × samples) in one forward batch. */
    @WithDefault("32")
    int maxBatchSize();

    /** Most batch chunks waiting; beyond it requests fail with RESOURCE_EXHAUSTED. */
    @WithDefault("256")
    int queueCapacity();

    /** Most prompts in one request. */
    @WithDefault("64")
    int maxPrompts();

    /** Most samples per prompt (n). */
    @WithDefault("16")
    int maxSamples();

    /** Longest prompt or response in characters, checked before tokenizing. */
    @WithDefault("8192")
    int maxTextChars();

    /** The batcher settings these values describe; fails at startup on out-of-range values. */
    default MicroBatcher.Settings batching() {
        return new MicroBatcher.Settings(batchWindow(), maxBatchSize(), queueCapacity());
    }
}
