package steer.train;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import steer.checkpoint.HfCheckpoint;
import steer.data.TrainingExample;
import steer.model.Decoder;
import steer.objective.Objective;
import steer.objective.Sso;
import steer.store.CheckpointStore;
import steer.store.StoredCheckpoint;

/**
 * Trains one run online, batch by batch as they arrive, with exactly-once effect: each batch id is trained at
 * most once, and everything a step changed (weights, AdamW moments, trained ids, counters, the iteration's
 * metrics) becomes durable together in one atomic {@link TrainerCheckpoint} under the state directory.
 *
 * <p>Batches name their iteration, their index in it and the iteration's size; once all of an iteration's batches
 * are trained the policy is written to the {@link CheckpointStore} as the next version (iteration + 1 when no
 * checkpoint was requested in between). The reference model of a batch is a frozen copy of the checkpoint that
 * generated it ({@link Batch#policyVersion()}; version 0 is the base model), so within an iteration it is the
 * checkpoint the iteration started from.
 *
 * <p>Callers drive durability: {@link #train} changes only memory (and, when an iteration completes, writes the
 * store version); {@link #saveState} makes it durable. A consumer commits its input position only after
 * {@link #saveState} returns. A crash before that replays the batch from the last saved state, which computes the
 * same step again (same weights, moments and inputs); a batch delivered again after the save is recognised by
 * its id and skipped.
 *
 * <p>State directory: {@code lock} (one trainer per directory, held while open) and {@code states/step-NNNNNNNN/}
 * in {@link TrainerCheckpoint}'s layout, numbered by save rather than by step (a requested checkpoint saves
 * without a step), the newest two kept. Not thread-safe: one thread trains; {@link #status} may be read from
 * any thread.
 */
public final class OnlineTrainer implements AutoCloseable {

    private static final String FORMAT = "steer-online-trainer/1";
    private static final int KEPT_STATES = 2;
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * How to train.
     *
     * @param baseModel          the base (SFT) model directory, version 0; also the tokenizer's source
     * @param stateDir           the trainer's own state directory
     * @param store              where checkpoint versions go
     * @param runId              the only run to train, or null to adopt the run of the first batch
     * @param optimizer          AdamW settings; its lr is the default peak learning rate when a batch names none
     * @param maxGradNorm        global gradient-norm clip, &gt; 0
     * @param microBatchSize     examples per forward/backward pass
     * @param maxPolicyStaleness how many versions a batch's policy may lag the newest checkpoint, ≥ 0
     */
    public record Settings(Path baseModel, Path stateDir, CheckpointStore store, String runId, AdamWConfig optimizer,
                           double maxGradNorm, int microBatchSize, int maxPolicyStaleness) {

        public Settings {
            if (maxPolicyStaleness < 0) {
                throw new IllegalArgumentException("max policy staleness must be >= 0, got " + maxPolicyStaleness
                        + "; 1 lets a batch sampled from the previous checkpoint still train");
            }
            new TrainingConfig(optimizer, constantSchedule(), maxGradNorm, microBatchSize); // validates both
        }
    }

    /**
     * One optimizer step's worth of examples.
     *
     * @param runId              the run
     * @param iteration          0-based iteration
     * @param batchId            the idempotency key
     * @param policyVersion      the checkpoint version that generated the samples, and the batch's reference
     * @param objective          the loss
     * @param batchIndex         position within the iteration, in [0, batchesInIteration)
     * @param batchesInIteration how many batches the iteration has
     * @param learningRate       peak learning rate, or 0 for the trainer's default
     * @param totalSteps         optimizer steps of the whole run, spanned by warm-up and cosine; 0 for a constant
     *                           learning rate
     * @param examples           the examples, all of the kind the objective trains on
     */
    public record Batch(String runId, int iteration, String batchId, long policyVersion, Objective<?> objective,
                        int batchIndex, int batchesInIteration, double learningRate, long totalSteps,
                        List<? extends TrainingExample> examples) {

        public Batch {
            require(runId != null && !runId.isBlank(), "run_id is empty");
            require(batchId != null && !batchId.isBlank(), "batch_id is empty");
            require(iteration >= 0, "iteration must be >= 0, got " + iteration);
            require(policyVersion >= 0, "policy_version must be >= 0, got " + policyVersion);
            require(batchesInIteration >= 1, "batches_in_iteration must be >= 1, got " + batchesInIteration);
            require(batchIndex >= 0 && batchIndex < batchesInIteration, "batch_index must be in [0, "
                    + batchesInIteration + "), got " + batchIndex);
            require(learningRate >= 0 && Double.isFinite(learningRate), "learning_rate must be finite and >= 0 (0: the"
                    + " trainer's default), got " + learningRate);
            require(totalSteps >= 0, "total_steps must be >= 0 (0: constant learning rate), got " + totalSteps);
            require(objective != null, "objective is missing");
            require(!examples.isEmpty(), "the batch holds no examples");
            Class<? extends TrainingExample> kind = PolicyTrainer.exampleKind(objective);
            for (TrainingExample e : examples) {
                require(kind.isInstance(e), objective.getClass().getSimpleName() + " trains on "
                        + kind.getSimpleName() + " examples; the batch holds a " + e.getClass().getSimpleName());
            }
            examples = List.copyOf(examples);
        }

        private static void require(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException(message);
            }
        }
    }

    /** What {@link #train} did with a batch. */
    public sealed interface Outcome permits Trained, Duplicate, Refused {
    }

    /**
     * The batch was trained.
     *
     * @param step       the step's result
     * @param checkpoint the version written because this batch completed its iteration, if it did
     */
    public record Trained(PolicyTrainer.StepResult step, Optional<StoredCheckpoint> checkpoint) implements Outcome {
    }

    /** The batch id was trained before; nothing changed but the duplicate counter. */
    public record Duplicate(String batchId) implements Outcome {
    }

    /** Why a batch is refused. */
    public enum RefusalKind {
        /** Its policy is older than the newest checkpoint minus the allowed staleness. */
        STALE,
        /** It belongs to another run than the one this trainer trains. */
        OTHER_RUN,
        /** It names a policy version this trainer has not written. */
        UNKNOWN_POLICY
    }

    /** The batch was refused and changed nothing but a counter. */
    public record Refused(RefusalKind kind, String reason) implements Outcome {
    }

    /**
     * A snapshot of where training stands.
     *
     * @param runId             the run, or null before the first batch
     * @param iteration         the iteration of the last trained batch
     * @param step              optimizer steps taken
     * @param checkpointVersion newest version written (0: only the base model)
     * @param lastMetrics       the last step's loss and diagnostics
     * @param trained           batches trained
     * @param duplicate         deliveries skipped as already trained
     * @param stale             batches refused as stale
     * @param refused           batches refused for another reason (other run, unknown policy)
     */
    public record Status(String runId, int iteration, long step, long checkpointVersion, Map<String, Double> lastMetrics,
                         long trained, long duplicate, long stale, long refused) {
    }

    private final Settings settings;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final Decoder policy;
    private final PolicyTrainer trainer;
    private Decoder reference;
    private long referenceVersion = -1;

    private String runId;
    private int iteration;
    private long checkpointVersion;
    private long saves;
    private final Set<String> trainedIds = new LinkedHashSet<>();
    private final Map<Integer, IterationProgress> iterations = new TreeMap<>();
    private Map<String, Double> lastMetrics = Map.of();
    private long duplicates;
    private long stale;
    private long refused;
    private volatile Status status;

    private OnlineTrainer(Settings settings, FileChannel lockChannel, FileLock lock) {
        this.settings = settings;
        this.lockChannel = lockChannel;
        this.lock = lock;
        Path states = settings.stateDir().resolve("states");
        Optional<Path> latest = latestState(states);
        HfCheckpoint start;
        TrainerCheckpoint.Loaded loaded = null;
        if (latest.isPresent()) {
            loaded = TrainerCheckpoint.load(latest.get());
            start = loaded.model();
        } else {
            start = HfCheckpoint.load(settings.baseModel());
        }
        this.policy = Decoder.fromHostTensors(start.config(), start.tensors(), NDManager.newBaseManager());
        // the objective given here is never used: every step names its own (PolicyTrainer.step(batch, objective, lr))
        this.trainer = new PolicyTrainer(policy, Sso.defaults(),
                new TrainingConfig(settings.optimizer(), constantSchedule(), settings.maxGradNorm(),
                        settings.microBatchSize()));
        this.runId = settings.runId();
        if (loaded != null) {
            trainer.optimizer().importState(loaded.optimizer());
            restore(loaded.state().settings(), latest.get());
        }
        publishStatus();
    }

    /**
     * Opens the trainer: locks the state directory, deletes what a crashed save left, and loads the newest saved
     * state, or the base model when there is none.
     *
     * @throws IllegalStateException if another trainer holds the state directory
     */
    public static OnlineTrainer open(Settings settings) {
        try {
            Files.createDirectories(settings.stateDir().resolve("states"));
            FileChannel channel = FileChannel.open(settings.stateDir().resolve("lock"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {
                channel.close();
                throw new IllegalStateException("another trainer holds the state directory " + settings.stateDir()
                        + "; give each trainer its own steer.trainer.state-dir");
            }
            try {
                deleteUnfinishedSaves(settings.stateDir().resolve("states"));
                return new OnlineTrainer(settings, channel, lock);
            } catch (RuntimeException e) {
                lock.release();
                channel.close();
                throw e;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("opening the trainer state in " + settings.stateDir() + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * Trains one batch, unless it was trained before or is refused. When it completes its iteration, the policy
     * is written to the store as the next version. Durable only after {@link #saveState}.
     */
    public Outcome train(Batch b) {
        if (trainedIds.contains(b.batchId())) {
            duplicates++;
            publishStatus();
            return new Duplicate(b.batchId());
        }
        if (runId != null && !runId.equals(b.runId())) {
            refused++;
            publishStatus();
            return new Refused(RefusalKind.OTHER_RUN, "batch " + b.batchId() + " belongs to run " + b.runId()
                    + "; this trainer trains run " + runId);
        }
        long oldest = checkpointVersion - settings.maxPolicyStaleness();
        if (b.policyVersion() < oldest) {
            stale++;
            publishStatus();
            return new Refused(RefusalKind.STALE, "batch " + b.batchId() + " was sampled from policy version "
                    + b.policyVersion() + ", older than the oldest allowed, " + oldest + " (newest checkpoint "
                    + checkpointVersion + ", max-policy-staleness " + settings.maxPolicyStaleness() + ")");
        }
        if (b.policyVersion() > checkpointVersion) {
            refused++;
            publishStatus();
            return new Refused(RefusalKind.UNKNOWN_POLICY, "batch " + b.batchId() + " names policy version "
                    + b.policyVersion() + ", but the newest checkpoint of run " + b.runId() + " is " + checkpointVersion);
        }
        runId = b.runId();
        trainer.frozenReference(referenceFor(b.policyVersion()));
        double peak = b.learningRate() > 0 ? b.learningRate() : settings.optimizer().lr();
        long t = trainer.stepCount() + 1;
        double lr = b.totalSteps() > 0 ? LearningRateSchedule.forSteps(b.totalSteps()).lr(peak, t) : peak;
        PolicyTrainer.StepResult r = trainer.step(b.examples(), b.objective(), lr);

        trainedIds.add(b.batchId());
        iteration = b.iteration();
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("loss", r.loss());
        metrics.putAll(r.diagnostics());
        metrics.put("lr", r.lr());
        metrics.put("grad_norm", r.gradNorm());
        lastMetrics = Collections.unmodifiableMap(metrics);
        IterationProgress progress = iterations.computeIfAbsent(b.iteration(), i -> new IterationProgress());
        progress.add(b.batchIndex(), metrics);
        Optional<StoredCheckpoint> written = Optional.empty();
        if (!progress.checkpointed && progress.indices.size() >= b.batchesInIteration()) {
            progress.checkpointed = true;
            written = Optional.of(writeVersion(b.iteration(), progress.means()));
        }
        publishStatus();
        return new Trained(r, written);
    }

    /**
     * Writes the current policy as the next version now (on request), with the last step's metrics.
     *
     * @throws IllegalStateException before the first batch, when the run is still unknown
     */
    public StoredCheckpoint checkpointNow() {
        if (runId == null) {
            throw new IllegalStateException("no run yet: the trainer learns its run id from the first batch"
                    + " (or steer.trainer.run-id)");
        }
        StoredCheckpoint c = writeVersion(iteration, lastMetrics);
        publishStatus();
        return c;
    }

    /** Makes everything trained so far durable: weights, moments, trained ids, counters, iteration metrics. */
    public void saveState() {
        Path states = settings.stateDir().resolve("states");
        long next = saves + 1;
        TrainerCheckpoint.save(states.resolve(TrainerCheckpoint.name(next)), policy, trainer.optimizer(),
                new TrainerCheckpoint.State(trainer.stepCount(), 0, 0, stateJson()), settings.baseModel());
        saves = next;
        try (Stream<Path> s = Files.list(states)) {
            List<Path> complete = s.filter(p -> p.getFileName().toString().matches("step-\\d{8}"))
                    .sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
            for (Path old : complete.subList(0, Math.max(0, complete.size() - KEPT_STATES))) {
                TrainerCheckpoint.deleteRecursively(old);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("pruning old trainer states in " + states + ": " + e.getMessage(), e);
        }
    }

    /** Where training stands; safe to read from any thread. */
    public Status status() {
        return status;
    }

    /** The batch ids trained so far, in training order. */
    public List<String> trainedBatchIds() {
        return List.copyOf(trainedIds);
    }

    @Override
    public void close() {
        if (reference != null) {
            reference.close();
        }
        policy.close();
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException e) {
            // the lock goes with the process anyway
        }
    }

    private Decoder referenceFor(long version) {
        if (version != referenceVersion) {
            Path dir = version == 0 ? settings.baseModel() : settings.store().location(runId, version);
            HfCheckpoint c = HfCheckpoint.load(dir);
            if (reference != null) {
                reference.close();
            }
            reference = Decoder.fromHostTensors(c.config(), c.tensors(), NDManager.newBaseManager());
            referenceVersion = version;
        }
        return reference;
    }

    /**
     * Writes the next version. A version already in the store is the one this same step wrote before a crash
     * that lost the state save (the replayed step computes the same weights), so it is kept, not rewritten.
     */
    private StoredCheckpoint writeVersion(int ofIteration, Map<String, Double> metrics) {
        long version = checkpointVersion + 1;
        StoredCheckpoint c;
        if (settings.store().exists(runId, version)) {
            c = settings.store().read(runId, version);
        } else {
            c = settings.store().write(runId, version, ofIteration, trainer.stepCount(), metrics,
                    new HfCheckpoint(policy.config(), policy.toHostTensors()), settings.baseModel());
        }
        checkpointVersion = version;
        return c;
    }

    private ObjectNode stateJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("format", FORMAT);
        o.put("run_id", runId);
        o.put("iteration", iteration);
        o.put("checkpoint_version", checkpointVersion);
        o.put("saves", saves + 1);
        ArrayNode ids = o.putArray("trained_batches");
        trainedIds.forEach(ids::add);
        ObjectNode its = o.putObject("iterations");
        iterations.forEach((i, p) -> its.set(Integer.toString(i), p.toJson()));
        ObjectNode last = o.putObject("last_metrics");
        lastMetrics.forEach(last::put);
        ObjectNode counters = o.putObject("counters");
        counters.put("duplicate", duplicates);
        counters.put("stale", stale);
        counters.put("refused", refused);
        return o;
    }

    private void restore(ObjectNode o, Path from) {
        if (!FORMAT.equals(o.path("format").asText())) {
            throw new IllegalStateException(from + " is not an online trainer state (format '"
                    + o.path("format").asText() + "', expected '" + FORMAT + "')");
        }
        String savedRun = o.path("run_id").isNull() ? null : o.path("run_id").asText(null);
        if (settings.runId() != null && savedRun != null && !settings.runId().equals(savedRun)) {
            throw new IllegalStateException("the state in " + from + " belongs to run " + savedRun + ", but this"
                    + " trainer is configured for run " + settings.runId() + "; use another state directory");
        }
        runId = savedRun != null ? savedRun : settings.runId();
        iteration = o.path("iteration").asInt();
        checkpointVersion = o.path("checkpoint_version").asLong();
        saves = o.path("saves").asLong();
        o.path("trained_batches").forEach(id -> trainedIds.add(id.asText()));
        o.path("iterations").fields().forEachRemaining(e ->
                iterations.put(Integer.parseInt(e.getKey()), IterationProgress.fromJson(e.getValue())));
        Map<String, Double> last = new LinkedHashMap<>();
        o.path("last_metrics").fields().forEachRemaining(e -> last.put(e.getKey(), e.getValue().asDouble()));
        lastMetrics = Collections.unmodifiableMap(last);
        duplicates = o.path("counters").path("duplicate").asLong();
        stale = o.path("counters").path("stale").asLong();
        refused = o.path("counters").path("refused").asLong();
    }

    private void publishStatus() {
        status = new Status(runId, iteration, trainer.stepCount(), checkpointVersion, lastMetrics, trainedIds.size(),
                duplicates, stale, refused);
    }

    private static Optional<Path> latestState(Path states) {
        return TrainerCheckpoint.latest(states);
    }

    /** Hidden temporary directories are saves that a crash interrupted; with the lock held, none is in progress. */
    private static void deleteUnfinishedSaves(Path states) throws IOException {
        try (Stream<Path> s = Files.list(states)) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith(".")).toList()) {
                TrainerCheckpoint.deleteRecursively(p);
            }
        }
    }

    /** The caller's learning rate, unchanged: online steps bring their own schedule. */
    private static LearningRateSchedule constantSchedule() {
        return new LearningRateSchedule(0, 1, 1.0);
    }

    /** One iteration's trained batch indices and metric sums. */
    private static final class IterationProgress {
        final Set<Integer> indices = new TreeSet<>();
        final Map<String, Double> sums = new LinkedHashMap<>();
        long steps;
        boolean checkpointed;

        void add(int index, Map<String, Double> metrics) {
            indices.add(index);
            steps++;
            metrics.forEach((k, v) -> sums.merge(k, v, Double::sum));
        }

        Map<String, Double> means() {
            Map<String, Double> out = new LinkedHashMap<>();
            sums.forEach((k, v) -> out.put(k, v / steps));
            out.put("steps", (double) steps);
            return out;
        }

        ObjectNode toJson() {
            ObjectNode o = JSON.createObjectNode();
            ArrayNode idx = o.putArray("indices");
            indices.forEach(idx::add);
            ObjectNode s = o.putObject("sums");
            sums.forEach(s::put);
            o.put("steps", steps);
            o.put("checkpointed", checkpointed);
            return o;
        }

        static IterationProgress fromJson(JsonNode o) {
            IterationProgress p = new IterationProgress();
            o.path("indices").forEach(i -> p.indices.add(i.asInt()));
            o.path("sums").fields().forEachRemaining(e -> p.sums.put(e.getKey(), e.getValue().asDouble()));
            p.steps = o.path("steps").asLong();
            p.checkpointed = o.path("checkpointed").asBoolean();
            return p;
        }
    }
}
