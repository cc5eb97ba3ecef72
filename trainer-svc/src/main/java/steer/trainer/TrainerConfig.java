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
     * interleaved runs, train without reloading; a third run unloads the least recently trained one (saving its
     * unsaved steps first, so a switch costs at most one save and one state load).
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

    /**
     * The largest Kafka record, in bytes, that the trainer fetches and forwards to the dead-letter topic: sets its
     * consumer's fetch sizes and its producer's {@code max.request.size}, and both the pair-batch and the dead-letter
     * topic must accept it (checked at start). Defaults to {@code steer.kafka.max-message-bytes}, the one setting the
     * orchestrator and the topics share ({@link steer.proto.RecordSizes}).
     */
    @WithDefault("${" + steer.proto.RecordSizes.SETTING + ":" + steer.proto.RecordSizes.DEFAULT_MAX_MESSAGE_BYTES + "}")
    int maxMessageBytes();

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

    /**
     * Peak learning rate of a run that trains a LoRA adapter ({@code PairBatch.lora}) when its batch names none.
     * Unset: {@link OnlineTrainer.Settings#DEFAULT_LORA_LR_FACTOR} (10) times learning-rate, 2e-3 by default: LoRA's
     * optimal rate is about ten times full fine-tuning's (Schulman et al. 2025, "LoRA Without Regret"), a ratio
     * taken from there, not tuned here.
     */
    Optional<Double> loraLearningRate();

    /** Where the trainer's models run: {@code cpu}, {@code gpu} (the first GPU) or {@code gpu:N}. */
    @WithDefault("cpu")
    String device();

    /**
     * The trainer's precision: {@code f32}, {@code bf16} or {@code f16}; unset: f32 on the CPU, bf16 on a GPU. In half
     * precision a fully trained policy keeps float32 master weights and AdamW moments; references and a LoRA run's
     * frozen base are stored half; norms, softmax, log-probs and losses are float32.
     */
    Optional<String> precision();

    /** AdamW decoupled weight decay (PyTorch's AdamW default). */
    @WithDefault("0.01")
    double weightDecay();

    /** Examples per forward/backward pass; larger batches accumulate gradients. */
    @WithDefault("32")
    int microBatchSize();

    /** Global gradient-norm clip (DESIGN's training default). */
    @WithDefault("1.0")
    double maxGradNorm();

    /**
     * Save the trainer state (weights, AdamW moments, trained batch ids and the consumed offsets, together) after
     * this many optimizer steps, ≥ 1; an iteration's end always saves. Between saves a crash replays the unsaved
     * steps from the saved offsets, so this trades saving time against replay time. 4: on the world's large model
     * (3.6 M parameters, 16 SSO examples a step, two CPU cores) a save (44 MB: weights, moments, forced to disk)
     * costs 8-12% of a step (0.09 s of 0.8 s on a quiet machine, 0.21 s of 2.7 s on a busy one; 4% at 32 examples);
     * every 4 steps that is 2-3%, and a crash replays at most 3 steps (2.4-8 s). Measured by steer-lib's
     * DurabilityBenchmark. A full 7B state is about 84 GB: save far less often there.
     */
    @WithDefault("4")
    int saveEverySteps();

    /**
     * Also save once this many seconds have passed since the last save with unsaved steps, ≥ 1, so a slow trickle
     * of batches never holds many unsaved steps; a replay costs at most this long plus save-every-steps steps.
     */
    @WithDefault("300")
    int saveEverySeconds();

    /**
     * How many times a batch may fail to train before it is dead-lettered with the exception in its reason header,
     * ≥ 1. Each failure resets the trainer to its last saved state and replays from there, so a failure mid-step
     * leaves nothing half-applied.
     */
    @WithDefault("3")
    int maxTrainAttempts();

    /**
     * The consumer's {@code max.poll.interval.ms}: the longest the loop may spend on one record (one record per
     * poll): the longest step plus a state save plus a version write and its event. 10 minutes is twice Kafka's
     * default and hundreds of times that on the world's large model on two CPU cores (a step about 0.8 s, a save
     * 0.1 s, a version 0.2 s); a model whose step takes minutes needs more, or the broker drops the trainer from its
     * group mid-step (and the next commit fails).
     */
    @WithDefault("10m")
    java.time.Duration maxPollInterval();

    /**
     * The admin credential: when set, RequestCheckpoint (and any other state-changing RPC) needs the metadata
     * {@code authorization: Bearer <key>}; a call without it is UNAUTHENTICATED, one with another key
     * PERMISSION_DENIED. Status stays open. Unset: no check (a trainer reachable only inside its namespace).
     */
    Optional<String> adminKey();

    /**
     * For tests only: a crash window at which the process halts ({@link Runtime#halt}, no shutdown hooks, as a
     * kill would), or TRAIN_FAILS to make {@link #faultBatchId()} fail to train. Unset in production.
     */
    Optional<FaultPoint> faultPoint();

    /** The fault fires the first time its window is reached at this optimizer step of the run or later. */
    @WithDefault("1")
    long faultAtStep();

    /** The batch id that TRAIN_FAILS makes fail. */
    Optional<String> faultBatchId();

    /** The library settings these values describe. */
    default OnlineTrainer.Settings settings() {
        return settings(new CheckpointStore(storeRoot()));
    }

    /** The library settings these values describe, writing versions to {@code store}. */
    default OnlineTrainer.Settings settings(CheckpointStore store) {
        if (saveEverySteps() < 1) {
            throw new IllegalArgumentException("steer.trainer.save-every-steps must be >= 1, got " + saveEverySteps());
        }
        if (saveEverySeconds() < 1) {
            throw new IllegalArgumentException("steer.trainer.save-every-seconds must be >= 1, got "
                    + saveEverySeconds());
        }
        if (maxTrainAttempts() < 1) {
            throw new IllegalArgumentException("steer.trainer.max-train-attempts must be >= 1, got "
                    + maxTrainAttempts());
        }
        steer.model.Placement placement;
        try {
            placement = steer.model.Placement.parse(device(), precision().orElse(null));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("steer.trainer.device / steer.trainer.precision: " + e.getMessage(), e);
        }
        AdamWConfig d = AdamWConfig.defaults();
        return new OnlineTrainer.Settings(baseModel(), stateDir(), store,
                runId().orElse(null), new AdamWConfig(learningRate(), d.beta1(), d.beta2(), d.epsilon(), weightDecay()),
                maxGradNorm(), microBatchSize(), maxPolicyStaleness(), maxLoadedRuns(),
                loraLearningRate().orElse(OnlineTrainer.Settings.DEFAULT_LORA_LR_FACTOR * learningRate()), placement);
    }
}
