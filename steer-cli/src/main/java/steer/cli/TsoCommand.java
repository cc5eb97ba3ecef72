package steer.cli;

import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import steer.train.TrainingRun;
import steer.world.EvaluatorTraining;
import steer.world.JudgeAugmentation;

/** TSO's preparations: the rubric evaluator. */
@Command(name = "tso", mixinStandardHelpOptions = true, description = "Prepare what a TSO run needs.",
        subcommands = {TsoCommand.Evaluator.class})
final class TsoCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    /** Fine-tunes the base model as TSO's rubric evaluator on the oracle world's labelled seed set (TSO §3.2). */
    @Command(name = "evaluator", mixinStandardHelpOptions = true,
            description = "TSO's evaluator: fine-tune the base model as a rubric scorer (2..10) on a fraction of the"
                    + " oracle world's labelled (15%% noisy) seed pairs, each response answered with its annotated"
                    + " score; Spearman and pairwise accuracy of the expected score before and after, on undrawn seed"
                    + " pairs and on held-out responses against the oracle.")
    static final class Evaluator implements Runnable {

        @Option(names = "--model", required = true, description = "base model directory (e.g. models/world/medium)")
        Path model;

        @Option(names = "--out", required = true,
                description = "new or empty output directory for the evaluator (Hugging Face layout)")
        Path out;

        @Option(names = "--seed-fraction", defaultValue = "" + EvaluatorTraining.DEFAULT_SEED_FRACTION,
                description = "share of the " + JudgeAugmentation.SEED_SET_SIZE + "-pair seed set, in (0, 1] (default: ${DEFAULT-VALUE})")
        double seedFraction;

        @Option(names = "--seed", defaultValue = "0",
                description = "seeds the draw, the training order and the evaluation responses (default: ${DEFAULT-VALUE})")
        long seed;

        @Option(names = "--world-seed", defaultValue = "0", description = "seed of the world's splits and seed set (default: ${DEFAULT-VALUE})")
        long worldSeed;

        @Option(names = "--epochs", defaultValue = "" + EvaluatorTraining.DEFAULT_EPOCHS,
                description = "passes over the instructions (default: ${DEFAULT-VALUE})")
        int epochs;

        @Option(names = "--batch-size", defaultValue = "" + EvaluatorTraining.DEFAULT_BATCH_SIZE,
                description = "instructions per optimizer step (default: ${DEFAULT-VALUE})")
        int batchSize;

        @Option(names = "--lr", defaultValue = "" + EvaluatorTraining.DEFAULT_LR,
                description = "peak learning rate, 10%% warm-up then cosine to 0 (default: ${DEFAULT-VALUE})")
        double lr;

        @Option(names = "--json", description = "print one JSON object")
        boolean json;

        @Override
        public void run() {
            // checks every value (and that the fraction selects a pair) before anything is loaded
            EvaluatorTraining.Settings settings = new EvaluatorTraining.Settings(seedFraction, seed, worldSeed, epochs,
                    batchSize, lr);
            int pairs = JudgeAugmentation.pairCount(JudgeAugmentation.SEED_SET_SIZE, seedFraction);
            long total = TrainingRun.totalSteps(2 * pairs, batchSize, epochs, 0);
            long start = System.nanoTime();
            EvaluatorTraining.Result r = EvaluatorTraining.run(model, out, settings,
                    line -> {
                        if (!json) {
                            System.out.println(line);
                        }
                    },
                    step -> {
                        if (!json && (step.step() == 1 || step.step() % 50 == 0 || step.step() == total)) {
                            System.out.println("  " + TrainingOptions.progressLine(step, total));
                        }
                    });
            double seconds = (System.nanoTime() - start) / 1e9;
            if (json) {
                var o = EvaluatorTraining.report(model, out, settings, r);
                o.put("seconds", seconds);
                System.out.println(o);
                return;
            }
            System.out.printf(Locale.ROOT, "%d seed pairs (%d flipped, %d instructions), %d steps in %.1f s, final loss %.4f%n",
                    r.seedPairs(), r.flipped(), r.instructions(), r.steps(), r.trainSeconds(), r.finalLoss());
            System.out.printf(Locale.ROOT, "%-17s %-22s %-22s%n", "", "spearman", "pairwise_accuracy");
            if (r.before().validation() != null) {
                row("validation", r.before().validation(), r.after().validation());
            }
            row("held_out_mix", r.before().heldOutMix(), r.after().heldOutMix());
            row("held_out_samples", r.before().heldOutSamples(), r.after().heldOutSamples());
            System.out.printf(Locale.ROOT, "wrote %s in %.1f s%n", out, seconds);
        }

        private static void row(String name, EvaluatorTraining.Figures before, EvaluatorTraining.Figures after) {
            System.out.printf(Locale.ROOT, "%-17s %.4f -> %.4f       %.4f -> %.4f%n", name, before.spearman(),
                    after.spearman(), before.pairwiseAccuracy(), after.pairwiseAccuracy());
        }
    }
}
