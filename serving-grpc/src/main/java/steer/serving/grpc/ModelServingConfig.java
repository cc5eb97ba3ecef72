package steer.serving.grpc;

import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import steer.serving.MicroBatcher;

/**
 * The settings every model-serving service has: its start model, the root LoadModel may read, its micro-batchers
 * and its text limit. Each service's {@code @ConfigMapping} extends this interface, so the keys sit under the
 * service's prefix ({@code steer.generator.model-location}, {@code steer.judge.model-location}), and declares
 * {@link #modelName()} with its own default.
 */
public interface ModelServingConfig {

    /** Checkpoint directory (Hugging Face layout) of the model served at start; none = start empty, never ready. */
    Optional<Path> modelLocation();

    /** Name of the model served at start; requests with an empty model field use it. */
    String modelName();

    /** Where served models run: {@code cpu}, {@code gpu} (the first GPU) or {@code gpu:N}; see {@code Placement}. */
    @WithDefault("cpu")
    String device();

    /**
     * Served models' precision: {@code f32}, {@code bf16} or {@code f16}; unset: f32 on the CPU, bf16 on a GPU
     * (bf16 is refused on the CPU, where DJL's engine aborts on it).
     */
    Optional<String> precision();

    /** The device and precision settings, checked (a GPU that the engine does not see fails startup). */
    default steer.model.Placement placement() {
        return steer.model.Placement.parse(device(), precision().orElse(null));
    }

    /** Checkpoint version reported for the model served at start (0 = the SFT model). */
    @WithDefault("0")
    long modelVersion();

    /** If set, LoadModel only reads directories under this root (a public API must not read arbitrary paths). */
    Optional<Path> allowedRoot();

    /**
     * Most MiB (2^20 bytes) of model weights served at once, start model included; 0 = unbounded. A LoadModel that
     * would exceed it evicts the least recently used models other than the start model, or fails with
     * RESOURCE_EXHAUSTED if that cannot make room. Counts weights only, not requests' KV caches and activations.
     */
    @WithDefault("0")
    long memoryBudgetMb();

    /** How long the oldest waiting request waits for others to share its batch. */
    @WithDefault("5ms")
    Duration batchWindow();

    /** Most items in one forward batch: sequences (prompts × samples), scored pairs, comparisons or ratings. */
    @WithDefault("32")
    int maxBatchSize();

    /** Most work items waiting per batcher; beyond it requests fail with RESOURCE_EXHAUSTED. */
    @WithDefault("256")
    int queueCapacity();

    /** Longest prompt or response in characters, checked before tokenizing. */
    @WithDefault("8192")
    int maxTextChars();

    /** The batcher settings these values describe; fails at startup on out-of-range values. */
    default MicroBatcher.Settings batching() {
        return new MicroBatcher.Settings(batchWindow(), maxBatchSize(), queueCapacity());
    }
}
