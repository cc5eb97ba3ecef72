package steer.world;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongFunction;
import steer.checkpoint.HfConfigJson;
import steer.data.RecordKind;
import steer.data.TrainingDataReader;
import steer.data.TrainingDataWriter;
import steer.data.TrainingExample;
import steer.objective.Sft;
import steer.tokenizer.Tokenizer;
import steer.train.PolicyTrainer;
import steer.train.TrainerCheckpoint;
import steer.train.TrainingConfig;
import steer.train.TrainingRun;

/**
 * What the two seed-set fine-tunings share ({@link JudgeAugmentation}, OSP's pairwise judge, and
 * {@link EvaluatorTraining}, TSO's rubric evaluator): the checks of their settings and supervised fine-tuning
 * ({@link Sft}, prompt-masked NLL on the one answer token and the EOS after it) of a model on judge instructions
 * with the project's training engine ({@link TrainingRun}).
 */
final class SeedSetTraining {

    private SeedSetTraining() {
    }

    /**
     * One instruction to train on.
     *
     * @param prompt the judge prompt
     * @param answer its one-token answer
     * @param extra  fields written beside prompt and response in the instructions file (pair index, order, ...)
     */
    record Record(String prompt, String answer, Map<String, Object> extra) {
    }

    /**
     * What the fine-tuning did.
     *
     * @param instructions examples trained on
     * @param steps        optimizer steps
     * @param seconds      wall time of the training
     * @param finalLoss    loss of the last step
     */
    record Outcome(int instructions, long steps, double seconds, double finalLoss) {
    }

    /**
     * Checks the settings both runs take, naming the command-line option of the first value out of range.
     *
     * @throws IllegalArgumentException if a value is out of range
     */
    static void check(double seedFraction, int epochs, int batchSize, double lr) {
        if (!(seedFraction > 0 && seedFraction <= 1)) {
            throw new IllegalArgumentException("--seed-fraction must be in (0, 1], got " + seedFraction);
        }
        if (epochs < 1) {
            throw new IllegalArgumentException("--epochs must be at least 1, got " + epochs);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("--batch-size must be at least 1, got " + batchSize);
        }
        if (!(lr > 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("--lr must be a finite number > 0, got " + lr);
        }
    }

    /** Refuses an output directory that is the model's own. */
    static void checkOut(Path model, Path out) {
        if (model.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException("--out must differ from --model (" + out + ")");
        }
    }

    /**
     * Writes the instructions to {@code out/instructionsFile}, fine-tunes {@code model} on them into {@code out}
     * (Hugging Face layout plus {@link TrainingRun#METRICS_FILE}) and removes the run's resumable checkpoints.
     *
     * @param model            the starting model
     * @param out              the output directory, existing
     * @param instructionsFile the instructions file's name in {@code out}
     * @param records          the instructions
     * @param runSettings      the settings the training run records
     * @param seed             seeds the training order
     * @param epochs           passes over the instructions
     * @param batchSize        instructions per optimizer step
     * @param lr               peak learning rate (10% warm-up, cosine to 0)
     * @param starting         given the total steps, the line sent to {@code stages} before training
     * @param stages           receives that line
     * @param progress         receives each optimizer step's result
     * @return what the training did
     */
    static Outcome fineTune(Path model, Path out, String instructionsFile, List<Record> records, ObjectNode runSettings,
                            long seed, int epochs, int batchSize, double lr, LongFunction<String> starting,
                            Consumer<String> stages, Consumer<PolicyTrainer.StepResult> progress) {
        try {
            List<Map<String, ?>> rows = new ArrayList<>(records.size());
            for (Record r : records) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("prompt", r.prompt());
                row.put("response", r.answer());
                for (Map.Entry<String, Object> e : r.extra().entrySet()) {
                    if (row.putIfAbsent(e.getKey(), e.getValue()) != null) {
                        throw new IllegalArgumentException("extra field '" + e.getKey() + "' would replace the instruction's own");
                    }
                }
                rows.add(row);
            }
            Path data = out.resolve(instructionsFile);
            TrainingDataWriter.write(data, RecordKind.SFT, rows);
            List<TrainingExample> examples;
            try (Tokenizer tokenizer = Tokenizer.load(model)) {
                examples = TrainingDataReader.forModel(tokenizer, HfConfigJson.read(model.resolve(HfConfigJson.FILE_NAME)))
                        .read(data, RecordKind.SFT);
            }
            long total = TrainingRun.totalSteps(examples.size(), batchSize, epochs, 0);
            TrainingRun.Spec spec = new TrainingRun.Spec(model, out, new Sft(), TrainingConfig.defaults(lr, total),
                    batchSize, epochs, 0, 0, 0, seed, false, runSettings);
            stages.accept(starting.apply(total));
            long start = System.nanoTime();
            List<PolicyTrainer.StepResult> steps = TrainingRun.run(spec, examples, false, progress);
            double seconds = (System.nanoTime() - start) / 1e9;
            TrainerCheckpoint.deleteRecursively(out.resolve("checkpoints"));
            return new Outcome(examples.size(), steps.size(), seconds, steps.get(steps.size() - 1).loss());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
