package steer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import steer.checkpoint.DecoderConfig;

/**
 * The chunked scoring path (log-probs at response positions only, target logit minus logsumexp, a chunk of
 * positions at a time) against the plain one (full-vocabulary log-softmax of every position, then a gather):
 * per-token log-probs, sums, means and gradients with respect to every parameter agree within 1e-4, for chunks
 * of one position, a few, and more than the sequence, on a small vocabulary and on one of 50,000.
 */
class SequenceScorerTest {

    private static final double TOLERANCE = 1e-4;
    /** Chunk sizes to check: one position, sizes that split rows unevenly, more than the whole batch holds. */
    private static final int[] CHUNKS = {1, 2, 3, 7, 1000};

    // B = 3 of different lengths (right padding), one with an empty response, one with a one-token prompt
    private static final List<int[]> PROMPTS = List.of(new int[] {1, 5, 7, 9}, new int[] {1}, new int[] {1, 8});
    private static final List<int[]> RESPONSES = List.of(new int[] {3, 4, 2}, new int[] {6, 11, 12, 13, 2},
            new int[0]);

    /** Qwen2-style with a vocabulary of 50,000: chunks then split a real amount of work. */
    private static DecoderConfig largeVocabulary() {
        return new DecoderConfig("qwen2", 50_000, 16, 40, 2, 4, 2, 1e-6, 1_000_000, 64, false, true, 1, 2);
    }

    @Test
    void logProbsMatchThePlainPathOnSmallVocabularies() {
        for (DecoderConfig c : List.of(TinyDecoders.llama(), TinyDecoders.qwen2())) {
            try (Decoder d = TinyDecoders.create(c, 7)) {
                assertSameLogProbs(d, PROMPTS, RESPONSES);
            }
        }
    }

    @Test
    void logProbsMatchThePlainPathOnALargeVocabulary() {
        try (Decoder d = TinyDecoders.create(largeVocabulary(), 11)) {
            List<int[]> responses = List.of(new int[] {49_999, 3, 31_000, 2}, new int[] {6, 40_123, 12, 13, 2},
                    new int[] {25_000});
            assertSameLogProbs(d, PROMPTS, responses);
            assertTrue(SequenceScorer.defaultChunk(151_936) * 151_936L * 4 <= SequenceScorer.CHUNK_BYTES);
            assertEquals(110, SequenceScorer.defaultChunk(151_936));
        }
    }

    @Test
    void gradientsMatchThePlainPath() {
        DecoderConfig small = new DecoderConfig("qwen2", 20, 16, 24, 2, 2, 2, 1e-6, 1_000_000, 32, false, true, 1, 2);
        DecoderConfig tied = new DecoderConfig("llama", 20, 16, 24, 2, 2, 1, 1e-5, 10000, 32, true, false, 1, 2);
        for (DecoderConfig c : List.of(small, tied)) {
            try (Decoder d = GradientCheck.decoder(c, 3)) {
                assertSameGradients(d, PROMPTS, List.of(new int[] {3, 4, 2}, new int[] {6, 11, 12, 13, 2}, new int[0]));
            }
        }
        // float32 at the large vocabulary, where the logsumexp runs over 50,000 logits per position
        try (Decoder d = TinyDecoders.create(largeVocabulary(), 5)) {
            assertSameGradients(d, PROMPTS, List.of(new int[] {49_999, 3, 2}, new int[] {6, 40_123, 12, 2},
                    new int[] {25_000}));
        }
    }

    @Test
    void promptTokensNeverCountAndPaddingIsAsAlone() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.qwen2(), 13);
             NDManager m = d.manager().newSubManager()) {
            SequenceScorer.Batch batch = SequenceScorer.score(d, m, PROMPTS, RESPONSES, 2);
            float[] lp = batch.tokenLogProbs().toFloatArray();
            float[] mask = batch.mask().toFloatArray();
            int width = (int) batch.tokenLogProbs().getShape().get(1);
            for (int b = 0; b < PROMPTS.size(); b++) {
                int p = PROMPTS.get(b).length, r = RESPONSES.get(b).length;
                for (int t = 0; t < width; t++) {
                    boolean response = t + 1 >= p && t + 1 < p + r;
                    assertEquals(response ? 1f : 0f, mask[b * width + t], "mask " + b + "," + t);
                    if (!response) {
                        assertEquals(0f, lp[b * width + t], "row " + b + " position " + t + " is not a response token");
                    } else {
                        assertTrue(lp[b * width + t] < 0, "a log-prob is negative");
                    }
                }
                // each pair scored alone (no padding, other lengths) gives the same log-probs
                SequenceScorer.Batch alone = SequenceScorer.score(d, m, List.of(PROMPTS.get(b)), List.of(RESPONSES.get(b)), 2);
                assertEquals(batch.sum().toFloatArray()[b], alone.sum().getFloat(), 1e-5f, "row " + b);
            }
            assertArrayEquals(new float[] {3, 5, 0}, batch.lengths().toFloatArray());
            assertEquals(0f, batch.mean().toFloatArray()[2], "an empty response's mean is 0");
            assertThrows(IllegalArgumentException.class, () -> SequenceScorer.score(d, m, PROMPTS, RESPONSES, -1));
        }
    }

    private static void assertSameLogProbs(Decoder d, List<int[]> prompts, List<int[]> responses) {
        try (NDManager m = d.manager().newSubManager()) {
            SequenceScorer.Batch plain = SequenceScorer.score(d, m, prompts, responses, SequenceScorer.PLAIN);
            List<Integer> chunks = new ArrayList<>();
            for (int c : CHUNKS) {
                chunks.add(c);
            }
            chunks.add(SequenceScorer.defaultChunk(d.config().vocabSize()));
            for (int c : chunks) {
                SequenceScorer.Batch chunked = SequenceScorer.score(d, m, prompts, responses, c);
                assertEquals(plain.tokenLogProbs().getShape(), chunked.tokenLogProbs().getShape());
                assertClose(doubles(plain.tokenLogProbs()), doubles(chunked.tokenLogProbs()),
                        "per-token log-probs, chunk " + c);
                assertClose(doubles(plain.sum()), doubles(chunked.sum()), "sums, chunk " + c);
                assertClose(doubles(plain.mean()), doubles(chunked.mean()), "means, chunk " + c);
                assertArrayEquals(doubles(plain.mask()), doubles(chunked.mask()));
            }
        }
    }

    /** Gradients of Σ w_bt·log π_bt + Σ mean_b (distinct weights per token) under each path, every parameter. */
    private static void assertSameGradients(Decoder d, List<int[]> prompts, List<int[]> responses) {
        for (Map.Entry<String, NDArray> p : d.parameters()) {
            p.getValue().setRequiresGradient(true);
        }
        List<double[]> plain = gradients(d, prompts, responses, SequenceScorer.PLAIN);
        double largest = 0;
        for (double[] g : plain) {
            for (double v : g) {
                largest = Math.max(largest, Math.abs(v));
            }
        }
        assertTrue(largest > 1e-3, "the gradients are not all near zero: " + largest);
        for (int c : new int[] {1, 3, 1000}) {
            List<double[]> chunked = gradients(d, prompts, responses, c);
            for (int i = 0; i < plain.size(); i++) {
                assertClose(plain.get(i), chunked.get(i), "gradient of " + d.parameters().get(i).getKey() + ", chunk " + c);
            }
        }
    }

    private static List<double[]> gradients(Decoder d, List<int[]> prompts, List<int[]> responses, int chunk) {
        List<double[]> out = new ArrayList<>();
        try (NDManager step = d.manager().newSubManager()) {
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                SequenceScorer.Batch batch = SequenceScorer.score(d, step, prompts, responses, chunk);
                NDArray lp = batch.tokenLogProbs();
                NDArray w = step.arange(1f, 1f + lp.size()).reshape(lp.getShape()).div(lp.size()).toType(lp.getDataType(), false);
                collector.backward(lp.mul(w).sum().add(batch.mean().sum()));
            }
            for (Map.Entry<String, NDArray> p : d.parameters()) {
                NDArray g = p.getValue().getGradient();
                g.attach(step);
                out.add(g.toType(DataType.FLOAT64, false).toDoubleArray());
                g.subi(g);   // DJL accumulates gradients across collectors
            }
        }
        return out;
    }

    private static double[] doubles(NDArray a) {
        return a.toType(DataType.FLOAT64, false).toDoubleArray();
    }

    private static void assertClose(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], TOLERANCE, what + " at " + i);
        }
    }
}
