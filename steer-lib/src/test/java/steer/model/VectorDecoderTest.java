package steer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.Llama2cCheckpoint;
import steer.checkpoint.LoraConfig;

/**
 * The vector engine computes the DJL decoder's function: the same next-token log-probs to float32 rounding, and
 * the same greedy and seeded tokens, on the real stories260K and on the Llama, Qwen2 and Qwen3 shapes; a sequence
 * gets the same bits in any batch; shared prefill gives what separate prefills give.
 */
class VectorDecoderTest {

    private static final double LOG_PROB_TOLERANCE = 2e-4;

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3"})
    void greedyTokensAndTheirLogProbsMatchDjl(String kind) {
        try (Decoder d = TinyDecoders.create(TinyDecoders.byKind(kind), 11)) {
            List<int[]> prompts = prompts(6, 40);
            SamplingParams greedy = SamplingParams.greedy(12);
            List<GeneratedSequence> djl = generate(d, prompts, greedy, Generation.Engine.DJL);
            List<GeneratedSequence> vec = generate(d, prompts, greedy, Generation.Engine.VECTOR);
            assertSame(djl, vec, kind);
        }
    }

    /** Head width 8 with groups of 1, 2 and 3 query heads per key/value head: the paired and the single-head loops. */
    @ParameterizedTest
    @CsvSource({"16, 2, 2", "32, 4, 2", "24, 3, 1", "64, 8, 2"})
    void eachAttentionLoopMatchesDjl(int hidden, int heads, int kvHeads) {
        DecoderConfig c = new DecoderConfig("llama", 50, hidden, 40, 2, heads, kvHeads, 1e-5, 10000, 96, true, false,
                1, 2);
        try (Decoder d = TinyDecoders.create(c, 13)) {
            List<int[]> prompts = prompts(5, 40);
            SamplingParams seeded = new SamplingParams(40, 1.0, 1.0, 0, 3);
            assertSame(generate(d, prompts, seeded, Generation.Engine.DJL),
                    generate(d, prompts, seeded, Generation.Engine.VECTOR), heads + " heads over " + kvHeads);
        }
    }

    @Test
    void stories260kGreedyAndSeededTokensMatchDjl() {
        HfCheckpoint checkpoint = Llama2cCheckpoint.load(stories260k());
        try (Decoder d = Decoder.fromHostTensors(checkpoint.config(), checkpoint.tensors(), NDManager.newBaseManager())) {
            List<int[]> prompts = prompts(16, 500);
            for (SamplingParams params : List.of(SamplingParams.greedy(64), new SamplingParams(64, 0.9, 0.95, 40, 7))) {
                List<GeneratedSequence> djl = generate(d, prompts, params, Generation.Engine.DJL);
                List<GeneratedSequence> vec = generate(d, prompts, params, Generation.Engine.VECTOR);
                assertSame(djl, vec, "stories260K " + params);
            }
        }
    }

    @Test
    void aSequenceGetsTheSameBitsAloneAndInABatchWithSharedPrefill() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.llama(), 3)) {
            List<int[]> mixed = prompts(5, 40);
            int[] repeated = mixed.get(2);
            mixed.add(repeated);            // a prompt twice: prefilled once, its row copied
            mixed.add(repeated);
            SamplingParams greedy = SamplingParams.greedy(15);
            List<GeneratedSequence> together = generate(d, mixed, greedy, Generation.Engine.VECTOR);
            for (int i = 0; i < mixed.size(); i++) {
                GeneratedSequence alone = generate(d, List.of(mixed.get(i)), greedy, Generation.Engine.VECTOR).get(0);
                assertArrayEquals(alone.tokenIds(), together.get(i).tokenIds(), "stream " + i);
                assertArrayEquals(alone.logProbs(), together.get(i).logProbs(), "stream " + i + ": bit for bit");
            }
            assertArrayEquals(together.get(2).logProbs(), together.get(mixed.size() - 1).logProbs());
        }
    }

    /** Groups taking turns of a few steps give each stream the bits of one group of all, stop rules included. */
    @Test
    void groupsTakingTurnsGiveTheBitsOfOneGroup() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.llama(), 7)) {
            VectorDecoder v = d.vectorDecoder();
            List<int[]> prompts = prompts(7, 40);
            prompts.add(prompts.get(1));            // shared prefill across two groups
            prompts.add(prompts.get(1));
            Set<Integer> stop = Set.of(17, 23);
            Generation.StopCheck atNine = (stream, ids, length) -> stream % 3 == 0 && length == 9;
            for (SamplingParams params : List.of(SamplingParams.greedy(20), new SamplingParams(20, 1.0, 0.9, 0, 5))) {
                List<GeneratedSequence> one = VectorGeneration.generatePart(v, prompts, 0, params, stop, atNine, 40,
                        new VectorGeneration.Schedule(prompts.size(), 1));
                assertSame(Generation.generate(d, prompts, params, stop, atNine, 40, Generation.Engine.DJL), one,
                        "one group against DJL");
                for (VectorGeneration.Schedule s : List.of(new VectorGeneration.Schedule(2, 3),
                        new VectorGeneration.Schedule(4, 32), new VectorGeneration.Schedule(1, 1))) {
                    List<GeneratedSequence> grouped = VectorGeneration.generatePart(v, prompts, 0, params, stop,
                            atNine, 40, s);
                    for (int i = 0; i < prompts.size(); i++) {
                        String what = s + ", " + params + ", stream " + i;
                        assertArrayEquals(one.get(i).tokenIds(), grouped.get(i).tokenIds(), what);
                        assertArrayEquals(one.get(i).logProbs(), grouped.get(i).logProbs(), what);
                        assertEquals(one.get(i).finishReason(), grouped.get(i).finishReason(), what);
                    }
                }
                assertTrue(one.stream().map(GeneratedSequence::finishReason).distinct().count() >= 2,
                        "the streams end for different reasons: " + params);
            }
        }
    }

    @Test
    void theScheduleGroupsInMultiplesOfFourThatFitL2WhereAGroupOfFourFitsTheCacheBudget() {
        DecoderConfig small = new DecoderConfig("llama", 512, 64, 172, 5, 8, 4, 1e-5, 10000, 512, true, false, 1,
                2);   // stories260K's shape: 1,280 bytes of keys and values per position
        long mib = 1L << 20;
        assertEquals(new VectorGeneration.Schedule(4, VectorGeneration.DEFAULT_BLOCK_STEPS),
                VectorGeneration.schedule(small, 32, 257, 2 * mib), "6 of 329 KiB fit 2 MiB: groups of 4");
        assertEquals(4, VectorGeneration.schedule(small, 32, 257, mib).group(), "3 fit 1 MiB: still groups of 4");
        assertEquals(8, VectorGeneration.schedule(small, 32, 257, 3 * mib).group(), "9 fit 3 MiB: groups of 8");
        assertEquals(12, VectorGeneration.schedule(small, 32, 257, 64 * mib).group(), "no more than 4 MiB holds");
        assertEquals(32, VectorGeneration.schedule(small, 32, 1024, 2 * mib).group(), "3 streams fit: one group");
        assertEquals(8, VectorGeneration.schedule(small, 8, 257, 2 * mib).group(), "all fit: one group");
        assertEquals(2048L << 10, VectorGeneration.parseCacheSize("2048K"));
        assertEquals(mib, VectorGeneration.parseCacheSize("1M"));
        assertTrue(VectorGeneration.l2CacheBytes() >= 64 << 10, "an L2 of " + VectorGeneration.l2CacheBytes());
        DecoderConfig stories15m = new DecoderConfig("llama", 32000, 288, 768, 6, 6, 6, 1e-5, 10000, 256, true,
                false, 1, 2);
        assertEquals(64, VectorGeneration.schedule(stories15m, 64, 257).group());
        String before = System.getProperty(VectorGeneration.GROUP_PROPERTY);
        try {
            System.setProperty(VectorGeneration.GROUP_PROPERTY, "5");
            assertEquals(5, VectorGeneration.schedule(stories15m, 64, 257).group(), "the property overrides");
            System.setProperty(VectorGeneration.GROUP_PROPERTY, "0");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> VectorGeneration.schedule(small, 32, 257));
            assertTrue(e.getMessage().contains(VectorGeneration.GROUP_PROPERTY + "=0"), e.getMessage());
        } finally {
            if (before == null) {
                System.clearProperty(VectorGeneration.GROUP_PROPERTY);
            } else {
                System.setProperty(VectorGeneration.GROUP_PROPERTY, before);
            }
        }
    }

    @Test
    void generatesFromTheWeightsAnOptimizerUpdatedInPlace() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.llama(), 5)) {
            List<int[]> prompts = prompts(3, 40);
            SamplingParams greedy = SamplingParams.greedy(6);
            List<GeneratedSequence> before = generate(d, prompts, greedy, Generation.Engine.VECTOR);
            for (var p : d.parameters()) {     // what AdamW does: the arrays change in place
                if (p.getKey().endsWith("wqkv") || p.getKey().equals("final_norm")) {
                    p.getValue().muli(1.5f);
                }
            }
            List<GeneratedSequence> djl = generate(d, prompts, greedy, Generation.Engine.DJL);
            List<GeneratedSequence> vec = generate(d, prompts, greedy, Generation.Engine.VECTOR);
            assertSame(djl, vec, "after the update");
            assertTrue(before.get(0).logProbs()[0] != vec.get(0).logProbs()[0], "the update changed the model");
        }
    }

    @Test
    void refusesAnAdapterWithAClearError() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.llama(), 3);
             Decoder adapted = d.withAdapter(LoraAdapter.initialise(d.config(), new LoraConfig(4, 8,
                     Set.of(LoraConfig.Target.Q), 0, null), 1, NDManager.newBaseManager(), d.dtype()))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> generate(adapted, prompts(1, 40), SamplingParams.greedy(2), Generation.Engine.VECTOR));
            assertTrue(e.getMessage().contains("LoRA"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Generation.Engine.parse("cuda", "--engine"));
    }

    private static void assertSame(List<GeneratedSequence> djl, List<GeneratedSequence> vec, String what) {
        assertEquals(djl.size(), vec.size());
        for (int i = 0; i < djl.size(); i++) {
            assertArrayEquals(djl.get(i).tokenIds(), vec.get(i).tokenIds(), what + ", stream " + i);
            assertEquals(djl.get(i).finishReason(), vec.get(i).finishReason(), what + ", stream " + i);
            float[] a = djl.get(i).logProbs(), b = vec.get(i).logProbs();
            for (int t = 0; t < a.length; t++) {
                assertEquals(a[t], b[t], LOG_PROB_TOLERANCE, what + ", stream " + i + ", token " + t);
            }
        }
    }

    private static List<GeneratedSequence> generate(Decoder d, List<int[]> prompts, SamplingParams params,
                                                    Generation.Engine engine) {
        return Generation.generate(d, prompts, params, Set.of(), Generation.StopCheck.NEVER, d.config().vocabSize(),
                engine);
    }

    /** {@code n} prompts of 1 to 7 tokens, ids in [1, vocab). */
    private static List<int[]> prompts(int n, int vocab) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] p = new int[1 + i * 3 % 7];
            p[0] = 1;
            for (int j = 1; j < p.length; j++) {
                p[j] = 1 + (i * 37 + j * 11) % (vocab - 1);
            }
            out.add(p);
        }
        return out;
    }

    private static Path stories260k() {
        String dir = System.getProperty("steer.stories260k.dir");
        Assumptions.assumeTrue(dir != null, "steer.stories260k.dir not set");
        Path file = Path.of(dir, "stories260K.bin");
        Assumptions.assumeTrue(Files.isRegularFile(file), "no " + file);
        return file;
    }
}
