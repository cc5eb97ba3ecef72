package steer.judge.api;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import steer.serving.MicroBatcher;

/** The judge's settings, prefix {@code steer.judge}; read once at startup. */
@ConfigMapping(prefix = "steer.judge")
public interface JudgeConfig {

    /** Checkpoint directory of the judge model served at start (OSP pins the SFT model); none = never ready. */
    Optional<Path> modelLocation();

    /** Name of the model served at start; requests with an empty model field use it. */
    @WithDefault("judge")
    String modelName();

    /** Checkpoint version reported for the model served at start. */
    @WithDefault("0")
    long modelVersion();

    /** If set, LoadModel only reads directories under this root. */
    Optional<Path> allowedRoot();

    /** Accepted API keys, sent as {@code authorization: Bearer <key>}; none = no authentication. */
    Optional<List<String>> apiKeys();

    /** How long the oldest waiting request waits for others to share its batch. */
    @WithDefault("5ms")
    Duration batchWindow();

    /** Most comparisons (each two prompts) or ratings in one forward batch. */
    @WithDefault("32")
    int maxBatchSize();

    /** Most requests waiting per kind (pairwise, rubric); beyond it RESOURCE_EXHAUSTED. */
    @WithDefault("256")
    int queueCapacity();

    /** Most items in one batch request. */
    @WithDefault("256")
    int maxItems();

    /** Longest prompt or response in characters, checked before tokenizing. */
    @WithDefault("8192")
    int maxTextChars();

    /** The batcher settings these values describe. */
    default MicroBatcher.Settings batching() {
        return new MicroBatcher.Settings(batchWindow(), maxBatchSize(), queueCapacity());
    }
}
