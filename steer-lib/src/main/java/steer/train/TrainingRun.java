package steer.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.function.Consumer;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfConfigJson;
import steer.checkpoint.LoraConfig;
import steer.data.TrainingExample;
import steer.model.Decoder;
import steer.model.LoraAdapter;
import steer.model.Placement;
import steer.objective.Objective;

/**
 * An offline training run: epochs over a fixed example list in a seeded shuffled order, one
 * {@link PolicyTrainer} step per batch, a line of metrics per step in {@code OUT/metrics.jsonl}, resumable
 * checkpoints under {@code OUT/checkpoints/}, and the final model in {@code OUT/} in the Hugging Face layout; with
 * {@link Spec#lora()} a LoRA adapter is trained on the frozen model instead, and checkpoints and the output hold the
 * adapter in PEFT's layout ({@link AdapterCheckpoint}).
 *
 * <p>Resuming reloads the newest complete checkpoint (weights, optimizer moments, step, data position) and
 * continues exactly where it stopped: the same next batch, the same learning rate, the same loss as a run that
 * never stopped.
 */
public final class TrainingRun {

    /** The metrics file, one JSON object per optimizer step. */
    public static final String METRICS_FILE = "metrics.jsonl";

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * What to run.
     *
     * @param model      the starting checkpoint directory (policy and frozen reference)
     * @param out        output directory
     * @param objective  the loss
     * @param config     optimizer, schedule, clipping, micro-batch size
     * @param batchSize  examples per optimizer step
     * @param epochs     passes over the examples
     * @param maxSteps   stop after this many steps in total (0: run every epoch)
     * @param saveEvery  write a checkpoint every this many steps (0: only at the end)
     * @param seed       shuffling seed
     * @param stopAfter  end this invocation after this many steps, checkpointing first, to be continued with
     *                   resume (0: run to the end); the schedule still spans the whole run
     * @param precomputeReference score reference log-probs once before training instead of keeping a frozen copy
     * @param settings   the run's settings as given (objective name, hyperparameters), stored in checkpoints
     * @param lora       train a LoRA adapter of these settings on the frozen model, or null for full fine-tuning;
     *                   checkpoints and the final output are then adapters in PEFT's layout
     */
    public record Spec(Path model, Path out, Objective<?> objective, TrainingConfig config, int batchSize, int epochs,
                       long maxSteps, int saveEvery, long stopAfter, long seed, boolean precomputeReference,
                       ObjectNode settings, LoraConfig lora, Placement placement) {

        /** On the CPU in float32. */
        public Spec(Path model, Path out, Objective<?> objective, TrainingConfig config, int batchSize, int epochs,
                    long maxSteps, int saveEvery, long stopAfter, long seed, boolean precomputeReference,
                    ObjectNode settings, LoraConfig lora) {
            this(model, out, objective, config, batchSize, epochs, maxSteps, saveEvery, stopAfter, seed,
                    precomputeReference, settings, lora, Placement.CPU_F32);
        }

        /** Full fine-tuning. */
        public Spec(Path model, Path out, Objective<?> objective, TrainingConfig config, int batchSize, int epochs,
                    long maxSteps, int saveEvery, long stopAfter, long seed, boolean precomputeReference,
                    ObjectNode settings) {
            this(model, out, objective, config, batchSize, epochs, maxSteps, saveEvery, stopAfter, seed,
                    precomputeReference, settings, null);
        }

        public Spec {
            if (batchSize < 1 || epochs < 1 || maxSteps < 0 || saveEvery < 0 || stopAfter < 0) {
                throw new IllegalArgumentException("batch size and epochs must be at least 1, max steps and save-every"
                        + " at least 0; got " + batchSize + ", " + epochs + ", " + maxSteps + ", " + saveEvery);
            }
            if (lora != null) {
                lora.requireNoDropout();
            }
            if (placement == null) {
                throw new IllegalArgumentException("a training run needs a placement (device and precision)");
            }
            if (model.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
                throw new IllegalArgumentException("--out must differ from --model (" + out + "): the starting"
                        + " checkpoint is also the reference model");
            }
        }

        /** Optimizer steps in the whole run for {@code n} examples. */
        public long totalSteps(int n) {
            return TrainingRun.totalSteps(n, batchSize, epochs, maxSteps);
        }
    }

    private TrainingRun() {
    }

    /**
     * Optimizer steps of a run over {@code n} examples: {@code epochs} passes of ⌈n / batchSize⌉ steps, cut at
     * {@code maxSteps} when that is positive. The learning-rate schedule spans exactly these steps.
     */
    public static long totalSteps(int n, int batchSize, int epochs, long maxSteps) {
        long all = (long) ((n + batchSize - 1) / batchSize) * epochs;
        return maxSteps > 0 ? Math.min(maxSteps, all) : all;
    }

    /**
     * Runs (or resumes, when {@code resume} and a checkpoint exists) and returns the step results of this call.
     *
     * @param progress receives each step's result as it finishes
     */
    public static List<PolicyTrainer.StepResult> run(Spec spec, List<? extends TrainingExample> examples, boolean resume,
                                                     Consumer<PolicyTrainer.StepResult> progress) {
        if (examples.isEmpty()) {
            throw new IllegalArgumentException("no training examples");
        }
        Class<? extends TrainingExample> kind = PolicyTrainer.exampleKind(spec.objective());
        for (TrainingExample e : examples) {
            if (!kind.isInstance(e)) {
                throw new IllegalArgumentException(spec.objective().getClass().getSimpleName() + " trains on "
                        + kind.getSimpleName() + " records; the data holds " + e.getClass().getSimpleName());
            }
        }
        Path checkpoints = spec.out().resolve("checkpoints");
        Optional<Path> from = resume ? TrainerCheckpoint.latest(checkpoints) : Optional.empty();
        if (spec.lora() != null) {
            return runAdapter(spec, examples, from, progress);
        }
        // a resume streams the weights and the moments one tensor at a time, as a new run streams the model
        MomentSource optimizer = from.map(TrainerCheckpoint::openOptimizer).orElse(null);
        TrainerCheckpoint.State resumed = from.map(TrainerCheckpoint::loadState).orElse(null);
        // the policy trains: in half precision it keeps float32 master weights; the frozen reference is stored half
        Decoder start = load(from.orElse(spec.model()), spec.placement(), true);
        try (Decoder policy = start; Decoder reference = load(spec.model(), spec.placement(), false)) {
            PolicyTrainer trainer = new PolicyTrainer(policy, spec.objective(), spec.config());
            return train(spec, examples, trainer, reference, optimizer, resumed, progress, new Saver() {
                        @Override
                        public void checkpoint(Path dir, TrainerCheckpoint.State state) {
                            TrainerCheckpoint.save(dir, policy, trainer.optimizer(), state, spec.model());
                        }

                        @Override
                        public void finish() {
                            TrainerCheckpoint.saveModel(spec.out(), policy, spec.model()); // ready to use
                        }
                    });
        }
    }

    /**
     * A LoRA run: the base weights are loaded once and serve both as the frozen reference and, with the adapter in
     * front ({@link Decoder#withAdapter}), as the policy; only the adapter is trained and saved.
     */
    private static List<PolicyTrainer.StepResult> runAdapter(Spec spec, List<? extends TrainingExample> examples,
                                                              Optional<Path> from,
                                                              Consumer<PolicyTrainer.StepResult> progress) {
        DecoderConfig base = HfConfigJson.read(spec.model().resolve(HfConfigJson.FILE_NAME));
        AdapterCheckpoint.Loaded loaded = from.map(d -> AdapterCheckpoint.load(d, base)).orElse(null);
        LoraConfig lora = spec.lora().withBaseModel(spec.model().toAbsolutePath().normalize().toString());
        if (loaded != null && !loaded.adapter().config().equals(lora)) {
            throw new IllegalArgumentException("the checkpoint's adapter (" + loaded.adapter().config() + ") is not the"
                    + " one this run asks for (" + lora + "): resume with the same LoRA settings");
        }
        try (Decoder reference = load(spec.model(), spec.placement(), false);
             Decoder policy = reference.withAdapter(loaded == null
                     ? LoraAdapter.initialise(base, lora, spec.seed(), reference.manager().newSubManager(),
                             reference.dtype())
                     : LoraAdapter.fromCheckpoint(base, loaded.adapter(), reference.manager().newSubManager(),
                             reference.dtype()))) {
            PolicyTrainer trainer = new PolicyTrainer(policy, spec.objective(), spec.config());
            return train(spec, examples, trainer, reference, loaded == null ? null : loaded.optimizer(),
                    loaded == null ? null : loaded.state(), progress, new Saver() {
                        @Override
                        public void checkpoint(Path dir, TrainerCheckpoint.State state) {
                            AdapterCheckpoint.save(dir, policy.adapter(), trainer.optimizer(), state, spec.model());
                        }

                        @Override
                        public void finish() {
                            AdapterCheckpoint.saveAdapter(spec.out(), policy.adapter(), spec.model());
                        }
                    });
        }
    }

    /**
     * A decoder of a checkpoint directory, streamed tensor by tensor onto the placement's device.
     *
     * @param masterWeights float32 weights under half precision, for the policy that trains them
     */
    private static Decoder load(Path dir, Placement placement, boolean masterWeights) {
        return Decoder.load(dir, placement.newManager(), placement.precision(), masterWeights);
    }

    /** Where a run's checkpoints and its finished output go: a full model, or an adapter. */
    private interface Saver {
        void checkpoint(Path dir, TrainerCheckpoint.State state);

        void finish();
    }

    private static List<PolicyTrainer.StepResult> train(Spec spec, List<? extends TrainingExample> examples,
                                                        PolicyTrainer trainer, Decoder reference, MomentSource optimizer,
                                                        TrainerCheckpoint.State resumed,
                                                        Consumer<PolicyTrainer.StepResult> progress, Saver saver) {
        Path checkpoints = spec.out().resolve("checkpoints");
        long total = spec.totalSteps(examples.size());
        List<PolicyTrainer.StepResult> results = new ArrayList<>();
        try {
            if (spec.precomputeReference()) {
                trainer.precomputeReference(reference, examples);
            } else {
                trainer.frozenReference(reference);
            }
            int epoch = 0;
            int position = 0;
            if (resumed != null) {
                trainer.optimizer().importState(optimizer);
                epoch = resumed.epoch();
                position = resumed.position();
                truncateMetrics(spec.out().resolve(METRICS_FILE), resumed.step());
            } else {
                if (TrainerCheckpoint.latest(checkpoints).isPresent()) {
                    throw new IllegalArgumentException(checkpoints + " already holds checkpoints of an earlier run:"
                            + " resume it, or choose another output directory");
                }
                Files.createDirectories(spec.out());
                Files.deleteIfExists(spec.out().resolve(METRICS_FILE));
            }
            long stopAt = spec.stopAfter() > 0 ? Math.min(total, trainer.stepCount() + spec.stopAfter()) : total;
            while (trainer.stepCount() < stopAt && epoch < spec.epochs()) {
                List<? extends TrainingExample> order = shuffled(examples, spec.seed(), epoch);
                while (position < order.size() && trainer.stepCount() < stopAt) {
                    List<? extends TrainingExample> batch = order.subList(position,
                            Math.min(order.size(), position + spec.batchSize()));
                    PolicyTrainer.StepResult r = trainer.step(batch);
                    position += batch.size();
                    results.add(r);
                    appendMetrics(spec.out().resolve(METRICS_FILE), epoch, r);
                    int nextEpoch = position >= order.size() ? epoch + 1 : epoch;
                    int nextPosition = position >= order.size() ? 0 : position;
                    boolean last = trainer.stepCount() >= stopAt || nextEpoch >= spec.epochs();
                    if (last || spec.saveEvery() > 0 && trainer.stepCount() % spec.saveEvery() == 0) {
                        saver.checkpoint(checkpoints.resolve(TrainerCheckpoint.name(trainer.stepCount())),
                                new TrainerCheckpoint.State(trainer.stepCount(), nextEpoch, nextPosition, spec.settings()));
                    }
                    progress.accept(r);
                }
                if (position >= order.size()) {
                    epoch++;
                    position = 0;
                }
            }
            if (trainer.stepCount() >= total || epoch >= spec.epochs()) {
                saver.finish();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return results;
    }

    /** The examples in epoch {@code epoch}'s order: a shuffle seeded by (seed, epoch), the same on every resume. */
    static <T> List<T> shuffled(List<T> examples, long seed, int epoch) {
        List<T> order = new ArrayList<>(examples);
        Collections.shuffle(order, new Random(seed * 1_000_003L + epoch));
        return order;
    }

    private static void appendMetrics(Path file, int epoch, PolicyTrainer.StepResult r) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        o.put("step", r.step());
        o.put("epoch", epoch);
        o.put("loss", r.loss());
        for (Map.Entry<String, Double> d : r.diagnostics().entrySet()) {
            o.put(d.getKey(), d.getValue());
        }
        o.put("lr", r.lr());
        o.put("grad_norm", r.gradNorm());
        o.put("tokens", r.tokens());
        o.put("seconds", r.seconds());
        Files.writeString(file, o + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** Drops metrics lines of steps after {@code step}: a resumed run redoes them. */
    private static void truncateMetrics(Path file, long step) throws IOException {
        if (!Files.exists(file)) {
            return;
        }
        List<String> kept = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.isBlank() && JSON.readTree(line).path("step").asLong() <= step) {
                kept.add(line);
            }
        }
        Files.write(file, kept, StandardCharsets.UTF_8);
    }
}
