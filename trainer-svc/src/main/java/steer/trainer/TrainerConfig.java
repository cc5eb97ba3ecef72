package steer.trainer;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.util.Optional;
import steer.store.CheckpointStore;
import steer.train.AdamWConfig;
import steer.train.OnlineTrainer;

/**
 * The trainer's configuration, prefix {@code steer.trainer}. Converted once, at startup, into the library's
 * {@link OnlineTrainer.Settings}; bad values fail there, before anything is consumed.
 */
@ConfigMapping(prefix = "steer.trainer")
public interface TrainerConfig {

    /** The base (SFT) model directory in the Hugging Face layout: checkpoint version 0 and the first policy. */
    Path baseModel();

    /** Root of the checkpoint store: versions go to {@code <store-root>/<run id>/v000001/}. */
    Path storeRoot();

    /**
     * The trainer's own state, per run under {@code runs/<run id>/} (weights, optimizer moments, trained batch ids);
     * one trainer per directory.
     */
    Path stateDir();

    /** Train only this run and refuse the others; empty: train every run whose batches arrive. */
    Optional<String> runId();

    /**
     * How many runs' models (policy, AdamW moments, reference) stay in memory. Two: a run and the next, or two
     * interleaved runs, train without reloading; a third run unloads the least recently trained one (its state
     * is already saved after every step, so a switch costs one state load).
     */
    @WithDefault("" + OnlineTrainer.Settings.DEFAULT_MAX_LOADED_RUNS)
    int maxLoadedRuns();

    /** Kafka bootstrap servers. */
    @WithDefault("localhost:9092")
    String bootstrapServers();

    /** Topic of {@code PairBatch} records. */
    @WithDefault("steer.pair-batches")
    String batchTopic();

    /** Topic the trainer publishes {@code CheckpointEvent}s to. */
    @WithDefault("steer.checkpoints")
    String checkpointTopic();

    /** Topic for records the trainer cannot use (unparseable, invalid, stale, another run), with the reason. */
    @WithDefault("steer.pair-batches.dead-letter")
    String deadLetterTopic();

    /** Consumer group; its committed offsets are where a restarted trainer resumes. */
    @WithDefault("steer-trainer")
    String groupId();

    /**
     * Static group membership id. One trainer consumes a group (offsets are committed record by record), so a
     * fixed id lets a restarted trainer rejoin at once; a second trainer with the same id fences the first.
     */
    @WithDefault("steer-trainer")
    String groupInstanceId();

    /**
     * The most checkpoint versions a batch's policy may lag the run's newest one: the operator's cap over the runs'
     * own bounds. Each batch brings its run's bound ({@code PairBatch.max_policy_staleness}: SSO and synchronous OSP
     * 0, OSP with staleness 1 one, TSO T − 1 for its T mini-batches of one iteration's samples, at most 9) and the
     * smaller of the two applies, so 9 admits every method's bound while each run keeps its own.
     */
    @WithDefault("9")
    int maxPolicyStaleness();

    /**
     * Peak learning rate when a batch names none. 2e-4: the SSO paper's 1e-5 is for 7B models; the oracle world's
     * models are trained from scratch at SFT rates of 1e-3 to 3e-3 (WorldModelSize), and preference training runs
     * about an order of magnitude below the SFT rate, as the CLI's preference default (1e-4) does.
     */
    @WithDefault("2e-4")
    double learningRate();

    /** AdamW decoupled weight decay (PyTorch's AdamW default). */
    @WithDefault("0.01")
    double weightDecay();

    /** Examples per forward/backward pass; larger batches accumulate gradients. */
    @WithDefault("32")
    int microBatchSize();

    /** Global gradient-norm clip (DESIGN's training default). */
    @WithDefault("1.0")
    double maxGradNorm();

    /** The library settings these values describe. */
    default OnlineTrainer.Settings settings() {
        AdamWConfig d = AdamWConfig.defaults();
        return new OnlineTrainer.Settings(baseModel(), stateDir(), new CheckpointStore(storeRoot()),
                runId().orElse(null), new AdamWConfig(learningRate(), d.beta1(), d.beta2(), d.epsilon(), weightDecay()),
                maxGradNorm(), microBatchSize(), maxPolicyStaleness(), maxLoadedRuns());
    }
}
