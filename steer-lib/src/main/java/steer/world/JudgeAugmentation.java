package steer.world;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import steer.model.LanguageModel;
import steer.objective.Sft;
import steer.train.PolicyTrainer;
import steer.train.TrainingRun;

/**
 * OSP's optional <b>preference augmentation</b> (OSP, Algorithm 1, the step before the online loop): the judge
 * model is fine-tuned on judge instructions built from a small labelled seed set, so the fixed judge that OSP
 * pins for the whole run starts from a better preference signal.
 *
 * <p>In the oracle world the labelled set is {@link #seedSet}: {@value #SEED_SET_SIZE} pairs of
 * {@link JudgeSeedSet} drawn from the SFT split with exactly 15% of labels flipped, standing in for noisy human
 * annotation. A run draws a fraction of it (OSP: 1%) with a seed, adds every drawn pair again with responses A
 * and B swapped and the label swapped with them, renders both in the world's pairwise judge format
 * ({@link JudgeInstructions#pairwise}, answered {@code A} or {@code B}, the format the SFT demonstrations and
 * {@link WorldEvaluation} use) and runs supervised fine-tuning ({@link Sft}, prompt-masked NLL on the answer
 * token and the EOS after it) with the project's training engine ({@link TrainingRun}).
 *
 * <p>The model being trained sees the oracle only through the seed labels, noise included. Before and after, the
 * run measures judge accuracy and position consistency on the world's held-out oracle-labelled judge pairs with
 * {@link WorldEvaluation}'s own code, so the figures are exactly those {@code ./steer world eval} reports for the
 * same model and seed.
 */
public final class JudgeAugmentation {

    /** Pairs in the world's labelled seed set. */
    public static final int SEED_SET_SIZE = 20_000;

    /** OSP's share of the labelled set used for augmentation. */
    public static final double DEFAULT_SEED_FRACTION = 0.01;

    /** Default passes over the instructions. */
    public static final int DEFAULT_EPOCHS = 2;
    /** Default instructions per optimizer step. */
    public static final int DEFAULT_BATCH_SIZE = 16;
    /** Default peak learning rate. */
    public static final double DEFAULT_LR = 1e-4;

    /** The file in the output directory that holds the judge instructions trained on. */
    public static final String INSTRUCTIONS_FILE = "judge-instructions.jsonl";

    /** The file in the output directory that holds the run's report. */
    public static final String REPORT_FILE = "augment.json";

    /** Separates the seed set's random stream from the splits' and the SFT demonstrations' for the same world seed. */
    private static final long SEED_SET_SALT = 0x5EED_5E7L;

    private JudgeAugmentation() {
    }

    /**
     * How to augment.
     *
     * @param seedFraction share of the seed set to train on, in (0, 1], selecting at least one pair
     * @param seed         seeds the draw of the pairs, the training order and the evaluation (as
     *                     {@code ./steer world eval --seed})
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
         * The defaults for the world's medium model: 1% of the seed set, 2 epochs of batches of 16, peak lr 1e-4.
         *
         * @param seed the run's seed
         * @return the settings
         */
        public static Settings defaults(long seed) {
            return new Settings(DEFAULT_SEED_FRACTION, seed, 0, DEFAULT_EPOCHS, DEFAULT_BATCH_SIZE, DEFAULT_LR);
        }
    }

    /**
     * One judge instruction: a pairwise prompt and its annotated answer.
     *
     * @param prompt  {@link JudgeInstructions#pairwise} of the query and the two responses
     * @param answer  {@code A} or {@code B}, the seed set's (noisy) label for this order
     * @param pair    index of the pair in the drawn list
     * @param swapped whether responses A and B are in swapped order
     */
    public record Instruction(String prompt, String answer, int pair, boolean swapped) {
    }

    /**
     * Judge accuracy and position consistency, as {@link WorldEvaluation.Report} carries them.
     *
     * @param judgeAccuracy       share of held-out oracle-labelled pairs judged right, both orders averaged
     * @param positionConsistency share of those pairs whose verdict survives swapping A and B
     */
    public record JudgeFigures(double judgeAccuracy, double positionConsistency) {
    }

    /**
     * What a run did.
     *
     * @param seedSetSize   pairs in the seed set
     * @param seedPairs     pairs drawn from it
     * @param instructions  judge instructions trained on (twice the pairs)
     * @param steps         optimizer steps
     * @param trainSeconds  wall time of the training
     * @param finalLoss     loss of the last step
     * @param before        the starting model's judge figures
     * @param after         the fine-tuned model's judge figures
     */
    public record Result(int seedSetSize, int seedPairs, int instructions, long steps, double trainSeconds,
                         double finalLoss, JudgeFigures before, JudgeFigures after) {
    }

    /**
     * The world's labelled seed set: {@value #SEED_SET_SIZE} pairs of {@link JudgeSeedSet#generate} with its
     * default 15% of flipped labels, over the SFT split's queries.
     *
     * <p>It never holds a held-out evaluation pair: {@link WorldEvaluation} draws its judge pairs from
     * {@link WorldSplits#heldOut()}, and the splits are disjoint by query body, so no query (with or without its
     * secret clause) of the seed set is a held-out one. This is checked here too.
     *
     * @param splits    the world's splits
     * @param worldSeed the seed they were drawn with
     * @return the seed set; the same splits and seed always give the same list
     */
    public static List<JudgeSeedExample> seedSet(WorldSplits splits, long worldSeed) {
        List<JudgeSeedExample> set = JudgeSeedSet.generate(splits.sft(), SEED_SET_SIZE, worldSeed ^ SEED_SET_SALT);
        Set<String> heldOut = new HashSet<>();
        for (Task t : splits.heldOut()) {
            heldOut.add(t.body());
        }
        for (JudgeSeedExample e : set) {
            if (heldOut.contains(e.task().body())) {
                throw new IllegalStateException("seed set query '" + e.task().query() + "' is a held-out query");
            }
        }
        return set;
    }

    /**
     * Draws round(fraction · size) pairs of the seed set without replacement.
     *
     * @param seedSet  the labelled pairs
     * @param fraction the share to draw, in (0, 1]
     * @param seed     the draw's seed
     * @return the drawn pairs in draw order; the same arguments always give the same list
     * @throws IllegalArgumentException if the fraction is outside (0, 1] or selects no pair
     */
    public static List<JudgeSeedExample> draw(List<JudgeSeedExample> seedSet, double fraction, long seed) {
        int n = pairCount(seedSet.size(), fraction);
        int[] order = new int[seedSet.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        SplittableRandom random = new SplittableRandom(seed);
        List<JudgeSeedExample> drawn = new ArrayList<>(n);
        for (int i = 0; i < n; i++) { // the first n steps of a Fisher-Yates shuffle
            int j = i + random.nextInt(order.length - i);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
            drawn.add(seedSet.get(order[i]));
        }
        return drawn;
    }

    /**
     * The number of pairs a fraction selects from a seed set.
     *
     * @param size     pairs in the seed set
     * @param fraction the share, in (0, 1]
     * @return round(fraction · size), at least 1
     * @throws IllegalArgumentException if the fraction is outside (0, 1] or selects no pair
     */
    public static int pairCount(int size, double fraction) {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("--seed-fraction must be in (0, 1], got " + fraction);
        }
        long n = Math.round(fraction * size);
        if (n < 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "--seed-fraction %s selects no pair of the"
                    + " %d-pair seed set (one pair is %.2g)", fraction, size, 1.0 / size));
        }
        return (int) n;
    }

    /**
     * The judge instructions of some pairs: each pair in its stored order answered by its label, then with
     * responses A and B swapped answered by the swapped label.
     *
     * @param pairs the drawn pairs
     * @return 2 · pairs.size() instructions, pair by pair
     */
    public static List<Instruction> instructions(List<JudgeSeedExample> pairs) {
        List<Instruction> out = new ArrayList<>(2 * pairs.size());
        for (int i = 0; i < pairs.size(); i++) {
            JudgeSeedExample p = pairs.get(i);
            out.add(new Instruction(p.pairwisePrompt(), p.label(), i, false));
            out.add(new Instruction(p.swappedPrompt(), p.swappedLabel(), i, true));
        }
        return out;
    }

    /**
     * The judge figures of a model on the world's held-out pairs: {@link WorldEvaluation}'s judge code with
     * {@link WorldEvaluation.Settings#defaults}, so they equal {@code ./steer world eval --seed seed}'s
     * {@code judge_accuracy} and {@code position_consistency}.
     *
     * @param model   the judge
     * @param heldOut the held-out tasks ({@link WorldSplits#heldOut()})
     * @param seed    the evaluation seed
     * @return the figures
     */
    public static JudgeFigures judgeFigures(LanguageModel model, List<Task> heldOut, long seed) {
        double[] judge = WorldEvaluation.judge(model, heldOut, WorldEvaluation.Settings.defaults(seed));
        return new JudgeFigures(judge[0], judge[1]);
    }

    /**
     * Runs preference augmentation: measures the judge, fine-tunes it, writes it and measures it again.
     *
     * <p>{@code out} receives the fine-tuned model in the Hugging Face layout with its tokenizer
     * ({@code config.json}, {@code model.safetensors}, {@code tokenizer.json}), the instructions trained on
     * ({@value #INSTRUCTIONS_FILE}), the training metrics ({@link TrainingRun#METRICS_FILE}) and the report
     * ({@value #REPORT_FILE}); the training run's resumable checkpoints are removed at the end.
     *
     * @param model    the starting judge (normally the SFT model)
     * @param out      the output directory, not {@code model}
     * @param settings how to augment
     * @param stages   receives a line as each stage starts or ends (measuring, training, writing)
     * @param progress receives each optimizer step's result
     * @return what the run did
     * @throws IllegalArgumentException if the settings select no pair or {@code out} is {@code model}
     */
    public static Result run(Path model, Path out, Settings settings, Consumer<String> stages,
                             Consumer<PolicyTrainer.StepResult> progress) {
        SeedSetTraining.checkOut(model, out);
        WorldSplits splits = WorldSplits.of(settings.worldSeed());
        List<JudgeSeedExample> seedSet = seedSet(splits, settings.worldSeed());
        List<JudgeSeedExample> pairs = draw(seedSet, settings.seedFraction(), settings.seed());
        List<Instruction> instructions = instructions(pairs);

        JudgeFigures before;
        try (LanguageModel m = LanguageModel.load(model)) {
            before = judgeFigures(m, splits.heldOut(), settings.seed());
        }
        stages.accept(String.format(Locale.ROOT, "before: judge_accuracy %.4f  position_consistency %.4f",
                before.judgeAccuracy(), before.positionConsistency()));

        try {
            Files.createDirectories(out);
            List<SeedSetTraining.Record> records = new ArrayList<>(instructions.size());
            for (Instruction in : instructions) {
                Map<String, Object> extra = new LinkedHashMap<>();
                extra.put("pair", in.pair());
                extra.put("swapped", in.swapped());
                records.add(new SeedSetTraining.Record(in.prompt(), in.answer(), extra));
            }
            ObjectNode runSettings = new ObjectMapper().createObjectNode();
            runSettings.put("objective", "sft");
            runSettings.put("purpose", "judge preference augmentation");
            runSettings.put("model", model.toAbsolutePath().toString());
            runSettings.put("seed_fraction", settings.seedFraction());
            runSettings.put("seed", settings.seed());
            runSettings.put("world_seed", settings.worldSeed());
            runSettings.put("lr", settings.lr());
            runSettings.put("batch_size", settings.batchSize());
            runSettings.put("epochs", settings.epochs());
            SeedSetTraining.Outcome trained = SeedSetTraining.fineTune(model, out, INSTRUCTIONS_FILE, records,
                    runSettings, settings.seed(), settings.epochs(), settings.batchSize(), settings.lr(),
                    total -> String.format(Locale.ROOT, "training: %d seed pairs of %d (%d flipped labels), %d"
                                    + " instructions with positions swapped, %d steps of %d, %d epochs, peak lr %.2g",
                            pairs.size(), seedSet.size(), pairs.stream().filter(JudgeSeedExample::flipped).count(),
                            records.size(), total, settings.batchSize(), settings.epochs(), settings.lr()),
                    stages, progress);

            JudgeFigures after;
            try (LanguageModel m = LanguageModel.load(out)) {
                after = judgeFigures(m, splits.heldOut(), settings.seed());
            }
            stages.accept(String.format(Locale.ROOT, "after:  judge_accuracy %.4f  position_consistency %.4f",
                    after.judgeAccuracy(), after.positionConsistency()));
            Result result = new Result(seedSet.size(), pairs.size(), trained.instructions(), trained.steps(),
                    trained.seconds(), trained.finalLoss(), before, after);
            Files.writeString(out.resolve(REPORT_FILE), report(model, out, settings, result).toPrettyString() + "\n");
            return result;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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
        o.put("instructions", r.instructions());
        o.put("epochs", settings.epochs());
        o.put("batch_size", settings.batchSize());
        o.put("lr", settings.lr());
        o.put("steps", r.steps());
        o.put("train_seconds", r.trainSeconds());
        o.put("final_loss", r.finalLoss());
        figures(o.putObject("before"), r.before());
        figures(o.putObject("after"), r.after());
        return o;
    }

    private static void figures(ObjectNode o, JudgeFigures f) {
        o.put("judge_accuracy", f.judgeAccuracy());
        o.put("position_consistency", f.positionConsistency());
    }
}
