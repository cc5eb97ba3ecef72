package steer.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import steer.checkpoint.DecoderConfig;

/**
 * Scoring memory and time, plain path (log-softmax of every position) against the chunked one, at Qwen2's
 * vocabulary of 151,936 on a decoder of width 16 (so the head's logits dominate): B = 4 pairs of 128 prompt
 * and 128 response tokens (L = 256), without gradients (reference scoring, judges) and with a backward pass
 * (a training step's scoring). Peak resident memory is VmHWM, reset before each measurement through
 * /proc/self/clear_refs. Run: {@code ./mvnw -o -B -pl steer-lib test -Dtest=ScoringBenchmark -Dsteer.bench=true}.
 */
@EnabledIfSystemProperty(named = "steer.bench", matches = "true")
class ScoringBenchmark {

    @Test
    void printFigures() throws IOException {
        DecoderConfig c = new DecoderConfig("qwen2", 151_936, 16, 40, 2, 4, 2, 1e-6, 1_000_000, 512, false, true, 1, 2);
        int B = 4, prompt = 128, response = 128;
        Random r = new Random(0);
        List<int[]> prompts = new ArrayList<>(), responses = new ArrayList<>();
        for (int b = 0; b < B; b++) {
            prompts.add(r.ints(prompt, 0, c.vocabSize()).toArray());
            responses.add(r.ints(response, 0, c.vocabSize()).toArray());
        }
        try (Decoder d = TinyDecoders.create(c, 1)) {
            System.out.printf("B=%d, L=%d, V=%,d, default chunk %d positions; resident before: %,d MB%n", B,
                    prompt + response, c.vocabSize(), SequenceScorer.defaultChunk(c.vocabSize()), peakMb());
            for (boolean train : new boolean[] {false, true}) {
                for (int chunk : new int[] {SequenceScorer.defaultChunk(c.vocabSize()), SequenceScorer.PLAIN}) {
                    run(d, prompts, responses, chunk, train);   // warm-up
                    resetPeak();
                    long t0 = System.nanoTime();
                    int repeats = 3;
                    for (int i = 0; i < repeats; i++) {
                        run(d, prompts, responses, chunk, train);
                    }
                    double ms = (System.nanoTime() - t0) / 1e6 / repeats;
                    System.out.printf("%-8s %-22s %8.0f ms   peak resident %,6d MB%n", train ? "backward" : "no-grad",
                            chunk == SequenceScorer.PLAIN ? "plain" : "chunked (" + chunk + ")", ms, peakMb());
                }
            }
        }
    }

    private static void run(Decoder d, List<int[]> prompts, List<int[]> responses, int chunk, boolean train) {
        if (train) {
            for (Map.Entry<String, NDArray> p : d.parameters()) {
                p.getValue().setRequiresGradient(true);
            }
            try (NDManager step = d.manager().newSubManager();
                 GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                collector.backward(SequenceScorer.score(d, step, prompts, responses, chunk).sum().sum());
            }
            return;
        }
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager step = d.manager().newSubManager()) {
            SequenceScorer.score(d, step, prompts, responses, chunk).sum().toFloatArray();
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    private static void resetPeak() throws IOException {
        Files.writeString(Path.of("/proc/self/clear_refs"), "5");
    }

    private static long peakMb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("\\D", "")) / 1024;
            }
        }
        return -1;
    }
}
