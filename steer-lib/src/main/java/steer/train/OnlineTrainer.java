package steer.train;

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
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import steer.checkpoint.LoraConfig;
import steer.data.TrainingExample;
import steer.model.Decoder;
import steer.model.LoraAdapter;
import steer.model.Placement;
import steer.objective.Objective;
import steer.objective.Sso;
import steer.store.CheckpointStore;
import steer.store.StoredCheckpoint;
import steer.store.StoredSnapshot;
import steer.store.VersionConflictException;

/**
 * Trains runs online, batch by batch as they arrive, with exactly-once effect per run: each batch id of a run is
 * trained at most once, and everything a step changed (weights, AdamW moments, trained ids, counters, the
 * iteration's metrics) becomes durable together in one atomic {@link TrainerCheckpoint} under the run's state
 * directory. One trainer serves any number of runs, one after another or with their batches interleaved; each
 * run has its own policy (starting from the base model, version 0), optimizer, reference models, trained ids,
 * iteration progress and checkpoint versions.
 *
 * <p>Batches name their iteration, their index in it and the iteration's size; once all of an iteration's batches
 * are trained the run's policy is written to the {@link CheckpointStore} as the run's next version (iteration + 1
 * when no checkpoint was requested in between). The reference model of a batch is a frozen copy of the run's
 * checkpoint the batch names ({@link Batch#referenceVersion()}; version 0 is the base model): for SSO the version
 * that sampled it, the checkpoint the iteration started from; for OSP the base model for the whole run. A batch's
 * policy may lag the run's newest checkpoint by at most the smaller of the run's and the trainer's staleness bound.
 *
 * <p>Callers drive durability, as a stream processor's checkpoint does: {@link #train} changes only memory (and,
 * when an iteration completes, writes the store version); {@link #saveState(Map)} makes everything trained so far
 * durable together with the caller's input position (the next offset to read, per topic-partition), which
 * {@link #position} returns after a restart, so the caller seeks there and replays. A crash between saves replays
 * the batches after the saved position from the saved state, which computes the same steps again (same weights,
 * moments and inputs); a batch delivered again after a save is recognised by its id and skipped. So each batch's
 * update is applied exactly once in the state that survives, however often the caller saves.
 *
 * <p>Versions: a version is written only when an iteration's last batch is trained, and it is the run's next
 * version only once a save records it. A replayed step that finds its version in the store already (a crash
 * after the write, before the save) checks it is its own (step, iteration, batch ids) before it reuses it. Each
 * version is announced by the caller after the save that records it ({@link #unannounced}, {@link #markAnnounced});
 * a restart lists again any version a crash left unannounced. {@link #snapshot} writes weights on request outside
 * the version sequence.
 *
 * <p>LoRA: a run whose batches name {@link Batch#lora()} settings trains an adapter of them over the frozen base
 * model instead of every weight (Hu et al. 2021, arXiv 2106.09685): only the adapter's matrices get gradients and
 * AdamW moments, its saved state holds the adapter and its moments ({@link AdapterCheckpoint}, a few MB where the
 * weights are GB), and its versions and snapshots are adapters in PEFT's layout, to be put onto the base model.
 * The base is loaded once per trainer and shared, without a copy ({@link Decoder#withAdapter}), by every LoRA
 * run's policy and reference models: the reference of version 0 is the base itself, of version v the base with
 * version v's adapter. A new adapter starts as PEFT's does (B = 0, so the policy starts equal to the base), its A
 * drawn from a seed derived from the run id, so a replay from nothing draws the same. A run keeps the LoRA
 * settings (or their absence) of its first batch: a batch naming others is refused.
 *
 * <p>Memory: a run's ledger (trained ids, progress, counters) is small and always in memory; its live state
 * (policy, AdamW moments, reference model) is loaded when one of its batches arrives, and at most
 * {@link Settings#maxLoadedRuns()} runs are live at once. Loading another run unloads the least recently trained
 * one, saving it first if it has unsaved steps (after {@link #saveState} it has none), so a switch costs one
 * state load (and, at most, one save). On {@link #open} every run's ledger is read from its newest saved state
 * (a few kB of JSON each), its model only when it trains again: a restart costs nothing per finished run, and a
 * batch of a run with state on disk continues that run.
 *
 * <p>State directory: {@code lock} (one trainer per directory, held while open), {@code position.json} (the input
 * position of a save that had no run to save, e.g. after dead-lettered records only) and, per run,
 * {@code runs/<run id>/states/step-NNNNNNNN/} in {@link TrainerCheckpoint}'s layout, numbered by save, the newest
 * two kept. A state directory of the single-run layout ({@code states/} at the top) is moved under its run on open.
 * Not thread-safe: one thread trains; {@link #status} and {@link #runs} may be read from any thread.
 */
public final class OnlineTrainer implements AutoCloseable {

    private static final String FORMAT = "steer-online-trainer/1";
    private static final int KEPT_STATES = 2;
    /** The input position of a save that found no run with unsaved changes. */
    static final String POSITION_FILE = "position.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * How to train.
     *
     * @param baseModel          the base (SFT) model directory, version 0 of every run; also the tokenizer's source
     * @param stateDir           the trainer's own state directory
     * @param store              where checkpoint versions go
     * @param runId              the only run to train, or null to train every run whose batches arrive
     * @param optimizer          AdamW settings; its lr is the default peak learning rate when a batch names none
     * @param maxGradNorm        global gradient-norm clip, &gt; 0
     * @param microBatchSize     examples per forward/backward pass
     * @param maxPolicyStaleness how many versions a batch's policy may lag the run's newest checkpoint, ≥ 0
     * @param maxLoadedRuns      how many runs' models (policy, moments, reference) stay in memory, ≥ 1
     * @param loraLearningRate   the default peak learning rate of a run that trains a LoRA adapter, when a batch
     *                           names none, &gt; 0; {@link #DEFAULT_LORA_LR_FACTOR} times the optimizer's by default
     * @param placement          the device and precision every model of the trainer runs in: in half precision a
     *                           fully trained policy keeps float32 master weights and moments, while references
     *                           and a LoRA run's frozen base are stored half (see {@link Placement})
     */
    public record Settings(Path baseModel, Path stateDir, CheckpointStore store, String runId, AdamWConfig optimizer,
                           double maxGradNorm, int microBatchSize, int maxPolicyStaleness, int maxLoadedRuns,
                           double loraLearningRate, Placement placement) {

        /**
         * A LoRA run's default learning rate over full fine-tuning's: 10, chosen before any run here, from common
         * practice: the optimal LoRA learning rate was about 10 times full fine-tuning's across model sizes and
         * datasets in Schulman et al. 2025 ("LoRA Without Regret", Thinking Machines Lab), as PEFT's and TRL's
         * guides use 1e-4 to 2e-4 for LoRA where full fine-tuning of the same models uses 1e-5.
         */
        public static final double DEFAULT_LORA_LR_FACTOR = 10;

        /** Two live runs: a run and the next one (or two interleaved runs) train without reloading. */
        public static final int DEFAULT_MAX_LOADED_RUNS = 2;

        public Settings {
            if (maxPolicyStaleness < 0) {
                throw new IllegalArgumentException("max policy staleness must be >= 0, got " + maxPolicyStaleness
                        + "; 1 lets a batch sampled from the previous checkpoint still train");
            }
            if (maxLoadedRuns < 1) {
                throw new IllegalArgumentException("max loaded runs must be >= 1, got " + maxLoadedRuns);
            }
            if (runId != null) {
                CheckpointStore.requireRunId(runId);
            }
            if (!(loraLearningRate > 0 && Double.isFinite(loraLearningRate))) {
                throw new IllegalArgumentException("the LoRA learning rate must be finite and > 0, got "
                        + loraLearningRate + " (default: " + DEFAULT_LORA_LR_FACTOR + " times the full fine-tuning"
                        + " rate)");
            }
            new TrainingConfig(optimizer, constantSchedule(), maxGradNorm, microBatchSize); // validates both
            if (placement == null) {
                throw new IllegalArgumentException("the trainer's placement (device and precision) is required");
            }
        }

        /** The same settings on the CPU in float32. */
        public Settings(Path baseModel, Path stateDir, CheckpointStore store, String runId, AdamWConfig optimizer,
                        double maxGradNorm, int microBatchSize, int maxPolicyStaleness, int maxLoadedRuns,
                        double loraLearningRate) {
            this(baseModel, stateDir, store, runId, optimizer, maxGradNorm, microBatchSize, maxPolicyStaleness,
                    maxLoadedRuns, loraLearningRate, Placement.CPU_F32);
        }

        /** The same settings with LoRA's default learning rate, {@link #DEFAULT_LORA_LR_FACTOR} times the optimizer's. */
        public Settings(Path baseModel, Path stateDir, CheckpointStore store, String runId, AdamWConfig optimizer,
                        double maxGradNorm, int microBatchSize, int maxPolicyStaleness, int maxLoadedRuns) {
            this(baseModel, stateDir, store, runId, optimizer, maxGradNorm, microBatchSize, maxPolicyStaleness,
                    maxLoadedRuns, DEFAULT_LORA_LR_FACTOR * optimizer.lr());
        }

        /** The same settings with {@link #DEFAULT_MAX_LOADED_RUNS}. */
        public Settings(Path baseModel, Path stateDir, CheckpointStore store, String runId, AdamWConfig optimizer,
                        double maxGradNorm, int microBatchSize, int maxPolicyStaleness) {
            this(baseModel, stateDir, store, runId, optimizer, maxGradNorm, microBatchSize, maxPolicyStaleness,
                    DEFAULT_MAX_LOADED_RUNS);
        }
    }

    /**
     * One optimizer step's worth of examples.
     *
     * @param runId              the run; it names directories, so it follows {@link CheckpointStore}'s rule
     * @param iteration          0-based iteration
     * @param batchId            the idempotency key, unique within the run
     * @param policyVersion      the run's checkpoint version that generated the samples
     * @param objective          the loss
     * @param batchIndex         position within the iteration, in [0, batchesInIteration)
     * @param batchesInIteration how many batches the iteration has
     * @param learningRate       peak learning rate, or 0 for the trainer's default
     * @param totalSteps         optimizer steps of the whole run, spanned by warm-up and cosine; 0 for a constant
     *                           learning rate
     * @param examples           the examples, all of the kind the objective trains on
     * @param referenceVersion   the run's checkpoint version the objective's log-ratios are measured against (0 =
     *                           the base model): the iteration's start for SSO, the base model for OSP
     * @param maxPolicyStaleness the run's own bound on how far policyVersion may lag the run's newest checkpoint,
     *                           or -1 for none (the trainer's {@link Settings#maxPolicyStaleness()} applies; with
     *                           both, the smaller)
     * @param lora               the run trains a LoRA adapter of these settings over the frozen base model, or null
     *                           for full fine-tuning; a run keeps its first batch's ({@code baseModel} is ignored:
     *                           the base is the trainer's)
     */
    public record Batch(String runId, int iteration, String batchId, long policyVersion, Objective<?> objective,
                        int batchIndex, int batchesInIteration, double learningRate, long totalSteps,
                        List<? extends TrainingExample> examples, long referenceVersion, int maxPolicyStaleness,
                        LoraConfig lora) {

        public Batch {
            require(runId != null && !runId.isBlank(), "run_id is empty");
            try {
                CheckpointStore.requireRunId(runId);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("run_id: " + e.getMessage(), e);
            }
            require(batchId != null && !batchId.isBlank(), "batch_id is empty");
            require(iteration >= 0, "iteration must be >= 0, got " + iteration);
            require(policyVersion >= 0, "policy_version must be >= 0, got " + policyVersion);
            require(referenceVersion >= 0, "reference_version must be >= 0, got " + referenceVersion);
            require(maxPolicyStaleness >= -1, "max_policy_staleness must be >= 0, got " + maxPolicyStaleness);
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
            if (lora != null) {
                try {
                    lora.requireNoDropout();
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("lora: " + e.getMessage(), e);
                }
                lora = lora.withBaseModel(null);
            }
        }

        /** A full fine-tuning batch. */
        public Batch(String runId, int iteration, String batchId, long policyVersion, Objective<?> objective,
                     int batchIndex, int batchesInIteration, double learningRate, long totalSteps,
                     List<? extends TrainingExample> examples, long referenceVersion, int maxPolicyStaleness) {
            this(runId, iteration, batchId, policyVersion, objective, batchIndex, batchesInIteration, learningRate,
                    totalSteps, examples, referenceVersion, maxPolicyStaleness, null);
        }

        /** The same batch training a LoRA adapter of {@code settings} (null: full fine-tuning). */
        public Batch withLora(LoraConfig settings) {
            return new Batch(runId, iteration, batchId, policyVersion, objective, batchIndex, batchesInIteration,
                    learningRate, totalSteps, examples, referenceVersion, maxPolicyStaleness, settings);
        }

        /** A batch measured against the version that sampled it, under the trainer's staleness bound. */
        public Batch(String runId, int iteration, String batchId, long policyVersion, Objective<?> objective,
                     int batchIndex, int batchesInIteration, double learningRate, long totalSteps,
                     List<? extends TrainingExample> examples) {
            this(runId, iteration, batchId, policyVersion, objective, batchIndex, batchesInIteration, learningRate,
                    totalSteps, examples, policyVersion, -1);
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

    /** The batch id was trained before in its run; nothing changed but the duplicate counter. */
    public record Duplicate(String batchId) implements Outcome {
    }

    /** Why a batch is refused. */
    public enum RefusalKind {
        /** Its policy is older than the run's newest checkpoint minus the allowed staleness. */
        STALE,
        /** It belongs to another run than the one this trainer is configured for. */
        OTHER_RUN,
        /** It names a policy version this trainer has not written for its run. */
        UNKNOWN_POLICY,
        /** Its LoRA settings (or their absence) differ from those its run started with. */
        CHANGED_LORA
    }

    /** The batch was refused and changed nothing but a counter. */
    public record Refused(RefusalKind kind, String reason) implements Outcome {
    }

    /**
     * A snapshot of where one run's training stands.
     *
     * @param runId             the run, or null before the first batch
     * @param iteration         the iteration of the run's last trained batch
     * @param step              the run's optimizer steps
     * @param checkpointVersion the run's newest version written (0: only the base model)
     * @param lastMetrics       the run's last step's loss and diagnostics
     * @param trained           the run's batches trained
     * @param duplicate         deliveries of the run's batches skipped as already trained
     * @param stale             the run's batches refused as stale
     * @param refused           batches refused for another reason (unknown policy; for the trainer's status also
     *                          other runs)
     * @param loaded            whether the run's model is in memory
     */
    public record Status(String runId, int iteration, long step, long checkpointVersion, Map<String, Double> lastMetrics,
                         long trained, long duplicate, long stale, long refused, boolean loaded) {
    }

    private final Settings settings;
    private final FileChannel lockChannel;
    private final FileLock lock;
    /** Every run with state on disk or trained since open, by id. */
    private final Map<String, RunState> runs = new TreeMap<>();
    /** The runs whose model is in memory, least recently trained first. */
    private final LinkedHashMap<String, RunState> live = new LinkedHashMap<>(4, 0.75f, true);
    /** The base model's weights, which every LoRA run's policy and references share; null until one trains. */
    private Decoder base;
    /** The run of the last trained batch. */
    private RunState current;
    /** Orders saves across runs, so a restart knows which run trained last. */
    private long saveSequence;
    /** Batches refused before any run state was involved: another run, or a new run naming a policy &gt; 0. */
    private long refusedWithoutRun;
    private long modelLoads;
    /** The input position recorded by the newest save (of a run's state or of {@link #POSITION_FILE}). */
    private Map<String, Long> durablePosition = Map.of();
    private volatile Snapshot snapshot;

    private record Snapshot(Status current, List<Status> runs) {
    }

    private OnlineTrainer(Settings settings, FileChannel lockChannel, FileLock lock) {
        this.settings = settings;
        this.lockChannel = lockChannel;
        this.lock = lock;
        for (RunState r : readLedgers()) {
            runs.put(r.runId, r);
            saveSequence = Math.max(saveSequence, r.saveSequence);
            if (current == null || r.saveSequence > current.saveSequence) {
                current = r;
            }
        }
        if (current != null) {
            durablePosition = current.savedPosition;
        }
        readPositionFile();
        publishStatus();
    }

    /**
     * Opens the trainer: locks the state directory, moves a single-run state into the per-run layout, deletes
     * what a crashed save left, and reads every run's ledger (its model loads when the run trains again).
     *
     * @throws IllegalStateException if another trainer holds the state directory
     */
    public static OnlineTrainer open(Settings settings) {
        try {
            Files.createDirectories(settings.stateDir().resolve("runs"));
            FileChannel channel = FileChannel.open(settings.stateDir().resolve("lock"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {
                channel.close();
                throw new IllegalStateException("another trainer holds the state directory " + settings.stateDir()
                        + "; give each trainer its own steer.trainer.state-dir");
            }
            try {
                moveSingleRunState(settings.stateDir());
                return new OnlineTrainer(settings, channel, lock);
            } catch (RuntimeException | IOException e) {
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
     * Trains one batch of its run, unless it was trained before or is refused; loads the run's model first if it
     * is not in memory. When the batch completes its iteration, the run's policy is written to the store as the
     * run's next version. Durable only after {@link #saveState}.
     */
    public Outcome train(Batch b) {
        if (settings.runId() != null && !settings.runId().equals(b.runId())) {
            refusedWithoutRun++;
            publishStatus();
            return new Refused(RefusalKind.OTHER_RUN, "batch " + b.batchId() + " belongs to run " + b.runId()
                    + "; this trainer trains only run " + settings.runId() + " (steer.trainer.run-id)");
        }
        RunState run = runs.get(b.runId());
        if (run == null && b.policyVersion() > 0) {
            // not a run yet: no state is made for a batch that cannot train
            refusedWithoutRun++;
            publishStatus();
            return new Refused(RefusalKind.UNKNOWN_POLICY, "batch " + b.batchId() + " names policy version "
                    + b.policyVersion() + ", but run " + b.runId() + " has not trained here: its first batches must"
                    + " be sampled from version 0, the base model");
        }
        if (run == null) {
            run = new RunState(b.runId(), runDir(b.runId()));
            run.lora = b.lora();
            runs.put(run.runId, run);
        }
        if (run.trainedIds.contains(b.batchId())) {
            run.duplicates++;
            publishStatus();
            return new Duplicate(b.batchId());
        }
        if (!java.util.Objects.equals(run.lora, b.lora())) {
            run.refused++;
            publishStatus();
            return new Refused(RefusalKind.CHANGED_LORA, "batch " + b.batchId() + " asks for " + describe(b.lora())
                    + ", but run " + run.runId + " trains " + describe(run.lora) + ": a run keeps the LoRA settings"
                    + " it started with; start another run for others");
        }
        int bound = b.maxPolicyStaleness() < 0 ? settings.maxPolicyStaleness()
                : Math.min(b.maxPolicyStaleness(), settings.maxPolicyStaleness());
        long oldest = run.checkpointVersion - bound;
        if (b.policyVersion() < oldest) {
            run.stale++;
            publishStatus();
            return new Refused(RefusalKind.STALE, "batch " + b.batchId() + " was sampled from policy version "
                    + b.policyVersion() + ", older than the oldest allowed, " + oldest + " (newest checkpoint of run "
                    + run.runId + ": " + run.checkpointVersion + ", staleness bound " + bound + ": the run's "
                    + (b.maxPolicyStaleness() < 0 ? "none" : b.maxPolicyStaleness()) + ", the trainer's"
                    + " max-policy-staleness " + settings.maxPolicyStaleness() + ")");
        }
        if (b.referenceVersion() > run.checkpointVersion) {
            run.refused++;
            publishStatus();
            return new Refused(RefusalKind.UNKNOWN_POLICY, "batch " + b.batchId() + " names reference version "
                    + b.referenceVersion() + ", but the newest checkpoint of run " + b.runId() + " is "
                    + run.checkpointVersion);
        }
        if (b.policyVersion() > run.checkpointVersion) {
            run.refused++;
            publishStatus();
            return new Refused(RefusalKind.UNKNOWN_POLICY, "batch " + b.batchId() + " names policy version "
                    + b.policyVersion() + ", but the newest checkpoint of run " + b.runId() + " is "
                    + run.checkpointVersion);
        }
        Live m = activate(run);
        m.trainer.frozenReference(m.referenceFor(b.referenceVersion(), run.runId));
        double peak = b.learningRate() > 0 ? b.learningRate()
                : run.lora != null ? settings.loraLearningRate() : settings.optimizer().lr();
        long t = m.trainer.stepCount() + 1;
        double lr = b.totalSteps() > 0 ? LearningRateSchedule.forSteps(b.totalSteps()).lr(peak, t) : peak;
        PolicyTrainer.StepResult r = m.trainer.step(b.examples(), b.objective(), lr);

        current = run;
        run.dirty = true;
        run.steps = m.trainer.stepCount();
        run.trainedIds.add(b.batchId());
        run.iteration = b.iteration();
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("loss", r.loss());
        metrics.putAll(r.diagnostics());
        metrics.put("lr", r.lr());
        metrics.put("grad_norm", r.gradNorm());
        metrics.put("reference_version", (double) b.referenceVersion());
        metrics.put("policy_lag", (double) (run.checkpointVersion - b.policyVersion()));
        run.lastMetrics = Collections.unmodifiableMap(metrics);
        IterationProgress progress = run.iterations.computeIfAbsent(b.iteration(), i -> new IterationProgress());
        progress.add(b.batchIndex(), b.batchId(), metrics);
        Optional<StoredCheckpoint> written = Optional.empty();
        if (!progress.checkpointed && progress.indices.size() >= b.batchesInIteration()) {
            progress.checkpointed = true;
            written = Optional.of(writeVersion(run, b.iteration(), progress.batchIds, progress.means()));
        }
        publishStatus();
        return new Trained(r, written);
    }

    /**
     * Writes the policy of the run of the last trained batch as a snapshot now (on request): outside the run's
     * version sequence, so no iteration ever takes it for its checkpoint.
     *
     * @throws IllegalStateException before the first batch, when there is no run yet
     */
    public StoredSnapshot snapshot() {
        if (current == null) {
            throw new IllegalStateException("no run yet: the trainer has trained no batch"
                    + (settings.runId() != null ? " of run " + settings.runId() : ""));
        }
        return snapshot(current.runId);
    }

    /**
     * Writes the policy of {@code runId} as a snapshot now (on request), steps not yet saved included; loads the
     * run's model if it is not in memory. The run's state does not change: the snapshot is no version.
     *
     * @throws NoSuchElementException if the run has not trained here
     */
    public StoredSnapshot snapshot(String runId) {
        RunState run = runs.get(runId);
        if (run == null) {
            throw new NoSuchElementException("run " + runId + " has not trained here; runs: " + runs.keySet());
        }
        Live m = activate(run);
        if (run.lora != null) {
            return settings.store().writeSnapshot(run.runId, run.iteration, m.trainer.stepCount(),
                    run.checkpointVersion, run.lastMetrics, m.policy.adapter().toCheckpoint(), settings.baseModel());
        }
        return settings.store().writeSnapshot(run.runId, run.iteration, m.trainer.stepCount(), run.checkpointVersion,
                run.lastMetrics, m.policy.hfWeights(), settings.baseModel());
    }

    /**
     * The versions written (and recorded by a save) but not yet announced, oldest first: after a restart, those a
     * crash left between the save and the event; in steady use, the version the last step wrote.
     */
    public List<StoredCheckpoint> unannounced() {
        List<StoredCheckpoint> out = new ArrayList<>();
        for (RunState r : runs.values()) {
            for (long v = r.announcedVersion + 1; v <= r.savedCheckpointVersion; v++) {
                out.add(settings.store().read(r.runId, v));
            }
        }
        return out;
    }

    /**
     * Records that a version's event is on the broker. Kept in memory and saved with the run's next save; until
     * then a restart announces it again (events are at least once).
     */
    public void markAnnounced(String runId, long version) {
        RunState r = runs.get(runId);
        if (r != null) {
            r.announcedVersion = Math.max(r.announcedVersion, version);
        }
    }

    /**
     * The input position of the newest save: per {@code topic-partition} key, the next offset to read. A restarted
     * consumer seeks there; records after it are replayed and train again from the saved state.
     */
    public Map<String, Long> position() {
        return durablePosition;
    }

    /** Whether any run has trained or written a version since its last save. */
    public boolean hasUnsavedChanges() {
        return live.values().stream().anyMatch(r -> r.dirty);
    }

    /** {@link #saveState(Map)} at the position of the last save: for callers that keep no input position. */
    public void saveState() {
        saveState(durablePosition);
    }

    /**
     * Makes everything trained so far durable, with {@code position} (per {@code topic-partition} key, the next
     * offset to read; every record before it handled): for each run changed since its last save, weights,
     * moments, trained ids, counters, iteration metrics, in one atomic directory each. In steady use that is the
     * run of the last batch alone, and its state and position are one atomic write. With several changed runs,
     * all but the last save with the previous position, so a crash between them leaves a position no later than
     * what is durable (the replay skips what the saved runs hold by id). With none, only the position is written.
     */
    public void saveState(Map<String, Long> position) {
        Map<String, Long> next = Map.copyOf(position);
        List<RunState> changed = live.values().stream().filter(r -> r.dirty).toList();
        if (changed.isEmpty()) {
            if (!next.equals(durablePosition)) {
                writePositionFile(next);
            }
        }
        for (int i = 0; i < changed.size(); i++) {
            save(changed.get(i), i == changed.size() - 1 ? next : durablePosition);
        }
        durablePosition = next;
    }

    /** Where the run of the last trained batch stands (all zeros before the first); safe from any thread. */
    public Status status() {
        return snapshot.current();
    }

    /** Where every run known to this trainer stands, by run id; safe to read from any thread. */
    public List<Status> runs() {
        return snapshot.runs();
    }

    /** The batch ids of the run of the last trained batch, in training order (empty before the first). */
    public List<String> trainedBatchIds() {
        return current == null ? List.of() : List.copyOf(current.trainedIds);
    }

    /** The batch ids of {@code runId} trained so far, in training order (empty for an unknown run). */
    public List<String> trainedBatchIds(String runId) {
        RunState r = runs.get(runId);
        return r == null ? List.of() : List.copyOf(r.trainedIds);
    }

    /** How many times a run's model was loaded since open (a run's first load included). */
    public long modelLoads() {
        return modelLoads;
    }

    @Override
    public void close() {
        for (RunState r : live.values()) {
            r.live.close();
            r.live = null;
        }
        live.clear();
        if (base != null) {
            base.close();
            base = null;
        }
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException e) {
            // the lock goes with the process anyway
        }
    }

    /**
     * The run's model in memory, loading it (from its newest state, or the base model for a new run) and first
     * unloading the least recently trained run if {@link Settings#maxLoadedRuns()} are live.
     */
    private Live activate(RunState run) {
        if (run.live != null) {
            live.get(run.runId); // most recently used
            return run.live;
        }
        while (live.size() >= settings.maxLoadedRuns()) {
            RunState eldest = live.values().iterator().next();
            unload(eldest);
        }
        if (run.lora != null) {
            return activateAdapter(run);
        }
        Optional<Path> latest = TrainerCheckpoint.latest(run.dir);
        // weights streamed tensor by tensor from the newest state, or the base model for a new run
        MomentSource saved = latest.map(TrainerCheckpoint::openOptimizer).orElse(null);
        Placement at = settings.placement();
        return live(run, Decoder.load(latest.orElse(settings.baseModel()), at.newManager(), at.precision(), true),
                saved, latest);
    }

    /**
     * A LoRA run's model: the shared base with the run's adapter in front, from its newest state (adapter and
     * moments) or new.
     */
    private Live activateAdapter(RunState run) {
        Decoder shared = base();
        Optional<Path> latest = TrainerCheckpoint.latest(run.dir);
        AdapterCheckpoint.Loaded loaded = latest.map(p -> AdapterCheckpoint.load(p, shared.config())).orElse(null);
        LoraConfig lora = run.lora.withBaseModel(settings.baseModel().toAbsolutePath().normalize().toString());
        if (loaded != null && !loaded.adapter().config().withBaseModel(null).equals(run.lora)) {
            throw new IllegalStateException("run " + run.runId + ": the saved adapter in " + latest.get() + " is "
                    + describe(loaded.adapter().config()) + ", but the run's ledger says " + describe(run.lora));
        }
        LoraAdapter adapter = loaded == null
                ? LoraAdapter.initialise(shared.config(), lora, adapterSeed(run.runId), shared.manager().newSubManager(),
                        shared.dtype())
                : LoraAdapter.fromCheckpoint(shared.config(), loaded.adapter(), shared.manager().newSubManager(),
                        shared.dtype());
        return live(run, shared.withAdapter(adapter), loaded == null ? null : loaded.optimizer(), latest);
    }

    /**
     * Puts a run's policy in memory with its optimizer, restoring the saved moments, after checking that they hold
     * as many steps as the run's ledger.
     */
    private Live live(RunState run, Decoder policy, MomentSource saved, Optional<Path> latest) {
        // the objective given here is never used: every step names its own (PolicyTrainer.step(batch, objective, lr))
        PolicyTrainer trainer = new PolicyTrainer(policy, Sso.defaults(), new TrainingConfig(settings.optimizer(),
                constantSchedule(), settings.maxGradNorm(), settings.microBatchSize()));
        try {
            if (saved != null) {
                trainer.optimizer().importState(saved);
            }
            if (trainer.stepCount() != run.steps) {
                throw new IllegalStateException("run " + run.runId + ": the saved state in " + latest.orElse(run.dir)
                        + " has " + trainer.stepCount() + " steps, but its ledger " + run.steps);
            }
        } catch (RuntimeException e) {
            policy.close();   // a view closes its adapter only
            throw e;
        }
        run.live = new Live(policy, trainer);
        live.put(run.runId, run);
        modelLoads++;
        return run.live;
    }

    /** The base model's weights, loaded on first use and shared by every LoRA run until the trainer closes. */
    private Decoder base() {
        if (base == null) {
            Placement at = settings.placement();
            base = Decoder.load(settings.baseModel(), at.newManager(), at.precision(), false);
        }
        return base;
    }

    /** The seed of a run's new adapter: String.hashCode is fixed by the language, so every process draws the same A. */
    static long adapterSeed(String runId) {
        return 0x5EED_10BAL ^ runId.hashCode();
    }

    private static String describe(LoraConfig lora) {
        return lora == null ? "full fine-tuning" : "a LoRA adapter (rank " + lora.rank() + ", alpha " + lora.alpha()
                + ", targets " + lora.orderedTargets().stream().map(LoraConfig.Target::module).toList() + ")";
    }

    /** Saves the run if it has unsaved changes, then frees its model; its ledger stays. */
    private void unload(RunState run) {
        if (run.dirty) {
            // the other runs may hold unsaved steps: the position stays where the last full save left it
            save(run, durablePosition);
        }
        live.remove(run.runId);
        run.live.close();
        run.live = null;
    }

    private void save(RunState run, Map<String, Long> position) {
        long next = run.saves + 1;
        long sequence = saveSequence + 1;
        TrainerCheckpoint.State state = new TrainerCheckpoint.State(run.live.trainer.stepCount(), 0, 0,
                run.stateJson(next, sequence, position));
        if (run.lora != null) {
            AdapterCheckpoint.save(run.dir.resolve(TrainerCheckpoint.name(next)), run.live.policy.adapter(),
                    run.live.trainer.optimizer(), state, settings.baseModel());
        } else {
            TrainerCheckpoint.save(run.dir.resolve(TrainerCheckpoint.name(next)), run.live.policy,
                    run.live.trainer.optimizer(), state, settings.baseModel());
        }
        run.saves = next;
        run.saveSequence = sequence;
        run.savedPosition = position;
        run.savedCheckpointVersion = run.checkpointVersion;
        saveSequence = sequence;
        run.dirty = false;
        try (Stream<Path> s = Files.list(run.dir)) {
            List<Path> complete = s.filter(p -> p.getFileName().toString().matches("step-\\d{8}"))
                    .sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
            for (Path old : complete.subList(0, Math.max(0, complete.size() - KEPT_STATES))) {
                TrainerCheckpoint.deleteRecursively(old);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("pruning old trainer states in " + run.dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes the run's next version at the end of an iteration. A version already in the store is the one this same
     * step wrote before a crash that lost the state save (the replayed step computes the same weights) if its step,
     * iteration and batch ids are this step's; then it is kept, not rewritten. Anything else is a conflict.
     *
     * @throws VersionConflictException if the stored version was written by another step
     */
    private StoredCheckpoint writeVersion(RunState run, int ofIteration, List<String> batchIds,
                                          Map<String, Double> metrics) {
        long version = run.checkpointVersion + 1;
        long step = run.live.trainer.stepCount();
        StoredCheckpoint c;
        if (settings.store().exists(run.runId, version)) {
            c = settings.store().read(run.runId, version);
            if (!c.writtenBy(step, ofIteration, batchIds)) {
                throw new VersionConflictException("run " + run.runId + ": version " + version + " at " + c.location()
                        + " is in the store, written at step " + c.step() + " of iteration " + c.iteration() + " from "
                        + c.batchIds().size() + " batches " + c.batchIds() + ", but this trainer's state makes it at"
                        + " step " + step + " of iteration " + ofIteration + " from batches "
                        + batchIds.stream().sorted().toList() + "; the store and the state directory disagree"
                        + " (another trainer, or a state directory restored from elsewhere): move one of them aside");
            }
        } else if (run.lora != null) {
            c = settings.store().write(run.runId, version, ofIteration, step, metrics, batchIds,
                    run.live.policy.adapter().toCheckpoint(), settings.baseModel());
        } else {
            Decoder policy = run.live.policy;
            c = settings.store().write(run.runId, version, ofIteration, step, metrics, batchIds,
                    policy.hfWeights(), settings.baseModel());
        }
        run.checkpointVersion = version;
        return c;
    }

    /** Writes {@link #POSITION_FILE} atomically (temporary file, force, rename, force the directory). */
    private void writePositionFile(Map<String, Long> position) {
        long sequence = saveSequence + 1;
        ObjectNode o = JSON.createObjectNode();
        o.put("save_sequence", sequence);
        ObjectNode offsets = o.putObject("consumed_offsets");
        new TreeMap<>(position).forEach(offsets::put);
        Path file = settings.stateDir().resolve(POSITION_FILE);
        Path tmp = settings.stateDir().resolve("." + POSITION_FILE + ".tmp");
        try {
            try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                c.write(java.nio.ByteBuffer.wrap(JSON.writeValueAsBytes(o)));
                c.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            try (FileChannel d = FileChannel.open(settings.stateDir(), StandardOpenOption.READ)) {
                d.force(true);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + file + ": " + e.getMessage(), e);
        }
        saveSequence = sequence;
    }

    /** Takes the position of {@link #POSITION_FILE} if it is newer than every run's save. */
    private void readPositionFile() {
        Path file = settings.stateDir().resolve(POSITION_FILE);
        if (!Files.isRegularFile(file)) {
            return;
        }
        try {
            JsonNode o = JSON.readTree(file.toFile());
            long sequence = o.path("save_sequence").asLong();
            if (sequence > saveSequence) {
                durablePosition = offsets(o.path("consumed_offsets"));
                saveSequence = sequence;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + file + ": " + e.getMessage(), e);
        }
    }

    private static Map<String, Long> offsets(JsonNode o) {
        Map<String, Long> out = new TreeMap<>();
        o.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asLong()));
        return Collections.unmodifiableMap(out);
    }

    private Path runDir(String runId) {
        return settings.stateDir().resolve("runs").resolve(runId).resolve("states");
    }

    /** Each run's ledger from its newest state (only the configured run's, when one is). */
    private List<RunState> readLedgers() {
        List<RunState> out = new ArrayList<>();
        Path root = settings.stateDir().resolve("runs");
        List<String> ids;
        try (Stream<Path> s = Files.list(root)) {
            ids = s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("listing runs in " + root + ": " + e.getMessage(), e);
        }
        for (String id : ids) {
            if (settings.runId() != null && !settings.runId().equals(id)) {
                continue;
            }
            try {
                CheckpointStore.requireRunId(id);
            } catch (IllegalArgumentException e) {
                throw new IllegalStateException("the state directory " + root + " holds '" + id + "', which is not a"
                        + " run id; move it out of the way", e);
            }
            Path dir = runDir(id);
            deleteUnfinishedSaves(dir);
            Optional<Path> latest = TrainerCheckpoint.latest(dir);
            if (latest.isEmpty()) {
                continue;
            }
            RunState r = new RunState(id, dir);
            TrainerCheckpoint.State state = TrainerCheckpoint.loadState(latest.get());
            r.restore(state.settings(), latest.get());
            r.steps = state.step();
            out.add(r);
        }
        return out;
    }

    private void publishStatus() {
        List<Status> all = new ArrayList<>(runs.size());
        long others = refusedWithoutRun;
        for (RunState r : runs.values()) {
            all.add(r.status(0));
        }
        Status now = current == null
                ? new Status(settings.runId(), 0, 0, 0, Map.of(), 0, 0, 0, others, false)
                : current.status(others);
        snapshot = new Snapshot(now, List.copyOf(all));
    }

    /**
     * A state directory of the single-run layout keeps its one run in {@code states/}; it moves, as it is, to
     * {@code runs/<its run>/states}. One without a run trained no batch and is dropped.
     */
    private static void moveSingleRunState(Path stateDir) throws IOException {
        Path legacy = stateDir.resolve("states");
        if (!Files.isDirectory(legacy)) {
            return;
        }
        deleteUnfinishedSaves(legacy);
        Optional<Path> latest = TrainerCheckpoint.latest(legacy);
        JsonNode run = latest.map(p -> TrainerCheckpoint.loadState(p).settings().path("run_id")).orElse(null);
        if (run == null || run.isNull() || run.asText().isEmpty()) {
            TrainerCheckpoint.deleteRecursively(legacy);
            return;
        }
        CheckpointStore.requireRunId(run.asText());
        Path target = stateDir.resolve("runs").resolve(run.asText());
        if (Files.exists(target.resolve("states"))) {
            throw new IllegalStateException("the state directory " + stateDir + " holds both a single-run state of"
                    + " run " + run.asText() + " (" + legacy + ") and a per-run one (" + target + "); keep one");
        }
        Files.createDirectories(target);
        Files.move(legacy, target.resolve("states"), StandardCopyOption.ATOMIC_MOVE);
    }

    /** Hidden temporary directories are saves that a crash interrupted; with the lock held, none is in progress. */
    private static void deleteUnfinishedSaves(Path states) {
        if (!Files.isDirectory(states)) {
            return;
        }
        try (Stream<Path> s = Files.list(states)) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith(".")).toList()) {
                TrainerCheckpoint.deleteRecursively(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cleaning unfinished saves in " + states + ": " + e.getMessage(), e);
        }
    }

    /** The caller's learning rate, unchanged: online steps bring their own schedule. */
    private static LearningRateSchedule constantSchedule() {
        return new LearningRateSchedule(0, 1, 1.0);
    }

    /** One run: its ledger, always in memory, and its model, when loaded. */
    private final class RunState {
        final String runId;
        final Path dir;
        int iteration;
        long steps;
        long checkpointVersion;
        long saves;
        long saveSequence;
        /** The newest version recorded by a save, and the newest whose event is known to be on the broker. */
        long savedCheckpointVersion;
        long announcedVersion;
        /** The input position the run's newest save recorded. */
        Map<String, Long> savedPosition = Map.of();
        final Set<String> trainedIds = new LinkedHashSet<>();
        final Map<Integer, IterationProgress> iterations = new TreeMap<>();
        Map<String, Double> lastMetrics = Map.of();
        /** The LoRA settings of the run's adapter (base model not named), or null for full fine-tuning. */
        LoraConfig lora;
        long duplicates;
        long stale;
        long refused;
        /** Trained or checkpointed since the last save. */
        boolean dirty;
        Live live;

        RunState(String runId, Path dir) {
            this.runId = runId;
            this.dir = dir;
        }

        Status status(long refusedElsewhere) {
            return new Status(runId, iteration, steps, checkpointVersion, lastMetrics, trainedIds.size(), duplicates,
                    stale, refused + refusedElsewhere, live != null);
        }

        ObjectNode stateJson(long saveNumber, long sequence, Map<String, Long> position) {
            ObjectNode o = JSON.createObjectNode();
            o.put("format", FORMAT);
            o.put("run_id", runId);
            o.put("iteration", iteration);
            o.put("checkpoint_version", checkpointVersion);
            o.put("announced_version", announcedVersion);
            ObjectNode offsets = o.putObject("consumed_offsets");
            new TreeMap<>(position).forEach(offsets::put);
            o.put("saves", saveNumber);
            o.put("save_sequence", sequence);
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
            if (lora != null) {
                ObjectNode l = o.putObject("lora");
                l.put("r", lora.rank());
                l.put("alpha", lora.alpha());
                ArrayNode targets = l.putArray("targets");
                lora.orderedTargets().forEach(t -> targets.add(t.module()));
            }
            return o;
        }

        void restore(ObjectNode o, Path from) {
            if (!FORMAT.equals(o.path("format").asText())) {
                throw new IllegalStateException(from + " is not an online trainer state (format '"
                        + o.path("format").asText() + "', expected '" + FORMAT + "')");
            }
            if (!runId.equals(o.path("run_id").asText())) {
                throw new IllegalStateException("the state in " + from + " belongs to run "
                        + o.path("run_id").asText() + ", but lies under run " + runId);
            }
            iteration = o.path("iteration").asInt();
            checkpointVersion = o.path("checkpoint_version").asLong();
            savedCheckpointVersion = checkpointVersion;
            // a state saved before versions were announced after the save: its versions were announced then
            announcedVersion = o.has("announced_version") ? o.path("announced_version").asLong() : checkpointVersion;
            savedPosition = offsets(o.path("consumed_offsets"));
            saves = o.path("saves").asLong();
            saveSequence = o.path("save_sequence").asLong(); // 0 in a single-run state
            o.path("trained_batches").forEach(id -> trainedIds.add(id.asText()));
            o.path("iterations").fields().forEachRemaining(e ->
                    iterations.put(Integer.parseInt(e.getKey()), IterationProgress.fromJson(e.getValue())));
            Map<String, Double> last = new LinkedHashMap<>();
            o.path("last_metrics").fields().forEachRemaining(e -> last.put(e.getKey(), e.getValue().asDouble()));
            lastMetrics = Collections.unmodifiableMap(last);
            duplicates = o.path("counters").path("duplicate").asLong();
            stale = o.path("counters").path("stale").asLong();
            refused = o.path("counters").path("refused").asLong();
            JsonNode l = o.path("lora");
            if (l.isObject()) {
                List<LoraConfig.Target> targets = new ArrayList<>();
                l.path("targets").forEach(t -> targets.add(LoraConfig.Target.parse(t.asText())));
                lora = new LoraConfig(l.path("r").asInt(), l.path("alpha").asDouble(), java.util.EnumSet.copyOf(targets),
                        0, null);
            }
        }
    }

    /**
     * A run's model in memory: the policy with its optimizer, and the frozen reference models its batches name, by
     * version: at most {@link #KEPT_REFERENCES}, the least recently used closed first — a run whose reference is the
     * base model for good (OSP) loads it once; one whose reference is the iteration's start (SSO) switches once per
     * iteration.
     */
    private final class Live implements AutoCloseable {
        static final int KEPT_REFERENCES = 2;
        final Decoder policy;
        final PolicyTrainer trainer;
        final LinkedHashMap<Long, Decoder> references = new LinkedHashMap<>(4, 0.75f, true);

        Live(Decoder policy, PolicyTrainer trainer) {
            this.policy = policy;
            this.trainer = trainer;
        }

        Decoder referenceFor(long version, String runId) {
            Decoder known = references.get(version);
            if (known != null) {
                return known;
            }
            Path dir = version == 0 ? settings.baseModel() : settings.store().location(runId, version);
            Decoder reference;
            if (policy.adapter() != null) {
                // views of the shared base: closing one frees its adapter only (version 0's has none)
                Decoder shared = base();
                reference = shared.withAdapter(version == 0 ? null : LoraAdapter.read(dir, shared));
            } else {
                Placement at = settings.placement();
                reference = Decoder.load(dir, at.newManager(), at.precision(), false);
            }
            if (references.size() >= KEPT_REFERENCES) {
                Long eldest = references.keySet().iterator().next();
                references.remove(eldest).close();
            }
            references.put(version, reference);
            return reference;
        }

        @Override
        public void close() {
            references.values().forEach(Decoder::close);
            references.clear();
            policy.close();
        }
    }

    /** One iteration's trained batch indices and metric sums. */
    private static final class IterationProgress {
        final Set<Integer> indices = new TreeSet<>();
        final List<String> batchIds = new ArrayList<>();
        final Map<String, Double> sums = new LinkedHashMap<>();
        long steps;
        boolean checkpointed;

        void add(int index, String batchId, Map<String, Double> metrics) {
            indices.add(index);
            batchIds.add(batchId);
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
            ArrayNode ids = o.putArray("batch_ids");
            batchIds.forEach(ids::add);
            ObjectNode s = o.putObject("sums");
            sums.forEach(s::put);
            o.put("steps", steps);
            o.put("checkpointed", checkpointed);
            return o;
        }

        static IterationProgress fromJson(JsonNode o) {
            IterationProgress p = new IterationProgress();
            o.path("indices").forEach(i -> p.indices.add(i.asInt()));
            o.path("batch_ids").forEach(i -> p.batchIds.add(i.asText()));
            o.path("sums").fields().forEachRemaining(e -> p.sums.put(e.getKey(), e.getValue().asDouble()));
            p.steps = o.path("steps").asLong();
            p.checkpointed = o.path("checkpointed").asBoolean();
            return p;
        }
    }
}
