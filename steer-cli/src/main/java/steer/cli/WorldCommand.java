package steer.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import steer.model.LanguageModel;
import steer.world.WorldEvaluation;
import steer.world.WorldModelSize;
import steer.world.WorldSft;
import steer.world.WorldSplits;

/** The oracle world: train its SFT models, evaluate any model in it. */
@Command(name = "world", mixinStandardHelpOptions = true, description = "The oracle world benchmark.",
        subcommands = {WorldCommand.Sft.class, WorldCommand.Eval.class})
final class WorldCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    /** Trains one of the world's SFT models from scratch. */
    @Command(name = "sft", mixinStandardHelpOptions = true,
            description = "Train a world model from scratch on the world's imperfect demonstrations.")
    static final class Sft implements Runnable {

        @Option(names = "--size", required = true, description = "small (~0.2M), medium (~1M) or large (~4M parameters)")
        String size;

        @Option(names = "--out", required = true, description = "output model directory")
        Path out;

        @Option(names = "--seed", defaultValue = "0", description = "world and training seed (default: ${DEFAULT-VALUE})")
        long seed;

        @Option(names = "--steps", description = "optimizer steps instead of the size's default")
        Integer steps;

        @Option(names = "--threads", description = "PyTorch intra-op threads (default: the size's, with which its"
                + " committed checkpoint was trained: 1 for small and medium, 2 for large; the bytes depend on it)")
        Integer threads;

        @Override
        public void run() {
            WorldModelSize named = WorldModelSize.named(size);
            Main.setTorchThreads(threads != null ? threads : named.threads());
            WorldModelSize s = steps == null ? named : named.withSteps(steps);
            long start = System.nanoTime();
            System.out.printf("world sft %s: %d steps of 32 demonstrations, peak lr %.0e, seed %d -> %s%n", size, s.steps(),
                    s.lr(), seed, out);
            WorldSft.train(s, out, seed, r -> {
                if (r.step() % 100 == 0 || r.step() == s.steps()) {
                    System.out.println(TrainingOptions.progressLine(r, s.steps()));
                }
            });
            System.out.printf("trained %s in %.1f minutes%n", size, (System.nanoTime() - start) / 60e9);
        }
    }

    /** Evaluates a model on the world's held-out queries. */
    @Command(name = "eval", mixinStandardHelpOptions = true,
            description = "Sample on the held-out queries and score with the oracle.")
    static final class Eval implements Runnable {

        @Option(names = "--model", required = true, description = "model directory")
        Path model;

        @Option(names = "--baseline", description = "model to compute the win rate against (e.g. the SFT model)")
        Path baseline;

        @Option(names = "--seed", defaultValue = "0", description = "sampling seed (default: ${DEFAULT-VALUE})")
        long seed;

        @Option(names = "--world-seed", defaultValue = "0", description = "seed of the world's splits (default: ${DEFAULT-VALUE})")
        long worldSeed;

        @Option(names = "--json", description = "print one JSON object")
        boolean json;

        @Override
        public void run() {
            WorldSplits splits = WorldSplits.of(worldSeed);
            WorldEvaluation.Report r;
            try (LanguageModel m = LanguageModel.load(model);
                 LanguageModel b = baseline == null ? null : LanguageModel.load(baseline)) {
                r = WorldEvaluation.evaluate(m, b, splits.heldOut(), WorldEvaluation.Settings.defaults(seed));
            }
            ObjectMapper mapper = new ObjectMapper();
            ObjectNode o = mapper.createObjectNode();
            o.put("model", model.toString());
            o.put("seed", seed);
            o.put("mean_score", r.meanScore());
            o.put("best_score", 1.0);
            if (r.winRate() != null) {
                o.put("win_rate", r.winRate());
            }
            o.put("mean_length", r.meanLength());
            ObjectNode features = o.putObject("per_feature");
            for (Map.Entry<String, Double> f : r.perFeature().entrySet()) {
                features.put(f.getKey(), f.getValue());
            }
            o.put("signal_accuracy", r.signalAccuracy());
            o.put("signal_tie_rate", r.signalTieRate());
            o.put("mean_score_plus", r.meanScorePlus());
            o.put("on_policy", r.onPolicy());
            o.put("judge_accuracy", r.judgeAccuracy());
            o.put("position_consistency", r.positionConsistency());
            o.put("n", r.n());
            if (json) {
                System.out.println(o);
                return;
            }
            o.fields().forEachRemaining(e -> {
                if (e.getValue().isObject()) {
                    e.getValue().fields().forEachRemaining(f -> System.out.printf(Locale.ROOT, "  %-20s %s%n",
                            e.getKey() + "." + f.getKey(), fmt(f.getValue().asDouble())));
                } else {
                    System.out.printf(Locale.ROOT, "  %-20s %s%n", e.getKey(), e.getValue().isFloatingPointNumber()
                            ? fmt(e.getValue().asDouble()) : e.getValue().asText());
                }
            });
        }

        private static String fmt(double v) {
            return String.format(Locale.ROOT, "%.4f", v);
        }
    }
}
