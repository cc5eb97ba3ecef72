package steer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HostTensor;

class DecoderTest {

    /** Arrays a decoder keeps beside its weights: cos and sin tables, rotate-half matrix, the two rotary head
     * factors and RMSNorm's epsilon. */
    private static final int CONSTANT_ARRAYS = 6;

    private static DecoderConfig config(String kind) {
        return TinyDecoders.byKind(kind);
    }

    /** Full forward over a sequence: logits [T, V] as Java floats. */
    private static float[] fullLogits(Decoder d, int[] seq) {
        try (NDManager m = d.manager().newSubManager()) {
            int t = seq.length;
            long[] ids = new long[t];
            long[] pos = new long[t];
            for (int i = 0; i < t; i++) {
                ids[i] = seq[i];
                pos[i] = i;
            }
            NDArray bias = Generation.causalBias(m, t).reshape(1, 1, t, t);
            NDArray h = d.hidden(m.create(ids, new Shape(1, t)), m.create(pos, new Shape(1, t)), bias, null);
            return d.logits(h).toFloatArray();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3"})
    void kvCacheDecodingEqualsFullRecomputation(String kind) {
        try (Decoder d = TinyDecoders.create(config(kind), 7)) {
            int[] seq = {1, 5, 9, 14, 3, 22, 41, 7, 7, 30, 11, 2};
            float[] full = fullLogits(d, seq);
            int V = d.config().vocabSize();
            float maxDiff = 0;
            try (NDManager m = d.manager().newSubManager()) {
                KvCache cache = d.newCache(m, 1, seq.length);
                // prefill the first 4 tokens, then one token at a time
                int prefill = 4;
                long[] ids = new long[prefill];
                long[] pos = new long[prefill];
                for (int i = 0; i < prefill; i++) {
                    ids[i] = seq[i];
                    pos[i] = i;
                }
                NDArray bias = Generation.causalBias(m, prefill).reshape(1, 1, prefill, prefill);
                float[] first = d.logits(d.hidden(m.create(ids, new Shape(1, prefill)), m.create(pos, new Shape(1, prefill)),
                        bias, cache)).toFloatArray();
                for (int i = 0; i < prefill * V; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(first[i] - full[i]));
                }
                for (int t = prefill; t < seq.length; t++) {
                    NDArray stepBias = m.zeros(new Shape(1, 1, 1, t + 1));
                    float[] step = d.logits(d.hidden(m.create(new long[] {seq[t]}, new Shape(1, 1)),
                            m.create(new long[] {t}, new Shape(1, 1)), stepBias, cache)).toFloatArray();
                    for (int v = 0; v < V; v++) {
                        maxDiff = Math.max(maxDiff, Math.abs(step[v] - full[t * V + v]));
                    }
                }
            }
            assertTrue(maxDiff < 1e-4, "max logit difference between cached and full forward: " + maxDiff);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3"})
    void batchedGenerationEqualsOneAtATime(String kind) {
        try (Decoder d = TinyDecoders.create(config(kind), 11)) {
            List<int[]> prompts = List.of(new int[] {1, 4}, new int[] {1, 8, 9, 10, 11, 12, 13}, new int[] {1},
                    new int[] {1, 30, 31, 32});
            for (SamplingParams params : List.of(SamplingParams.greedy(20), new SamplingParams(20, 0.9, 0.9, 20, 5))) {
                List<GeneratedSequence> batched = Generation.generate(d, prompts, params, Set.of(), Generation.StopCheck.NEVER);
                for (int b = 0; b < prompts.size(); b++) {
                    // stream b of the batch samples with (seed, b); alone it is stream 0, so give it a batch where it is b
                    List<int[]> alone = new ArrayList<>();
                    for (int i = 0; i <= b; i++) {
                        alone.add(prompts.get(b));
                    }
                    GeneratedSequence single = Generation.generate(d, alone, params, Set.of(), Generation.StopCheck.NEVER)
                            .get(b);
                    assertArrayEquals(single.tokenIds(), batched.get(b).tokenIds(), "prompt " + b + " " + params);
                    assertArrayEquals(single.logProbs(), batched.get(b).logProbs(), 1e-4f, "prompt " + b);
                }
            }
        }
    }

    @Test
    void generationStopsOnStopTokenAndStopCheck() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.llama(), 3)) {
            List<int[]> prompts = List.of(new int[] {1, 2, 3});
            GeneratedSequence free = Generation.generate(d, prompts, SamplingParams.greedy(10), Set.of(),
                    Generation.StopCheck.NEVER).get(0);
            assertEquals(GeneratedSequence.FinishReason.LENGTH, free.finishReason());
            int third = free.tokenIds()[2];
            GeneratedSequence stopped = Generation.generate(d, prompts, SamplingParams.greedy(10), Set.of(third),
                    Generation.StopCheck.NEVER).get(0);
            int firstHit = 0;
            while (free.tokenIds()[firstHit] != third) {
                firstHit++;
            }
            assertEquals(firstHit + 1, stopped.tokenIds().length);
            assertEquals(GeneratedSequence.FinishReason.STOP_TOKEN, stopped.finishReason());
            GeneratedSequence checked = Generation.generate(d, prompts, SamplingParams.greedy(10), Set.of(),
                    (stream, tokens, count) -> count == 4).get(0);
            assertEquals(4, checked.tokenIds().length);
            assertEquals(GeneratedSequence.FinishReason.STOP_CHECK, checked.finishReason());
        }
    }

    @Test
    void sameSeedSameSamplesOtherSeedOtherSamples() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.llama(), 5)) {
            List<int[]> prompts = List.of(new int[] {1, 6}, new int[] {1, 6});
            SamplingParams p = new SamplingParams(30, 1.0, 1.0, 0, 42);
            List<GeneratedSequence> a = Generation.generate(d, prompts, p, Set.of(), Generation.StopCheck.NEVER);
            List<GeneratedSequence> b = Generation.generate(d, prompts, p, Set.of(), Generation.StopCheck.NEVER);
            assertArrayEquals(a.get(0).tokenIds(), b.get(0).tokenIds());
            assertArrayEquals(a.get(1).tokenIds(), b.get(1).tokenIds());
            assertTrue(!java.util.Arrays.equals(a.get(0).tokenIds(), a.get(1).tokenIds()),
                    "two streams of one batch should draw differently");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3"})
    void responseLogProbSumEqualsStepwiseLogSoftmax(String kind) {
        try (Decoder d = TinyDecoders.create(config(kind), 13)) {
            List<int[]> prompts = List.of(new int[] {1, 3, 4}, new int[] {1, 9, 8, 7, 6, 5});
            List<int[]> responses = List.of(new int[] {10, 11, 12, 13, 2}, new int[] {20});
            List<ResponseLogProbs> scored = SequenceScorer.scoreToJava(d, prompts, responses);
            for (int b = 0; b < prompts.size(); b++) {
                int[] p = prompts.get(b), r = responses.get(b);
                int[] seq = new int[p.length + r.length];
                System.arraycopy(p, 0, seq, 0, p.length);
                System.arraycopy(r, 0, seq, p.length, r.length);
                float[] full = fullLogits(d, seq);
                int V = d.config().vocabSize();
                double sum = 0;
                for (int i = 0; i < r.length; i++) {
                    float lp = Sampler.logProb(full, (p.length - 1 + i) * V, V, r[i]);
                    assertEquals(lp, scored.get(b).perToken()[i], 1e-4, "token " + i + " of response " + b);
                    sum += lp;
                }
                assertEquals(sum, scored.get(b).sum(), 1e-4);
                assertEquals(sum / r.length, scored.get(b).mean(), 1e-4);
            }
        }
    }

    @Test
    void generatedLogProbsMatchScoring() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.qwen2(), 17)) {
            int[] prompt = {1, 12, 13};
            GeneratedSequence g = Generation.generate(d, List.of(prompt), new SamplingParams(15, 0.8, 0.95, 0, 3),
                    Set.of(), Generation.StopCheck.NEVER).get(0);
            ResponseLogProbs s = SequenceScorer.scoreToJava(d, List.of(prompt), List.of(g.tokenIds())).get(0);
            assertArrayEquals(g.logProbs(), s.perToken(), 1e-4f);
        }
    }

    @Test
    void hostTensorRoundTripIsExact() {
        for (DecoderConfig c : List.of(TinyDecoders.llama(), TinyDecoders.qwen2(), TinyDecoders.qwen3())) {
            Map<String, HostTensor> in = TinyDecoders.tensors(c, 23);
            try (Decoder d = Decoder.fromHostTensors(c, in, NDManager.newBaseManager())) {
                Map<String, HostTensor> out = d.toHostTensors();
                assertEquals(in.keySet(), out.keySet());
                for (String name : in.keySet()) {
                    assertArrayEquals(in.get(name).shape(), out.get(name).shape(), name);
                    assertArrayEquals(in.get(name).data(), out.get(name).data(), 0f, name);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3"})
    void float64DecoderComputesTheSameFunctionAndSavesFloat32(String kind) {
        DecoderConfig c = config(kind);
        Map<String, HostTensor> in = TinyDecoders.tensors(c, 31);
        List<int[]> prompts = List.of(new int[] {1, 3, 4}, new int[] {1, 9});
        List<int[]> responses = List.of(new int[] {10, 11, 2}, new int[] {20, 21, 22, 23});
        try (Decoder single = Decoder.fromHostTensors(c, in, NDManager.newBaseManager());
             Decoder wide = Decoder.fromHostTensors(c, in, NDManager.newBaseManager(), DataType.FLOAT64)) {
            assertEquals(DataType.FLOAT64, wide.dtype());
            for (NDArray a : wide.manager().getManagedArrays().stream().map(NDArray.class::cast).toList()) {
                assertEquals(DataType.FLOAT64, a.getDataType(), "weights and constants: " + a.getShape());
            }
            assertEquals(wide.parameters().size() + CONSTANT_ARRAYS, wide.manager().getManagedArrays().size());
            List<ResponseLogProbs> expected = SequenceScorer.scoreToJava(single, prompts, responses);
            List<ResponseLogProbs> actual = SequenceScorer.scoreToJava(wide, prompts, responses);
            for (int b = 0; b < prompts.size(); b++) {
                assertArrayEquals(expected.get(b).perToken(), actual.get(b).perToken(), 1e-4f, "response " + b);
            }
            try (NDManager m = wide.manager().newSubManager()) {
                SequenceScorer.Batch batch = SequenceScorer.score(wide, m, prompts, responses);
                assertEquals(DataType.FLOAT64, batch.mask().getDataType());
                assertArrayEquals(new double[] {actual.get(0).mean(), actual.get(1).mean()}, batch.mean().toDoubleArray(),
                        1e-6);
            }
            Map<String, HostTensor> out = wide.toHostTensors();
            assertEquals(in.keySet(), out.keySet());
            for (String name : in.keySet()) {
                assertArrayEquals(in.get(name).data(), out.get(name).data(), 0f, name);
            }
            assertThrows(IllegalArgumentException.class, () -> Generation.generate(wide, prompts,
                    SamplingParams.greedy(3), Set.of(), Generation.StopCheck.NEVER));
        }
    }

    @Test
    void concurrentCallersShareOneModelAndGetTheSequentialResults() throws Exception {
        try (Decoder d = TinyDecoders.create(TinyDecoders.qwen2(), 29)) {
            List<List<int[]>> jobs = new ArrayList<>();
            for (int j = 0; j < 6; j++) {
                List<int[]> prompts = new ArrayList<>();
                for (int b = 0; b < 1 + 9 * (j % 2); b++) { // alternate single streams and batches that split
                    prompts.add(new int[] {1, 3 + j, 4 + b});
                }
                jobs.add(prompts);
            }
            SamplingParams params = new SamplingParams(25, 0.9, 0.95, 0, 77);
            List<List<GeneratedSequence>> sequential = new ArrayList<>();
            for (List<int[]> job : jobs) {
                sequential.add(Generation.generate(d, job, params, Set.of(), Generation.StopCheck.NEVER));
            }
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
            try {
                List<java.util.concurrent.Future<List<GeneratedSequence>>> futures = new ArrayList<>();
                for (List<int[]> job : jobs) {
                    futures.add(pool.submit(() -> Generation.generate(d, job, params, Set.of(), Generation.StopCheck.NEVER)));
                }
                for (int j = 0; j < jobs.size(); j++) {
                    List<GeneratedSequence> got = futures.get(j).get();
                    for (int b = 0; b < got.size(); b++) {
                        assertArrayEquals(sequential.get(j).get(b).tokenIds(), got.get(b).tokenIds(), "job " + j + " stream " + b);
                    }
                }
            } finally {
                pool.shutdown();
            }
            assertEquals(d.parameters().size() + CONSTANT_ARRAYS, d.manager().getManagedArrays().size(),
                    "only weights and constant tables live on the model manager");
        }
    }

    @Test
    void nextTokenLogitsMatchTheFullForwardOfEachPromptAlone() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.qwen2(), 31)) {
            List<int[]> prompts = List.of(new int[] {1, 5, 6, 7, 8}, new int[] {1, 9}, new int[] {1, 3, 4});
            float[][] got = SequenceScorer.nextTokenLogits(d, prompts);
            int V = d.config().vocabSize();
            for (int b = 0; b < prompts.size(); b++) {
                float[] full = fullLogits(d, prompts.get(b));
                float[] last = java.util.Arrays.copyOfRange(full, (prompts.get(b).length - 1) * V, prompts.get(b).length * V);
                assertArrayEquals(last, got[b], 1e-4f, "prompt " + b);
            }
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"llama", "qwen2", "qwen3"})
    void pairsSharingAPrefixGetTheLogitsOfSeparatePrompts(String kind) {
        try (Decoder d = TinyDecoders.create(TinyDecoders.byKind(kind), 37)) {
            // a judge's two orders (shared instructions and context, then the responses both ways), pairs whose
            // common part differs in length, a pair of one prompt twice (all but its last token shared) and a
            // pair that shares only its first token
            List<int[]> prompts = List.of(
                    new int[] {1, 5, 6, 7, 20, 21, 22, 30, 31, 9}, new int[] {1, 5, 6, 7, 30, 31, 20, 21, 22, 9},
                    new int[] {1, 11, 40, 41}, new int[] {1, 11, 42, 43, 44, 45, 46},
                    new int[] {1, 2, 3}, new int[] {1, 2, 3},
                    new int[] {1, 45}, new int[] {1, 46, 47, 48, 49});
            float[][] shared = SequenceScorer.nextTokenLogitsOfPairs(d, prompts);
            float[][] separate = SequenceScorer.nextTokenLogits(d, prompts);
            for (int b = 0; b < prompts.size(); b++) {
                assertArrayEquals(separate[b], shared[b], 1e-4f, kind + " prompt " + b);
            }
            IllegalArgumentException odd = assertThrows(IllegalArgumentException.class,
                    () -> SequenceScorer.nextTokenLogitsOfPairs(d, List.of(new int[] {1})));
            assertTrue(odd.getMessage().contains("even"), odd.getMessage());
        }
    }

    @Test
    void overlongPromptIsRejectedWithNumbers() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.llama(), 1)) {
            int[] prompt = new int[60];
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Generation.generate(d,
                    List.of(prompt), SamplingParams.greedy(10), Set.of(), Generation.StopCheck.NEVER));
            assertTrue(e.getMessage().contains("60 tokens") && e.getMessage().contains("64 positions"), e.getMessage());
        }
    }

    @Test
    void liveNativeArraysStayFlatOverLongGenerationAndManyForwards() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.llama(), 19)) {
            List<int[]> prompts = List.of(new int[] {1, 2}, new int[] {1, 5, 6});
            Generation.generate(d, prompts, SamplingParams.greedy(5), Set.of(), Generation.StopCheck.NEVER); // warm-up
            int before = d.manager().getManagedArrays().size();
            assertEquals(d.parameters().size() + CONSTANT_ARRAYS, before, "weights plus the constant tables");
            int tokens = 0;
            while (tokens < 5000) {
                Generation.generate(d, prompts, new SamplingParams(60, 1.0, 0.9, 0, tokens), Set.of(),
                        Generation.StopCheck.NEVER);
                tokens += 2 * 60;
            }
            for (int i = 0; i < 1000; i++) {
                SequenceScorer.scoreToJava(d, List.of(new int[] {1, 3}), List.of(new int[] {4, 5, 6}));
            }
            assertEquals(before, d.manager().getManagedArrays().size(), "live arrays under the model manager");
        }
    }
}
