package steer.cli;

import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import steer.train.TrainingRun;
import steer.world.JudgeAugmentation;
import steer.world.JudgeCalibration;

/** The judge model: OSP's preference augmentation and the judge's calibration. */
@Command(name = "judge", mixinStandardHelpOptions = true, description = "Prepare, measure and call a judge model.",
        subcommands = {JudgeCommand.Augment.class, JudgeCommand.Calibrate.class, JudgeCommand.Compare.class})
final class JudgeCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    /** Fine-tunes a judge on a fraction of the oracle world's labelled seed set (OSP Algorithm 1). */
    @Command(name = "augment", mixinStandardHelpOptions = true,
            description = "OSP's preference augmentation: fine-tune a judge on a fraction of the oracle world's"
                    + " labelled (15%% noisy) seed pairs in both orders; judge accuracy and position consistency on"
                    + " the held-out pairs before and after, as `world eval` reports them.")
    static final class Augment implements Runnable {

        @Option(names = "--model", required = true, description = "starting judge model directory (e.g. models/world/medium)")
        Path model;

        @Option(names = "--out", required = true, description = "output directory for the fine-tuned judge (Hugging Face layout)")
        Path out;

        @Option(names = "--seed-fraction", defaultValue = "0.01",
                description = "share of the " + JudgeAugmentation.SEED_SET_SIZE + "-pair seed set, in (0, 1] (default: ${DEFAULT-VALUE})")
        double seedFraction;

        @Option(names = "--seed", defaultValue = "0",
                description = "seeds the draw, the training order and the evaluation, as `world eval --seed` (default: ${DEFAULT-VALUE})")
        long seed;

        @Option(names = "--world-seed", defaultValue = "0", description = "seed of the world's splits and seed set (default: ${DEFAULT-VALUE})")
        long worldSeed;

        @Option(names = "--epochs", defaultValue = "" + JudgeAugmentation.DEFAULT_EPOCHS,
                description = "passes over the instructions (default: ${DEFAULT-VALUE})")
        int epochs;

        @Option(names = "--batch-size", defaultValue = "" + JudgeAugmentation.DEFAULT_BATCH_SIZE,
                description = "instructions per optimizer step (default: ${DEFAULT-VALUE})")
        int batchSize;

        @Option(names = "--lr", defaultValue = "" + JudgeAugmentation.DEFAULT_LR,
                description = "peak learning rate, 10%% warm-up then cosine to 0 (default: ${DEFAULT-VALUE})")
        double lr;

        @Option(names = "--json", description = "print one JSON object")
        boolean json;

        @Override
        public void run() {
            // checks every value (and that the fraction selects a pair) before anything is loaded
            JudgeAugmentation.Settings settings = new JudgeAugmentation.Settings(seedFraction, seed, worldSeed, epochs,
                    batchSize, lr);
            int pairs = JudgeAugmentation.pairCount(JudgeAugmentation.SEED_SET_SIZE, seedFraction);
            long total = TrainingRun.totalSteps(2 * pairs, batchSize, epochs, 0);
            long start = System.nanoTime();
            JudgeAugmentation.Result r = JudgeAugmentation.run(model, out, settings,
                    line -> {
                        if (!json) {
                            System.out.println(line);
                        }
                    },
                    step -> {
                        if (!json && (step.step() == 1 || step.step() % 10 == 0 || step.step() == total)) {
                            System.out.println("  " + TrainingOptions.progressLine(step, total));
                        }
                    });
            double seconds = (System.nanoTime() - start) / 1e9;
            if (json) {
                var o = JudgeAugmentation.report(model, out, settings, r);
                o.put("seconds", seconds);
                System.out.println(o);
                return;
            }
            System.out.printf(Locale.ROOT, "%d seed pairs (%d instructions), %d steps in %.1f s, final loss %.4f%n",
                    r.seedPairs(), r.instructions(), r.steps(), r.trainSeconds(), r.finalLoss());
            System.out.printf(Locale.ROOT, "judge_accuracy        %.4f -> %.4f%n", r.before().judgeAccuracy(),
                    r.after().judgeAccuracy());
            System.out.printf(Locale.ROOT, "position_consistency  %.4f -> %.4f%n", r.before().positionConsistency(),
                    r.after().positionConsistency());
            System.out.printf(Locale.ROOT, "wrote %s in %.1f s%n", out, seconds);
        }
    }

    /** How well the judge's probabilities mean what they say, and a temperature that makes them. */
    @Command(name = "calibrate", mixinStandardHelpOptions = true,
            description = "Accuracy against the oracle, position consistency, expected calibration error, Brier score"
                    + " and log loss of a pairwise judge on the oracle world's held-out labelled pairs, raw and with a"
                    + " temperature fitted on the labelled seed set; writes calibration.html (reliability diagram)"
                    + " and calibration.json.")
    static final class Calibrate implements Runnable {

        @Option(names = "--model", required = true, description = "the judge model directory (e.g. models/world/medium)")
        Path model;

        @Option(names = "--template", defaultValue = "", description = "pairwise template id (default: the world's)")
        String template;

        @Option(names = "--pairs", defaultValue = "" + JudgeCalibration.DEFAULT_PAIRS,
                description = "held-out pairs to measure on (default: ${DEFAULT-VALUE}, as `world eval`)")
        int pairs;

        @Option(names = "--fit-pairs", defaultValue = "" + JudgeCalibration.DEFAULT_FIT_PAIRS,
                description = "seed-set pairs the temperature is fitted on (default: ${DEFAULT-VALUE})")
        int fitPairs;

        @Option(names = "--seed", defaultValue = "0", description = "seeds the held-out pairs (as `world eval --seed`)"
                + " and the seed-set draw (default: ${DEFAULT-VALUE})")
        long seed;

        @Option(names = "--world-seed", defaultValue = "0", description = "seed of the world's splits (default: ${DEFAULT-VALUE})")
        long worldSeed;

        @Option(names = "--out", description = "where calibration.html and .json go (default: build-out/calibrate/MODEL)")
        Path out;

        @Option(names = "--save-to-model", description = "also record the fitted temperature in the model directory"
                + " (judge_calibration.json), so judge-svc serves p_a_better_calibrated beside the raw probability")
        boolean saveToModel;

        @Override
        public void run() {
            if (!java.nio.file.Files.isRegularFile(model.resolve("config.json"))) {
                throw new IllegalArgumentException("--model " + model + ": no config.json there (a model in the Hugging"
                        + " Face layout)");
            }
            long start = System.nanoTime();
            JudgeCalibration.Report r;
            try (steer.model.LanguageModel m = steer.model.LanguageModel.load(model)) {
                r = JudgeCalibration.run(m, template, pairs, fitPairs, seed, worldSeed);
            }
            System.out.print(CalibrationReport.table(model, r));
            Path dir = out != null ? out : Path.of("build-out/calibrate").resolve(model.getFileName().toString());
            Path html = CalibrationReport.write(dir, model, r);
            if (saveToModel) {
                steer.judge.CalibrationFile.write(model, r.template(), r.calibrated().temperature());
                System.out.printf(Locale.ROOT, "saved T = %.4f for template %s in %s%n", r.calibrated().temperature(),
                        r.template(), model.resolve(steer.judge.CalibrationFile.FILE));
            }
            System.out.printf(Locale.ROOT, "report: %s (%.1f s)%n", html, (System.nanoTime() - start) / 1e9);
        }
    }

    /** One comparison through a running judge-svc, with the client library. */
    @Command(name = "compare", mixinStandardHelpOptions = true,
            description = "Ask a running judge-svc which of two responses is better: p(A better) with both orders'"
                    + " values, through the judge client (deadline, key, retries on UNAVAILABLE and"
                    + " RESOURCE_EXHAUSTED).")
    static final class Compare implements Runnable {

        @Option(names = "--target", required = true, description = "the judge's HOST:PORT (or any gRPC target)")
        String target;

        @Option(names = "--api-key", description = "sent as authorization: Bearer KEY (default: $STEER_JUDGE_API_KEY)")
        String apiKey;

        @Option(names = "--prompt", required = true, description = "the context both responses answer")
        String prompt;

        @Option(names = "--response-a", required = true, description = "response A")
        String responseA;

        @Option(names = "--response-b", required = true, description = "response B")
        String responseB;

        @Option(names = "--template", defaultValue = "", description = "pairwise template id (default: the service's)")
        String template;

        @Option(names = "--model", defaultValue = "", description = "the judge model's name (default: the service's)")
        String model;

        @Option(names = "--deadline", defaultValue = "30", description = "seconds for the call, retries included"
                + " (default: ${DEFAULT-VALUE})")
        double deadlineSeconds;

        @Option(names = "--json", description = "print the Comparison as one JSON object")
        boolean json;

        @Override
        public void run() {
            String key = apiKey != null ? apiKey : System.getenv("STEER_JUDGE_API_KEY");
            if (!(deadlineSeconds > 0)) {
                throw new IllegalArgumentException("--deadline must be positive, got " + deadlineSeconds);
            }
            steer.proto.v1.Comparison c;
            try (steer.judge.client.JudgeApiClient judge = steer.judge.client.JudgeApiClient.builder(target).apiKey(key)
                    .deadline(java.time.Duration.ofMillis((long) (deadlineSeconds * 1000))).build()) {
                c = judge.compare(prompt, responseA, responseB, model, template);
            } catch (io.grpc.StatusRuntimeException e) {
                throw new IllegalArgumentException("the judge at " + target + " answered " + e.getStatus().getCode()
                        + (e.getStatus().getDescription() == null ? "" : ": " + e.getStatus().getDescription()), e);
            }
            if (json) {
                System.out.println(steer.cli.compare.ProtoJson.of(c));
                return;
            }
            System.out.printf(Locale.ROOT, "p(A better) = %.4f  (A shown first: %.4f; B shown first: %.4f)  by '%s'"
                    + " version %d%n", c.getPABetter(), c.getPABetterAb(), c.getPABetterBa(), c.getModel(),
                    c.getModelVersion());
        }
    }
}
