package steer.world;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.commons.math3.stat.correlation.SpearmansCorrelation;
import steer.checkpoint.HfConfigJson;
import steer.judge.JudgeTemplates;
import steer.judge.RubricJudge;
import steer.model.LanguageModel;
import steer.model.SamplingParams;
import steer.model.TextCompletion;
import steer.train.PolicyTrainer;
import steer.train.TrainingRun;

/**
 * TSO's <b>evaluator</b> (TSO §3.2): the base model fine-tuned as a rubric scorer, rating a response 2..10, whose
 * expected score Σ s·p(s) over the score tokens ({@link RubricJudge}) filters and orders TSO's preference pairs.
 *
 * <p>TSO trains it on human and AI feedback; in the oracle world that is the labelled seed set of
 * {@link JudgeAugmentation#seedSet} (15% of labels flipped, standing in for noisy annotation). A run draws a
 * fraction of it with {@link JudgeAugmentation#draw} and turns every drawn pair into two rubric instructions,
 * {@link JudgeInstructions#rubric}(query, response) answered with the annotated score of that response
 * ({@link JudgeSeedExample#rubricLabelA()}, {@link JudgeSeedExample#rubricLabelB()}: a flipped pair has its two
 * scores exchanged). The model sees the oracle only through those labels, noise included. Training is the
 * supervised fine-tuning {@link JudgeAugmentation} does ({@link SeedSetTraining}).
 *
 * <p>Quality, measured before and after with the same responses:
 * <ul>
 *   <li><b>validation</b>: up to {@value #VALIDATION_PAIRS} seed pairs the draw did not take, against their
 *       annotated (noisy) labels: what a practitioner without the oracle could measure, and what the default
 *       seed fraction was chosen on;</li>
 *   <li><b>held-out mix</b>: {@value #EVALUATION_PAIRS} pairs of {@link ResponseMix} responses with different
 *       oracle scalars on the world's held-out queries, against the oracle;</li>
 *   <li><b>held-out samples</b>: two samples of the starting model per held-out query (temperature 0.7, top-p
 *       0.8, as {@link WorldEvaluation}), against the oracle; pairs are the two samples of a query when their
 *       oracle scalars differ. These are the kind of responses TSO's evaluator actually rates.</li>
 * </ul>
 * Each gives {@link #spearman Spearman's ρ} of the expected score with the rubric score (the oracle's
 * {@link OracleScore#rubricScore()}, or the annotated one for validation) over every response, and the
 * {@link #pairwiseAccuracy pairwise accuracy} of the expected score on the pairs.
 */
public final class EvaluatorTraining {

    /**
     * Default share of the seed set: 20%, 4,000 pairs. An evaluator rates every pair of a TSO stage, so it gets
     * a larger share than OSP's 1% augmentation; of 0.05, 0.1 and 0.2 (seed 0, the other defaults), 0.2 did best
     * on the validation pairs (README), the only figures the choice looked at.
     */
    public static final double DEFAULT_SEED_FRACTION = 0.2;

    /** Default passes over the instructions. */
    public static final int DEFAULT_EPOCHS = 2;
    /** Default instructions per optimizer step. */
    public static final int DEFAULT_BATCH_SIZE = 16;
    /** Default peak learning rate. */
    public static final double DEFAULT_LR = 1e-4;

    /** Undrawn seed pairs the validation figures are measured on, at most. */
    public static final int VALIDATION_PAIRS = 500;
    /** Held-out {@link ResponseMix} pairs the evaluation figures are measured on. */
    public static final int EVALUATION_PAIRS = 500;

    /** The file in the output directory that holds the rubric instructions trained on. */
    public static final String INSTRUCTIONS_FILE = "evaluator-instructions.jsonl";
    /** The file in the output directory that holds the run's report. */
    public static final String REPORT_FILE = "evaluator.json";

    /** Separates the held-out evaluation pairs' random stream from {@link WorldEvaluation}'s judge pairs. */
    private static final long EVALUATION_SALT = 0xE7A1_0A7EL;

    /** Prompts rated per forward pass. */
    private static final int RATE_BATCH = 64;

    private EvaluatorTraining() {
    }

    /**
     * How to train the evaluator.
     *
     * @param seedFraction share of the seed set to train on, in (0, 1], selecting at least one pair
     * @param seed         seeds the draw of the pairs, the training order and the evaluation responses
     * @param worldSeed    seed of the world's splits and seed set
     * @param epochs       passes over the instructions, at least 1
     * @param batchSize    instructions per optimizer step, at least 1
     * @param lr           peak learning rate (10% warm-up, cosine to 0), &gt; 0
     */
    public record Settings(double seedFraction, long seed, long worldSeed, int epochs, int batchSize, double lr) {

        /**
         * Checks the values.
         *
         * @throws IllegalArgumentException naming the first value out of range
         */
        public Settings {
            SeedSetTraining.check(seedFraction, epochs, batchSize, lr);
        }

        /**
         * The defaults for the world's medium model: 20% of the seed set, 2 epochs of batches of 16, peak lr 1e-4.
         *
         * @param seed the run's seed
         * @return the settings
         */
        public static Settings defaults(long seed) {
            return new Settings(DEFAULT_SEED_FRACTION, seed, 0, DEFAULT_EPOCHS, DEFAULT_BATCH_SIZE, DEFAULT_LR);
        }
    }

    /**
     * One rubric instruction.
     *
     * @param prompt    {@link JudgeInstructions#rubric} of the query and one response of the pair
     * @param answer    the annotated score of that response, {@code "2"}..{@code "10"}
     * @param pair      index of the pair in the drawn list
     * @param responseB whether the response is the pair's B
     */
    public record Instruction(String prompt, String answer, int pair, boolean responseB) {
    }

    /**
     * Responses to rate and what they should score.
     *
     * @param name   {@code validation}, {@code held_out_mix} or {@code held_out_samples}
     * @param items  (query, response) to rate
     * @param rubric each item's reference rubric score (the oracle's, or the annotated one)
     * @param order  each item's reference for ordering a pair: higher is better
     * @param pairs  pairs of item indices whose {@code order} differs
     */
    public record EvaluationSet(String name, List<RubricJudge.Item> items, double[] rubric, double[] order,
                                List<int[]> pairs) {
    }

    /**
     * A model's rubric quality on one set.
     *
     * @param spearman         Spearman's ρ of expected score with the reference rubric score, over every response
     * @param pairwiseAccuracy share of pairs the expected score orders as the reference does (ties half)
     * @param meanScore        mean expected score
     * @param responses        responses rated
     * @param pairs            pairs
     */
    public record Figures(double spearman, double pairwiseAccuracy, double meanScore, int responses, int pairs) {
    }

    /**
     * The figures of a model on the three sets.
     *
     * @param validation     on undrawn seed pairs against their annotated labels; null if the draw took them all
     * @param heldOutMix     on held-out {@link ResponseMix} pairs against the oracle
     * @param heldOutSamples on the starting model's held-out samples against the oracle
     */
    public record Quality(Figures validation, Figures heldOutMix, Figures heldOutSamples) {
    }

    /**
     * What a run did.
     *
     * @param seedSetSize  pairs in the seed set
     * @param seedPairs    pairs drawn from it
     * @param flipped      drawn pairs with flipped labels
     * @param instructions rubric instructions trained on (twice the pairs)
     * @param steps        optimizer steps
     * @param trainSeconds wall time of the training
     * @param finalLoss    loss of the last step
     * @param before       the starting model's figures
     * @param after        the evaluator's figures
     */
    public record Result(int seedSetSize, int seedPairs, long flipped, int instructions, long steps,
                         double trainSeconds, double finalLoss, Quality before, Quality after) {
    }

    /**
     * The rubric instructions of some pairs: response A answered with its annotated score, then response B.
     *
     * @param pairs the drawn pairs
     * @return 2 · pairs.size() instructions, pair by pair
     */
    public static List<Instruction> instructions(List<JudgeSeedExample> pairs) {
        List<Instruction> out = new ArrayList<>(2 * pairs.size());
        for (int i = 0; i < pairs.size(); i++) {
            JudgeSeedExample p = pairs.get(i);
            String query = p.task().query();
            out.add(new Instruction(JudgeInstructions.rubric(query, p.responseA()), Integer.toString(p.rubricLabelA()), i, false));
            out.add(new Instruction(JudgeInstructions.rubric(query, p.responseB()), Integer.toString(p.rubricLabelB()), i, true));
        }
        return out;
    }

    /**
     * Spearman's rank correlation (ties get their mean rank).
     *
     * @param x values
     * @param y values, as many
     * @return ρ in [-1, 1]; NaN if either side is constant
     * @throws IllegalArgumentException if the lengths differ or there are fewer than 2 values
     */
    public static double spearman(double[] x, double[] y) {
        if (x.length != y.length || x.length < 2) {
            throw new IllegalArgumentException("need two equally long arrays of at least 2 values, got " + x.length
                    + " and " + y.length);
        }
        return new SpearmansCorrelation().correlation(x, y);
    }

    /**
     * The share of pairs that {@code predicted} orders as {@code reference} does; a predicted tie counts half.
     *
     * @param predicted the scores to check
     * @param reference the reference scores
     * @param pairs     index pairs with different reference scores
     * @return the accuracy in [0, 1]; NaN without pairs
     * @throws IllegalArgumentException if a pair's reference scores are equal
     */
    public static double pairwiseAccuracy(double[] predicted, double[] reference, List<int[]> pairs) {
        double right = 0;
        for (int[] p : pairs) {
            double want = Math.signum(reference[p[0]] - reference[p[1]]);
            if (want == 0) {
                throw new IllegalArgumentException("pair (" + p[0] + ", " + p[1] + ") has equal reference scores "
                        + reference[p[0]]);
            }
            double got = Math.signum(predicted[p[0]] - predicted[p[1]]);
            right += got == want ? 1 : got == 0 ? 0.5 : 0;
        }
        return pairs.isEmpty() ? Double.NaN : right / pairs.size();
    }

    /**
     * Undrawn seed pairs against their annotated labels: the rubric reference is the annotated score, the order
     * reference the annotated pairwise label.
     *
     * @param pairs seed pairs not trained on
     * @return the set, two items per pair
     */
    public static EvaluationSet validationSet(List<JudgeSeedExample> pairs) {
        List<RubricJudge.Item> items = new ArrayList<>(2 * pairs.size());
        double[] rubric = new double[2 * pairs.size()];
        double[] order = new double[2 * pairs.size()];
        List<int[]> index = new ArrayList<>(pairs.size());
        for (int i = 0; i < pairs.size(); i++) {
            JudgeSeedExample p = pairs.get(i);
            items.add(new RubricJudge.Item(p.task().query(), p.responseA()));
            items.add(new RubricJudge.Item(p.task().query(), p.responseB()));
            rubric[2 * i] = p.rubricLabelA();
            rubric[2 * i + 1] = p.rubricLabelB();
            boolean aBetter = p.label().equals(JudgeInstructions.ANSWER_A);
            order[2 * i] = aBetter ? 1 : 0;
            order[2 * i + 1] = aBetter ? 0 : 1;
            index.add(new int[] {2 * i, 2 * i + 1});
        }
        return new EvaluationSet("validation", items, rubric, order, index);
    }

    /**
     * {@value #EVALUATION_PAIRS} held-out pairs of {@link ResponseMix} responses with different oracle scalars and
     * no flipped label, against the oracle.
     *
     * @param heldOut the held-out tasks
     * @param seed    the evaluation seed
     * @return the set, two items per pair
     */
    public static EvaluationSet heldOutMixSet(List<Task> heldOut, long seed) {
        List<JudgeSeedExample> pairs = JudgeSeedSet.generate(heldOut, EVALUATION_PAIRS, 0, ResponseMix.defaults(),
                seed ^ EVALUATION_SALT);
        List<Task> tasks = new ArrayList<>();
        List<String> responses = new ArrayList<>();
        for (JudgeSeedExample p : pairs) {
            tasks.add(p.task());
            responses.add(p.responseA());
            tasks.add(p.task());
            responses.add(p.responseB());
        }
        return oracleSet("held_out_mix", tasks, responses);
    }

    /**
     * Two samples of {@code model} per held-out query, against the oracle; a query's two samples are a pair when
     * their scalars differ.
     *
     * @param model   the starting model
     * @param heldOut the held-out tasks
     * @param seed    the evaluation seed
     * @return the set
     */
    public static EvaluationSet heldOutSampleSet(LanguageModel model, List<Task> heldOut, long seed) {
        List<String> queries = heldOut.stream().map(Task::query).toList();
        List<TextCompletion> first = model.complete(queries, new SamplingParams(32, 0.7, 0.8, 0, seed), List.of());
        List<TextCompletion> second = model.complete(queries, new SamplingParams(32, 0.7, 0.8, 0, seed + 1), List.of());
        List<Task> tasks = new ArrayList<>();
        List<String> responses = new ArrayList<>();
        for (int i = 0; i < heldOut.size(); i++) {
            tasks.add(heldOut.get(i));
            responses.add(first.get(i).text().strip());
            tasks.add(heldOut.get(i));
            responses.add(second.get(i).text().strip());
        }
        return oracleSet("held_out_samples", tasks, responses);
    }

    /** Items 2i and 2i+1 are a pair when their oracle scalars differ. */
    private static EvaluationSet oracleSet(String name, List<Task> tasks, List<String> responses) {
        List<RubricJudge.Item> items = new ArrayList<>(tasks.size());
        double[] rubric = new double[tasks.size()];
        double[] order = new double[tasks.size()];
        List<int[]> pairs = new ArrayList<>();
        for (int i = 0; i < tasks.size(); i++) {
            OracleScore s = Oracle.score(tasks.get(i), responses.get(i));
            items.add(new RubricJudge.Item(tasks.get(i).query(), responses.get(i)));
            rubric[i] = s.rubricScore();
            order[i] = s.scalar();
            if (i % 2 == 1 && order[i] != order[i - 1]) {
                pairs.add(new int[] {i - 1, i});
            }
        }
        return new EvaluationSet(name, items, rubric, order, pairs);
    }

    /**
     * The expected scores of a model as the world's rubric evaluator ({@link JudgeTemplates#RUBRIC}).
     *
     * @param model the evaluator
     * @param items what to rate
     * @return Σ s·p(s) per item
     */
    public static double[] expectedScores(LanguageModel model, List<RubricJudge.Item> items) {
        RubricJudge judge = new RubricJudge(JudgeTemplates.world().rubric("template", JudgeTemplates.RUBRIC));
        double[] out = new double[items.size()];
        for (int from = 0; from < items.size(); from += RATE_BATCH) {
            List<RubricJudge.Rating> ratings = judge.rate(model, items.subList(from, Math.min(items.size(), from + RATE_BATCH)));
            for (int i = 0; i < ratings.size(); i++) {
                out[from + i] = ratings.get(i).expectedScore();
            }
        }
        return out;
    }

    /**
     * A model's figures on one set.
     *
     * @param model the evaluator
     * @param set   the set
     * @return the figures
     */
    public static Figures figures(LanguageModel model, EvaluationSet set) {
        double[] predicted = expectedScores(model, set.items());
        double mean = 0;
        for (double p : predicted) {
            mean += p / predicted.length;
        }
        return new Figures(spearman(predicted, set.rubric()), pairwiseAccuracy(predicted, set.order(), set.pairs()),
                mean, predicted.length, set.pairs().size());
    }

    /**
     * Checks that a directory holds a checkpoint in the Hugging Face layout, before anything is trained.
     *
     * @param model the directory
     * @throws IllegalArgumentException naming the directory and what is missing or unreadable
     */
    public static void checkModel(Path model) {
        if (!Files.isDirectory(model)) {
            throw new IllegalArgumentException("--model " + model + ": no such directory");
        }
        List<String> missing = Stream.of(HfConfigJson.FILE_NAME, "model.safetensors", "tokenizer.json")
                .filter(f -> !Files.isRegularFile(model.resolve(f))).toList();
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("--model " + model + ": not a checkpoint, missing " + String.join(", ", missing));
        }
        load(model).close();
    }

    /** Loads a checkpoint, reporting a malformed one as bad input that names the directory. */
    private static LanguageModel load(Path model) {
        try {
            return LanguageModel.load(model);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("--model " + model + ": cannot load the checkpoint: " + e.getMessage(), e);
        }
    }

    /** Refuses an output directory that exists and holds anything, so a run never mixes with an older one. */
    static void checkOutEmpty(Path out) {
        if (Files.exists(out)) {
            if (!Files.isDirectory(out)) {
                throw new IllegalArgumentException("--out " + out + " is a file, not a directory");
            }
            try (Stream<Path> entries = Files.list(out)) {
                if (entries.findAny().isPresent()) {
                    throw new IllegalArgumentException("--out " + out + " is not empty; give a new or empty directory");
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /**
     * Trains the evaluator: measures the starting model, fine-tunes it on rubric instructions, writes it and
     * measures it again.
     *
     * <p>{@code out} receives the evaluator in the Hugging Face layout with its tokenizer ({@code config.json},
     * {@code model.safetensors}, {@code tokenizer.json}), the instructions trained on ({@value #INSTRUCTIONS_FILE}),
     * the training metrics ({@link TrainingRun#METRICS_FILE}) and the report ({@value #REPORT_FILE}).
     *
     * @param model    the starting model (the base, normally the SFT model)
     * @param out      the output directory: new or empty, not {@code model}
     * @param settings how to train
     * @param stages   receives a line as each stage starts or ends
     * @param progress receives each optimizer step's result
     * @return what the run did
     * @throws IllegalArgumentException if the model is missing or malformed, {@code out} is not empty or is
     *                                  {@code model}, or the settings select no pair
     */
    public static Result run(Path model, Path out, Settings settings, Consumer<String> stages,
                             Consumer<PolicyTrainer.StepResult> progress) {
        SeedSetTraining.checkOut(model, out);
        checkModel(model);
        checkOutEmpty(out);
        WorldSplits splits = WorldSplits.of(settings.worldSeed());
        List<JudgeSeedExample> seedSet = JudgeAugmentation.seedSet(splits, settings.worldSeed());
        List<JudgeSeedExample> pairs = JudgeAugmentation.draw(seedSet, settings.seedFraction(), settings.seed());
        // the whole shuffle begins with the drawn pairs (the draw is its prefix); validation takes its tail
        List<JudgeSeedExample> shuffle = JudgeAugmentation.draw(seedSet, 1.0, settings.seed());
        List<JudgeSeedExample> undrawn = shuffle.subList(Math.max(pairs.size(), shuffle.size() - VALIDATION_PAIRS),
                shuffle.size());
        EvaluationSet validation = undrawn.isEmpty() ? null : validationSet(undrawn);
        EvaluationSet mix = heldOutMixSet(splits.heldOut(), settings.seed());
        List<Instruction> instructions = instructions(pairs);

        EvaluationSet samples;
        Quality before;
        try (LanguageModel m = load(model)) {
            samples = heldOutSampleSet(m, splits.heldOut(), settings.seed());
            before = quality(m, validation, mix, samples);
        }
        stages.accept("before: " + line(before));

        try {
            Files.createDirectories(out);
            List<SeedSetTraining.Record> records = new ArrayList<>(instructions.size());
            for (Instruction in : instructions) {
                Map<String, Object> extra = new LinkedHashMap<>();
                extra.put("pair", in.pair());
                extra.put("side", in.responseB() ? "B" : "A");
                records.add(new SeedSetTraining.Record(in.prompt(), in.answer(), extra));
            }
            ObjectNode runSettings = new ObjectMapper().createObjectNode();
            runSettings.put("objective", "sft");
            runSettings.put("purpose", "TSO rubric evaluator");
            runSettings.put("model", model.toAbsolutePath().toString());
            runSettings.put("seed_fraction", settings.seedFraction());
            runSettings.put("seed", settings.seed());
            runSettings.put("world_seed", settings.worldSeed());
            runSettings.put("lr", settings.lr());
            runSettings.put("batch_size", settings.batchSize());
            runSettings.put("epochs", settings.epochs());
            long flipped = pairs.stream().filter(JudgeSeedExample::flipped).count();
            SeedSetTraining.Outcome trained = SeedSetTraining.fineTune(model, out, INSTRUCTIONS_FILE, records,
                    runSettings, settings.seed(), settings.epochs(), settings.batchSize(), settings.lr(),
                    total -> String.format(Locale.ROOT, "training: %d seed pairs of %d (%d flipped labels), %d rubric"
                                    + " instructions, %d steps of %d, %d epochs, peak lr %.2g", pairs.size(),
                            seedSet.size(), flipped, records.size(), total, settings.batchSize(), settings.epochs(),
                            settings.lr()),
                    stages, progress);

            Quality after;
            try (LanguageModel m = load(out)) {
                after = quality(m, validation, mix, samples);
            }
            stages.accept("after:  " + line(after));
            Result result = new Result(seedSet.size(), pairs.size(), flipped, trained.instructions(), trained.steps(),
                    trained.seconds(), trained.finalLoss(), before, after);
            Files.writeString(out.resolve(REPORT_FILE), report(model, out, settings, result).toPrettyString() + "\n");
            return result;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Quality quality(LanguageModel m, EvaluationSet validation, EvaluationSet mix, EvaluationSet samples) {
        return new Quality(validation == null ? null : figures(m, validation), figures(m, mix), figures(m, samples));
    }

    private static String line(Quality q) {
        StringBuilder s = new StringBuilder();
        if (q.validation() != null) {
            s.append(line("validation", q.validation())).append("  ");
        }
        return s.append(line("held_out_mix", q.heldOutMix())).append("  ")
                .append(line("held_out_samples", q.heldOutSamples())).toString();
    }

    private static String line(String name, Figures f) {
        return String.format(Locale.ROOT, "%s spearman %.4f pairwise %.4f", name, f.spearman(), f.pairwiseAccuracy());
    }

    /**
     * The run as one JSON object: settings, counts, training steps and time, and the before/after figures.
     *
     * @param model    the starting model
     * @param out      the output directory
     * @param settings the settings
     * @param r        the result
     * @return the object
     */
    public static ObjectNode report(Path model, Path out, Settings settings, Result r) {
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("model", model.toString());
        o.put("out", out.toString());
        o.put("seed", settings.seed());
        o.put("world_seed", settings.worldSeed());
        o.put("seed_fraction", settings.seedFraction());
        o.put("seed_set_size", r.seedSetSize());
        o.put("seed_pairs", r.seedPairs());
        o.put("flipped_labels", r.flipped());
        o.put("instructions", r.instructions());
        o.put("epochs", settings.epochs());
        o.put("batch_size", settings.batchSize());
        o.put("lr", settings.lr());
        o.put("steps", r.steps());
        o.put("train_seconds", r.trainSeconds());
        o.put("final_loss", r.finalLoss());
        quality(o.putObject("before"), r.before());
        quality(o.putObject("after"), r.after());
        return o;
    }

    private static void quality(ObjectNode o, Quality q) {
        if (q.validation() != null) {
            figures(o.putObject("validation"), q.validation());
        }
        figures(o.putObject("held_out_mix"), q.heldOutMix());
        figures(o.putObject("held_out_samples"), q.heldOutSamples());
    }

    private static void figures(ObjectNode o, Figures f) {
        o.put("spearman", f.spearman());
        o.put("pairwise_accuracy", f.pairwiseAccuracy());
        o.put("mean_expected_score", f.meanScore());
        o.put("responses", f.responses());
        o.put("pairs", f.pairs());
    }
}
