package steer.cli;

import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import steer.train.TrainingRun;
import steer.world.JudgeAugmentation;

/** The judge model: OSP's preference augmentation. */
@Command(name = "judge", mixinStandardHelpOptions = true, description = "Prepare a judge model.",
        subcommands = {JudgeCommand.Augment.class})
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
}
