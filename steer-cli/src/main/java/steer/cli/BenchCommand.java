package steer.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import steer.model.Decoder;
import steer.model.GeneratedSequence;
import steer.model.Generation;
import steer.model.LanguageModel;
import steer.model.SamplingParams;

/** Benchmarks that print figures. */
@Command(name = "bench", description = "Benchmarks that print figures.",
        subcommands = {BenchCommand.Generate.class}, mixinStandardHelpOptions = true)
final class BenchCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    /** Decode throughput for one stream and for many, and peak resident memory. */
    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = "Decode throughput (tokens/s, median of repeats after warm-up) and peak resident memory.")
    static final class Generate implements Runnable {

        @Option(names = "--model", required = true, description = "model directory (Hugging Face layout)")
        Path model;

        @Option(names = "--streams", split = ",", defaultValue = "1,64", description = "batch sizes to measure (default: ${DEFAULT-VALUE})")
        int[] streams;

        @Option(names = "--new-tokens", defaultValue = "256", description = "tokens generated per stream per repeat (default: ${DEFAULT-VALUE})")
        int newTokens;

        @Option(names = "--repeats", defaultValue = "5", description = "timed repeats after one warm-up (default: ${DEFAULT-VALUE})")
        int repeats;

        @Option(names = "--prompt", defaultValue = "Once upon a time", description = "prompt of every stream")
        String prompt;

        @Override
        public void run() {
            try (LanguageModel lm = LanguageModel.load(model)) {
                Decoder d = lm.decoder();
                int[] ids = lm.tokenizer().encode(prompt);
                int maxNew = Math.min(newTokens, d.config().maxPositionEmbeddings() - ids.length);
                System.out.printf("model %s: %,d parameters, %d layers, width %d; prompt %d tokens, %d new tokens per stream%n",
                        model, lm.parameterCount(), d.config().numLayers(), d.config().hiddenSize(), ids.length, maxNew);
                System.out.printf("machine: %d cores (%s %s), Java %s%n", Runtime.getRuntime().availableProcessors(),
                        System.getProperty("os.name"), System.getProperty("os.arch"), System.getProperty("java.version"));
                for (int n : streams) {
                    List<int[]> prompts = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        prompts.add(ids);
                    }
                    // no stop tokens: every stream decodes exactly maxNew tokens, so runs are comparable
                    SamplingParams params = SamplingParams.greedy(maxNew);
                    Generation.generate(d, prompts, params, Set.of(), Generation.StopCheck.NEVER); // warm-up
                    double[] rates = new double[repeats];
                    for (int r = 0; r < repeats; r++) {
                        long t0 = System.nanoTime();
                        List<GeneratedSequence> out = Generation.generate(d, prompts, params, Set.of(),
                                Generation.StopCheck.NEVER);
                        double seconds = (System.nanoTime() - t0) / 1e9;
                        long tokens = out.stream().mapToLong(g -> g.tokenIds().length).sum();
                        rates[r] = tokens / seconds;
                    }
                    double[] sorted = rates.clone();
                    Arrays.sort(sorted);
                    System.out.printf("streams %3d: median %,10.0f tokens/s (min %,.0f, max %,.0f over %d repeats)%n", n,
                            sorted[repeats / 2], sorted[0], sorted[repeats - 1], repeats);
                }
                System.out.printf("peak resident memory: %,d MB%n", peakResidentKb() / 1024);
            }
        }

        /** VmHWM from /proc/self/status: the process's peak resident set, including native memory. */
        static long peakResidentKb() {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                    if (line.startsWith("VmHWM:")) {
                        return Long.parseLong(line.replaceAll("[^0-9]", ""));
                    }
                }
            } catch (java.io.IOException e) {
                return -1;
            }
            return -1;
        }
    }
}
