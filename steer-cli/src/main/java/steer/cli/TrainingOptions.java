package steer.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Option;
import steer.checkpoint.HfConfigJson;
import steer.checkpoint.LoraConfig;
import steer.data.RecordKind;
import steer.data.TrainingDataReader;
import steer.data.TrainingExample;
import steer.objective.Objective;
import steer.tokenizer.Tokenizer;
import steer.train.AdamWConfig;
import steer.train.LearningRateSchedule;
import steer.train.PolicyTrainer;
import steer.train.TrainingConfig;
import steer.train.TrainingRun;

/** The options every training command shares, and the run they describe. */
final class TrainingOptions {

    @Option(names = "--model", required = true, description = "starting model directory (Hugging Face layout); also the reference")
    Path model;

    @picocli.CommandLine.Mixin
    PlacementOptions placement = new PlacementOptions();

    @Option(names = "--data", required = true, description = "training records, JSONL")
    Path data;

    @Option(names = "--out", required = true, description = "output directory: final model, metrics.jsonl, checkpoints/")
    Path out;

    // TRL's defaults (TrainingArguments: per_device_train_batch_size 8, num_train_epochs 3): a file of a hundred
    // records then trains for 39 optimizer steps, not the 3 that one epoch of batch 32 gave
    @Option(names = "--epochs", defaultValue = "3", description = "passes over the data (default: ${DEFAULT-VALUE}, TRL's)")
    int epochs;

    @Option(names = "--batch-size", defaultValue = "8", description = "examples per optimizer step (default: ${DEFAULT-VALUE}, TRL's)")
    int batchSize;

    @Option(names = "--micro-batch-size", defaultValue = "0",
            description = "examples per forward/backward pass; gradients accumulate up to the batch (default: the batch size)")
    int microBatchSize;

    /** Fewer optimizer steps than this and a run barely moves the model: warn before it starts. */
    static final long FEW_STEPS = 10;

    @Option(names = "--lr", description = "peak learning rate (default: 1e-3 for sft, 1e-4 for preference objectives)")
    Double lr;

    @Option(names = "--warmup-ratio", defaultValue = "0.1", description = "share of steps spent warming up (default: ${DEFAULT-VALUE})")
    double warmupRatio;

    @Option(names = "--min-lr-ratio", defaultValue = "0.0", description = "cosine floor as a share of the peak (default: ${DEFAULT-VALUE})")
    double minLrRatio;

    @Option(names = "--weight-decay", defaultValue = "0.01", description = "AdamW decoupled weight decay (default: ${DEFAULT-VALUE})")
    double weightDecay;

    @Option(names = "--max-grad-norm", defaultValue = "1.0", description = "global gradient-norm clip (default: ${DEFAULT-VALUE})")
    double maxGradNorm;

    @Option(names = "--seed", defaultValue = "0", description = "data-order seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--max-steps", defaultValue = "0", description = "stop the run after this many steps (0: all epochs)")
    long maxSteps;

    @Option(names = "--save-every", defaultValue = "0", description = "checkpoint every N steps (0: at the end only)")
    int saveEvery;

    @Option(names = "--stop-after", defaultValue = "0",
            description = "end this invocation after N steps, checkpointed; continue with --resume (0: run to the end)")
    long stopAfter;

    @Option(names = "--resume", description = "continue from the newest checkpoint in OUT/checkpoints")
    boolean resume;

    @Option(names = "--reference", defaultValue = "frozen",
            description = "reference log-probs: frozen (a frozen copy scores every batch) or precomputed (scored once before training)")
    String reference;

    @Option(names = "--lora-rank", defaultValue = "0",
            description = "train a LoRA adapter of this rank r on the frozen model instead of every weight; the output"
                    + " and checkpoints are PEFT adapters (adapter_config.json, adapter_model.safetensors) (default: 0, full fine-tuning)")
    int loraRank;

    @Option(names = "--lora-alpha", defaultValue = "8",
            description = "LoRA alpha: the adapter's update is scaled by alpha / r (default: ${DEFAULT-VALUE}, PEFT's)")
    double loraAlpha;

    @Option(names = "--lora-targets", defaultValue = "q,v",
            description = "projections that get an adapter, comma-separated from q, k, v, o, gate, up, down"
                    + " (default: ${DEFAULT-VALUE}, PEFT's for Llama and Qwen2)")
    String loraTargets;

    /** The LoRA settings the options ask for, or null for full fine-tuning. */
    LoraConfig lora() {
        if (loraRank < 0) {
            throw new IllegalArgumentException("--lora-rank must be at least 1 (or 0 for full fine-tuning), got " + loraRank);
        }
        return loraRank == 0 ? null : new LoraConfig(loraRank, loraAlpha, LoraConfig.parseTargets(loraTargets), 0, null);
    }

    /** Reads and validates the whole data file before anything trains. */
    List<TrainingExample> readExamples(RecordKind kind) {
        try (Tokenizer tokenizer = Tokenizer.load(model)) {
            return TrainingDataReader.forModel(tokenizer, HfConfigJson.read(model.resolve(HfConfigJson.FILE_NAME)))
                    .read(data, kind);
        }
    }

    /** Trains {@code objective} on the data and prints one progress line per step. */
    void run(String objectiveName, Objective<?> objective, RecordKind kind, double defaultLr, ObjectNode hyperparameters) {
        if (!reference.equals("frozen") && !reference.equals("precomputed")) {
            throw new IllegalArgumentException("--reference must be frozen or precomputed, got '" + reference + "'");
        }
        LoraConfig lora = lora();
        List<TrainingExample> examples = readExamples(kind);
        double peak = lr == null ? defaultLr : lr;
        if (batchSize < 1 || epochs < 1 || microBatchSize < 0) {
            throw new IllegalArgumentException("--batch-size and --epochs must be at least 1 and --micro-batch-size at"
                    + " least 0 (0: the batch size); got " + batchSize + ", " + epochs + " and " + microBatchSize);
        }
        long total = TrainingRun.totalSteps(examples.size(), batchSize, epochs, maxSteps);
        String few = fewStepsWarning(examples.size(), batchSize, epochs, maxSteps, total);
        if (few != null) {
            System.err.println(few);
        }
        TrainingConfig config = new TrainingConfig(
                new AdamWConfig(peak, 0.9, 0.999, 1e-8, weightDecay),
                new LearningRateSchedule(Math.round(warmupRatio * total), total, minLrRatio), maxGradNorm,
                microBatchSize == 0 ? batchSize : microBatchSize);
        ObjectNode settings = new ObjectMapper().createObjectNode();
        settings.put("objective", objectiveName);
        settings.set("hyperparameters", hyperparameters);
        settings.put("model", model.toAbsolutePath().toString());
        settings.put("data", data.toAbsolutePath().toString());
        settings.put("lr", peak);
        settings.put("batch_size", batchSize);
        settings.put("epochs", epochs);
        settings.put("seed", seed);
        if (lora != null) {
            ObjectNode l = settings.putObject("lora");
            l.put("r", lora.rank());
            l.put("alpha", lora.alpha());
            lora.orderedTargets().forEach(t -> l.withArray("targets").add(t.module()));
        }
        TrainingRun.Spec spec = new TrainingRun.Spec(model, out, objective, config, batchSize, epochs, maxSteps, saveEvery,
                stopAfter, seed, reference.equals("precomputed"), settings, lora, placement.placement());
        System.out.printf("%s: %d examples from %s, %d steps of %d, peak lr %.2g%s -> %s%n", objectiveName,
                examples.size(), data, total, batchSize, peak, lora == null ? "" : String.format(Locale.ROOT,
                        ", LoRA r %d alpha %s on %s", lora.rank(), lora.alpha(), loraTargets), out);
        TrainingRun.run(spec, examples, resume, r -> System.out.println(progressLine(r, total)));
        System.out.println("wrote " + out + (lora == null ? " (model, " : " (LoRA adapter in PEFT's layout, ")
                + TrainingRun.METRICS_FILE + ", checkpoints/); " + ProcessMemory.peakLine());
    }

    /** A warning when the run takes so few optimizer steps that the model will barely move, else null. */
    static String fewStepsWarning(int examples, int batchSize, int epochs, long maxSteps, long total) {
        if (total >= FEW_STEPS) {
            return null;
        }
        return String.format(Locale.ROOT, "warning: this run takes only %d optimizer step%s (%d examples, batch %d, %d"
                + " epoch%s%s), too few to move the model much; lower --batch-size or raise --epochs", total,
                total == 1 ? "" : "s", examples, batchSize, epochs, epochs == 1 ? "" : "s",
                maxSteps > 0 && maxSteps == total ? ", --max-steps " + maxSteps : "");
    }

    static String progressLine(PolicyTrainer.StepResult r, long total) {
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "step %d/%d  loss %.4f", r.step(), total, r.loss()));
        Double margin = r.diagnostics().get("reward_margin");
        Double accuracy = r.diagnostics().get("reward_accuracy");
        if (margin != null) {
            line.append(String.format(Locale.ROOT, "  margin %.3f", margin));
        }
        if (accuracy != null) {
            line.append(String.format(Locale.ROOT, "  acc %.2f", accuracy));
        }
        Double w = r.diagnostics().get("sso_weight");
        if (w != null) {
            line.append(String.format(Locale.ROOT, "  W %.3f", w));
        }
        line.append(String.format(Locale.ROOT, "  lr %.2e  %,.0f tok/s", r.lr(), r.tokens() / r.seconds()));
        return line.toString();
    }
}
