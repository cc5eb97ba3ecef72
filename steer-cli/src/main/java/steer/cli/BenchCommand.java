package steer.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import steer.checkpoint.DecoderConfig;
import steer.model.DecoderInit;
import steer.train.TrainingBenchmark;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import steer.model.Decoder;
import steer.model.GeneratedSequence;
import steer.model.Generation;
import steer.model.LanguageModel;
import steer.model.SamplingParams;
import steer.model.SequenceScorer;

/** Benchmarks that print figures. */
@Command(name = "bench", description = "Benchmarks that print figures.",
        subcommands = {BenchCommand.Generate.class, BenchCommand.Train.class, JudgeBench.class, ServeBench.class},
        mixinStandardHelpOptions = true)
final class BenchCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    /** Decode throughput for one stream and for many, and peak resident memory. */
    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = "Decode throughput (tokens/s, median of repeats after warm-up) and peak resident memory.")
    static final class Generate implements Runnable {

        @Option(names = "--model", description = "model directory (Hugging Face layout)")
        Path model;

        @Option(names = "--config", description = "instead of --model: random weights (DecoderInit, seed 0) of this"
                + " config.json's shape, built in memory (no checkpoint written), with --tokenizer's tokenizer")
        Path config;

        @Option(names = "--tokenizer", description = "with --config: a directory holding tokenizer.json")
        Path tokenizer;

        @Option(names = "--streams", split = ",", defaultValue = "1,64", description = "batch sizes to measure (default: ${DEFAULT-VALUE})")
        int[] streams;

        @Option(names = "--new-tokens", defaultValue = "256", description = "tokens generated per stream per repeat (default: ${DEFAULT-VALUE})")
        int newTokens;

        @Option(names = "--repeats", defaultValue = "5", description = "timed repeats after one warm-up (default: ${DEFAULT-VALUE})")
        int repeats;

        @Option(names = "--prompt", defaultValue = "Once upon a time", description = "prompt of every stream")
        String prompt;

        @Option(names = "--prefill-samples", defaultValue = "7", description = "samples of one prompt in the shared-prefill"
                + " measurement; 0 skips it (default: ${DEFAULT-VALUE})")
        int prefillSamples;

        @picocli.CommandLine.Mixin
        PlacementOptions placement = new PlacementOptions();

        @Option(names = "--engines", split = ",", description = "generation engines to measure side by side, of djl and"
                + " vector (default: the one -Dsteer.generation.engine names, djl unless set)")
        String[] engines;

        @Option(names = "--prefill-tokens", defaultValue = "64", description = "that prompt's length in tokens (default: ${DEFAULT-VALUE})")
        int prefillTokens;

        @Override
        public void run() {
            steer.model.Placement at = placement.placement();
            if ((model == null) == (config == null) || (config != null) != (tokenizer != null)) {
                throw new IllegalArgumentException("bench generate needs --model DIR, or --config config.json with"
                        + " --tokenizer DIR");
            }
            if (repeats < 1 || prefillSamples < 0 || prefillTokens < 1 || streams.length == 0
                    || Arrays.stream(streams).anyMatch(n -> n < 1)) {
                throw new IllegalArgumentException("bench generate needs --repeats and --prefill-tokens of at least 1,"
                        + " --streams of at least 1 each and --prefill-samples of at least 0, got --repeats " + repeats
                        + ", --prefill-tokens " + prefillTokens + ", --streams " + Arrays.toString(streams)
                        + ", --prefill-samples " + prefillSamples);
            }
            List<Generation.Engine> engineList = engines == null ? List.of(Generation.Engine.configured())
                    : Arrays.stream(engines).map(e -> Generation.Engine.parse(e, "--engines")).distinct().toList();
            try (LanguageModel lm = model != null ? LanguageModel.load(model, at) : randomModel(at)) {
                Decoder d = lm.decoder();
                System.out.println("placement: " + at + "; engines: " + engineList.stream()
                        .map(e -> e.name().toLowerCase()).collect(java.util.stream.Collectors.joining(", ")));
                int[] ids = lm.tokenizer().encode(prompt);
                int maxNew = Math.min(newTokens, d.config().maxPositionEmbeddings() - ids.length);
                System.out.printf("model %s: %,d parameters, %d layers, width %d; prompt %d tokens, %d new tokens per stream%n",
                        model != null ? model : "random weights of " + config, lm.parameterCount(), d.config().numLayers(), d.config().hiddenSize(), ids.length, maxNew);
                System.out.printf("machine: %d cores (%s %s), Java %s%n", Runtime.getRuntime().availableProcessors(),
                        System.getProperty("os.name"), System.getProperty("os.arch"), System.getProperty("java.version"));
                for (int n : streams) {
                    List<int[]> prompts = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        prompts.add(ids);
                    }
                    // no stop tokens: every stream decodes exactly maxNew tokens, so runs are comparable
                    SamplingParams params = SamplingParams.greedy(maxNew);
                    int vocab = d.config().vocabSize();
                    // warm-up: calls for at least two seconds (at least one call), so the JIT has compiled the
                    // vector engine's loops (one call of 64 stories260K streams left it at ~0.7x its speed)
                    for (Generation.Engine e : engineList) {
                        long until = System.nanoTime() + 2_000_000_000L;
                        do {
                            Generation.generate(d, prompts, params, Set.of(), Generation.StopCheck.NEVER, vocab, e);
                        } while (System.nanoTime() < until);
                    }
                    // the engines take turns within each repeat, so a neighbour's load falls on them alike
                    double[][] rates = new double[engineList.size()][repeats];
                    for (int r = 0; r < repeats; r++) {
                        for (int e = 0; e < engineList.size(); e++) {
                            long t0 = System.nanoTime();
                            List<GeneratedSequence> out = Generation.generate(d, prompts, params, Set.of(),
                                    Generation.StopCheck.NEVER, vocab, engineList.get(e));
                            double seconds = (System.nanoTime() - t0) / 1e9;
                            long tokens = out.stream().mapToLong(g -> g.tokenIds().length).sum();
                            rates[e][r] = tokens / seconds;
                        }
                    }
                    for (int e = 0; e < engineList.size(); e++) {
                        double[] sorted = rates[e].clone();
                        Arrays.sort(sorted);
                        System.out.printf("%sstreams %3d: median %,10.0f tokens/s (min %,.0f, max %,.0f over %d repeats)%n",
                                engineList.size() > 1 ? String.format("%-6s ", engineList.get(e).name().toLowerCase()) : "",
                                n, sorted[repeats / 2], sorted[0], sorted[repeats - 1], repeats);
                    }
                }
                if (prefillSamples > 0) {
                    sharedPrefill(d, ids);
                }
                System.out.printf("peak resident memory: %,d MB%n", ProcessMemory.peakResidentKb() / 1024);
                DeviceMemory.print(at);
            }
        }

        /** Random weights of --config's shape on the placement, with --tokenizer's tokenizer. */
        private LanguageModel randomModel(steer.model.Placement at) {
            DecoderConfig c = steer.checkpoint.HfConfigJson.read(config);
            steer.tokenizer.Tokenizer t = steer.tokenizer.Tokenizer.load(tokenizer);
            try {
                return new LanguageModel(Decoder.fromHostTensors(c, DecoderInit.defaults().tensors(c, 0), at.newManager(),
                        at.precision(), false), t);
            } catch (RuntimeException | Error e) {
                t.close();
                throw e;
            }
        }

        /**
         * The cost of n samples of one long prompt against one: with max_new_tokens 1 a call is its prefill and one
         * draw, so the ratio shows what the shared prefill (one prefill row forked to the n samples) saves; n
         * distinct prompts of the same length, which cannot share, are printed beside it.
         */
        private void sharedPrefill(Decoder d, int[] ids) {
            int length = Math.min(prefillTokens, d.config().maxPositionEmbeddings() - 1);
            int[] prompt = new int[length];
            for (int t = 0; t < length; t++) {
                prompt[t] = t == 0 ? ids[0] : ids[1 + (t - 1) % Math.max(1, ids.length - 1)];
            }
            List<int[]> one = List.of(prompt);
            List<int[]> same = new ArrayList<>();
            List<int[]> distinct = new ArrayList<>();
            for (int i = 0; i < prefillSamples; i++) {
                same.add(prompt);
                int[] other = prompt.clone();
                other[length - 1] = (other[length - 1] + 1 + i) % d.config().vocabSize();
                distinct.add(other);
            }
            SamplingParams first = new SamplingParams(1, 1.0, 1, 0, 0);
            List<List<int[]>> cases = List.of(one, same, distinct);
            int n = Math.max(21, repeats);
            double[] medians = interleavedMedians(n, cases.stream().<Runnable>map(c -> () -> Generation.generate(d, c,
                    first, Set.of(), Generation.StopCheck.NEVER)).toArray(Runnable[]::new));
            double single = medians[0], shared = medians[1], separate = medians[2];
            System.out.printf("prefill of a %d-token prompt (median of %d): 1 sample %.2f ms; %d samples %.2f ms (%.2fx one,"
                    + " shared prefill); %d distinct prompts %.2f ms (%.2fx)%n", length, n, single * 1e3, prefillSamples,
                    shared * 1e3, shared / single, prefillSamples, separate * 1e3, separate / single);
            judgeOrders(d, prompt, n);
        }

        /** Comparisons in one judge call, each in both orders. */
        private static final int JUDGE_PAIRS = 8;
        /** Tokens of each response in a judged comparison. */
        private static final int RESPONSE_TOKENS = 16;

        /**
         * A judge's two presentation orders of {@value #JUDGE_PAIRS} comparisons (the prompt as their shared
         * instructions and context, then two responses one way and the other), read as whole prompts in one pass
         * ({@link SequenceScorer#nextTokenLogits}) and with each pair's shared prefix run once
         * ({@link SequenceScorer#nextTokenLogitsOfPairs}), interleaved.
         */
        private static void judgeOrders(Decoder d, int[] prompt, int n) {
            int V = d.config().vocabSize();
            if (prompt.length + 2 * RESPONSE_TOKENS > d.config().maxPositionEmbeddings()) {
                return;
            }
            List<int[]> orders = new ArrayList<>();
            for (int i = 0; i < JUDGE_PAIRS; i++) {
                int[] a = new int[RESPONSE_TOKENS], b = new int[RESPONSE_TOKENS];
                for (int t = 0; t < RESPONSE_TOKENS; t++) {
                    a[t] = (prompt[1 + t % Math.max(1, prompt.length - 1)] + 1 + i) % V;
                    b[t] = (a[t] + 1) % V;
                }
                orders.add(concat(prompt, a, b));
                orders.add(concat(prompt, b, a));
            }
            double[] medians = interleavedMedians(n, () -> SequenceScorer.nextTokenLogits(d, orders),
                    () -> SequenceScorer.nextTokenLogitsOfPairs(d, orders));
            double whole = medians[0], sharing = medians[1];
            System.out.printf("a judge's two orders of %d comparisons (a %d-token shared prefix, two %d-token responses"
                    + " each way; median of %d): whole prompts %.2f ms; shared prefix once %.2f ms (%.2fx)%n",
                    JUDGE_PAIRS, prompt.length, RESPONSE_TOKENS, n, whole * 1e3, sharing * 1e3, sharing / whole);
        }

        /**
         * Each case's median seconds over {@code n} timed rounds after three warm-up rounds, the cases run in turn
         * within each round so that a neighbour's load on this shared machine falls on all of them alike.
         */
        private static double[] interleavedMedians(int n, Runnable... cases) {
            double[][] seconds = new double[cases.length][n];
            for (int r = -3; r < n; r++) {
                for (int c = 0; c < cases.length; c++) {
                    long t0 = System.nanoTime();
                    cases[c].run();
                    if (r >= 0) {
                        seconds[c][r] = (System.nanoTime() - t0) / 1e9;
                    }
                }
            }
            double[] medians = new double[cases.length];
            for (int c = 0; c < cases.length; c++) {
                Arrays.sort(seconds[c]);
                medians[c] = seconds[c][n / 2];
            }
            return medians;
        }

        private static int[] concat(int[] prefix, int[] first, int[] second) {
            int[] out = Arrays.copyOf(prefix, prefix.length + first.length + second.length);
            System.arraycopy(first, 0, out, prefix.length, first.length);
            System.arraycopy(second, 0, out, prefix.length + first.length, second.length);
            return out;
        }

    }

    /** Optimizer-step time and model-FLOPs utilisation against the fp32 matmul rate measured in the same run. */
    @Command(name = "train", mixinStandardHelpOptions = true,
            description = "Training step time (forward, backward, clipping, AdamW) and model-FLOPs utilisation (MFU) "
                    + "against the fp32 matrix-multiply rate measured in the same process.")
    static final class Train implements Runnable {

        @Option(names = "--model", description = "model directory to benchmark; without it, two random models of about "
                + "1M and 4M parameters (vocabulary 512)")
        Path model;

        @Option(names = "--batch", defaultValue = "32", description = "sequences per step (default: ${DEFAULT-VALUE})")
        int batch;

        @Option(names = "--seq-len", defaultValue = "64", description = "tokens per sequence (default: ${DEFAULT-VALUE})")
        int seqLen;

        @Option(names = "--steps", defaultValue = "5", description = "timed steps after two warm-up steps (default: ${DEFAULT-VALUE})")
        int steps;

        @Option(names = "--threads", split = ",", description = "PyTorch intra-op thread counts to measure (default: 1 and all cores)")
        int[] threads;

        @picocli.CommandLine.Mixin
        PreferenceBench preference;

        @Override
        public void run() {
            if (preference.requested()) {
                Main.setTorchThreads(threads == null ? 1 : threads[0]);
                preference.run(model, batch, seqLen, steps);
                return;
            }
            if (!preference.placement.placement().equals(steer.model.Placement.CPU_F32)) {
                throw new IllegalArgumentException("--device and --precision apply to --objective dpo; the SFT"
                        + " utilisation benchmark measures against the CPU's float32 matmul rate");
            }
            int cores = Runtime.getRuntime().availableProcessors();
            int[] counts = threads != null ? threads : cores > 1 ? new int[] {1, cores} : new int[] {1};
            System.out.printf("machine: %d cores (%s %s), Java %s; batch %d x %d tokens%n", cores,
                    System.getProperty("os.name"), System.getProperty("os.arch"), System.getProperty("java.version"),
                    batch, seqLen);
            List<Map.Entry<String, steer.checkpoint.HfCheckpoint>> models = new ArrayList<>();
            if (model != null) {
                models.add(Map.entry(model.toString(), steer.checkpoint.HfCheckpoint.load(model)));
            } else {
                for (DecoderConfig c : List.of(
                        new DecoderConfig("llama", 512, 128, 352, 4, 4, 2, 1e-5, 10000, 256, true, false, 1, 2),
                        new DecoderConfig("llama", 512, 256, 688, 6, 8, 4, 1e-5, 10000, 256, true, false, 1, 2))) {
                    models.add(Map.entry("random width " + c.hiddenSize() + ", " + c.numLayers() + " layers",
                            new steer.checkpoint.HfCheckpoint(c, DecoderInit.defaults().tensors(c, 0))));
                }
            }
            for (int t : counts) {
                Main.setTorchThreads(t);
                double matmul = TrainingBenchmark.matmulGflops();
                System.out.printf("%nintra-op threads %d: fp32 matmul 2048^3 at %.1f GFLOP/s (median of 5)%n", t, matmul);
                for (Map.Entry<String, steer.checkpoint.HfCheckpoint> m : models) {
                    TrainingBenchmark.Result r = TrainingBenchmark.measure(m.getValue(), batch, seqLen, steps);
                    System.out.printf("  %-28s %,10d parameters: step %7.1f ms (median of %d), %6.1f GFLOP/s = %4.1f%% of matmul"
                            + " rate, %,.0f tokens/s%n", m.getKey(), r.parameters(), r.stepSeconds() * 1e3, steps,
                            r.gflops(), 100 * r.gflops() / matmul, batch * seqLen / r.stepSeconds());
                }
            }
        }
    }
}
