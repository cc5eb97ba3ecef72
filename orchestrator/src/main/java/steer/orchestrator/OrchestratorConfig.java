package steer.orchestrator;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * The orchestrator's deployment settings ({@code steer.orchestrator.*}). A run's hyperparameters are not here:
 * they come with each StartRun request ({@code steer.align.RunSettings}). The Kafka connection is Quarkus's
 * {@code kafka.*} (e.g. {@code kafka.bootstrap.servers}).
 */
@ConfigMapping(prefix = "steer.orchestrator")
public interface OrchestratorConfig {

    /**
     * The generator replicas (plaintext gRPC): {@code host:port}, several separated by commas, or
     * {@code dns:///host:port} for every address the name resolves to (a headless Kubernetes Service). Every
     * replica is loaded with each checkpoint and shares the sampling; see {@link ServiceReplicas}.
     */
    @WithDefault("localhost:8081")
    String generatorAddress();

    /** The judge replicas, in the generator's form; absent = the run has no judge to keep on-policy. */
    Optional<String> judgeAddress();

    /**
     * The key sent to the judge as {@code authorization: Bearer <key>}, for a judge with callers configured; absent =
     * no key. Its caller needs the roles compare and admin (the orchestrator loads checkpoints into the judge).
     */
    Optional<String> judgeApiKey();

    /**
     * The admin key StartRun and StopRun need ({@code authorization: Bearer <key>}; see {@link AdminAuth}); unset:
     * open, as on loopback in the demo.
     */
    Optional<String> adminKey();

    /** The key sent on every generator call (the generators' {@code steer.generator.admin-key}); unset: none. */
    Optional<String> generatorAdminKey();

    /** The name under which the generator serves the policy. */
    @WithDefault("policy")
    String policyModel();

    /**
     * The name under which the judge serves the SFT model (version 0) — OSP's pinned judge by default, and a
     * policy-following judge's model before the run's first checkpoint. A policy-following judge serves later
     * versions as {@code policy@<run id>}.
     */
    @WithDefault("sft")
    String judgeSftModel();

    /**
     * The SFT model directory (Hugging Face layout): policy version 0, loaded into the generator for a run's first
     * iteration if it serves another version; evaluation (which runs on the generators) reads its tokenizer here.
     * Needed unless runs skip evaluation and the generator already serves version 0.
     */
    Optional<Path> baseModel();

    /** Where run states are kept, one JSON file per run. */
    @WithDefault("data/orchestrator/runs")
    Path stateDir();

    /** Topic of pair batches (to the trainer). */
    @WithDefault("steer.pair-batches")
    String pairBatchesTopic();

    /** Topic of checkpoint events (from the trainer). */
    @WithDefault("steer.checkpoints")
    String checkpointsTopic();

    /** Topic where the trainer puts the batches it refuses, with the reason; a refusal fails the iteration at once. */
    @WithDefault("steer.pair-batches.dead-letter")
    String deadLetterTopic();

    /** How long to wait for the trainer's checkpoint of an iteration before the run fails. */
    @WithDefault("PT30M")
    Duration checkpointWaitTimeout();

    /** Deadline of each Generate call (one chunk of prompts). */
    @WithDefault("PT5M")
    Duration generateDeadline();

    /** Deadline of ListModels and LoadModel calls. */
    @WithDefault("PT2M")
    Duration loadDeadline();

    /**
     * How long a call to a generator or judge replica is retried after it first fails as a restarting replica fails
     * (unavailable, overloaded, or back at another model version); then the run fails with the last error.
     */
    @WithDefault("PT3M")
    Duration callRetryWindow();

    /** Prompts per Generate call. */
    @WithDefault("64")
    int generateChunk();

    /** Bound on blocking Kafka client calls (metadata, transactions, reading a topic back). */
    @WithDefault("PT30S")
    Duration kafkaTimeout();

    /**
     * The largest Kafka record, in bytes, the pair-batch topic and the trainer take: the publisher's
     * {@code max.request.size}, checked against the topic's {@code max.message.bytes} before the first publish; a
     * batch must stay a little under it ({@link steer.proto.RecordSizes#maxBatchBytes}). Defaults to
     * {@code steer.kafka.max-message-bytes}, the one setting the trainer and the topics share.
     */
    @WithDefault("${" + steer.proto.RecordSizes.SETTING + ":" + steer.proto.RecordSizes.DEFAULT_MAX_MESSAGE_BYTES + "}")
    int maxMessageBytes();

    /** Whether a run persisted as running (the orchestrator was killed) resumes when the orchestrator starts. */
    @WithDefault("true")
    boolean resumeOnStart();
}
