package steer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HostTensor;
import steer.tokenizer.Tokenizer;
import steer.tokenizer.WordLevelTokenizerWriter;

/**
 * The model configurations beyond Llama 2 / Qwen2: Llama 3's RoPE scaling, Qwen3's q/k norms and own head width,
 * EOS lists, and embeddings larger than the tokenizer.
 */
@SuppressWarnings("checkstyle:LocalVariableName") // dimension letters as in Decoder
class ModelConfigsTest {

    @TempDir
    Path dir;

    // ---- Llama 3 RoPE scaling ----

    @Test
    void llama3InverseFrequenciesMatchTheFormulaWorkedByHand() {
        // head_dim 8, theta 10000: ω_i = 10000^(−2i/8) = 1, 0.1, 0.01, 0.001; wavelength λ_i = 2π/ω_i =
        // 6.283185, 62.83185, 628.3185, 6283.185. factor 8, low 1, high 4.
        //
        // original L = 16: keep below L/high = 4, divide above L/low = 16.
        //   i=0: 4 ≤ 6.283 ≤ 16, smoothed: s = (16/6.283185 − 1)/(4 − 1) = (2.546479 − 1)/3 = 0.5154930;
        //        ω' = (1 − s)·1/8 + s·1 = 0.4845070/8 + 0.5154930 = 0.0605634 + 0.5154930 = 0.5760564
        //   i=1..3: λ > 16, ω/8 = 0.0125, 0.00125, 0.000125
        double[] l16 = Decoder.inverseFrequencies(8, 10000, new DecoderConfig.RopeScaling(8, 1, 4, 16));
        assertArrayEquals(new double[] {0.5760564, 0.0125, 0.00125, 0.000125}, l16, 1e-6);
        //
        // original L = 64: keep below 16, divide above 64.
        //   i=0: λ = 6.283 < 16, kept: 1
        //   i=1: 16 ≤ 62.83 ≤ 64, smoothed: s = (64/62.83185 − 1)/3 = (1.0185916 − 1)/3 = 0.0061972;
        //        ω' = (1 − s)·0.1/8 + s·0.1 = 0.9938028·0.0125 + 0.00061972 = 0.0124225 + 0.0006197 = 0.0130423
        //   i=2, 3: λ > 64, ω/8 = 0.00125, 0.000125
        double[] l64 = Decoder.inverseFrequencies(8, 10000, new DecoderConfig.RopeScaling(8, 1, 4, 64));
        assertArrayEquals(new double[] {1.0, 0.0130423, 0.00125, 0.000125}, l64, 1e-6);
        // no scaling: the plain frequencies
        assertArrayEquals(new double[] {1, 0.1, 0.01, 0.001}, Decoder.inverseFrequencies(8, 10000, null), 1e-12);
    }

    @Test
    void llamaWithRopeScalingAndItsOwnHeadDimMatchesAPlainForward() {
        // head width 6, not 16 / 2 = 8; original context 16 puts the frequencies in all three regimes
        DecoderConfig c = new DecoderConfig("llama", 30, 16, 24, 2, 2, 1, 6, 1e-5, 10000,
                new DecoderConfig.RopeScaling(8, 1, 4, 16), 32, false, false, 1, List.of(2));
        Map<String, HostTensor> t = TinyDecoders.tensors(c, 5);
        int[] ids = {1, 7, 4, 20, 9, 13};
        try (Decoder d = Decoder.fromHostTensors(c, t, NDManager.newBaseManager())) {
            assertArrayEquals(PlainForward.logits(c, t, ids), logits(d, ids), 1e-4);
        }
    }

    // ---- Qwen3 ----

    @Test
    void qwen3CheckpointWrittenAndLoadedMatchesAPlainForward() {
        DecoderConfig c = TinyDecoders.qwen3();
        Map<String, HostTensor> t = TinyDecoders.tensors(c, 17);
        HfCheckpoint.save(dir, c, t);
        HfCheckpoint loaded = HfCheckpoint.load(dir);
        assertEquals(c, loaded.config());
        assertArrayEquals(t.get("model.layers.1.self_attn.k_norm.weight").data(),
                loaded.tensors().get("model.layers.1.self_attn.k_norm.weight").data());
        int[] ids = {1, 5, 9, 33, 12};
        try (Decoder d = Decoder.fromHostTensors(loaded.config(), loaded.tensors(), NDManager.newBaseManager())) {
            double[] expected = PlainForward.logits(c, t, ids);
            assertArrayEquals(expected, logits(d, ids), 1e-4);
            // the norms matter: without them the logits differ by far more than the tolerance
            Map<String, HostTensor> plain = new java.util.LinkedHashMap<>(t);
            for (String name : List.of("model.layers.0.self_attn.q_norm.weight", "model.layers.0.self_attn.k_norm.weight")) {
                float[] ones = new float[c.headDim()];
                java.util.Arrays.fill(ones, 1f);
                plain.put(name, new HostTensor(name, new long[] {c.headDim()}, ones));
            }
            double gap = 0;
            double[] other = PlainForward.logits(c, plain, ids);
            for (int i = 0; i < other.length; i++) {
                gap = Math.max(gap, Math.abs(other[i] - expected[i]));
            }
            assertTrue(gap > 1e-2, "q/k norm weights change the logits; max difference " + gap);
            Map<String, HostTensor> saved = d.toHostTensors();
            assertEquals(t.keySet(), saved.keySet());
            assertArrayEquals(t.get("model.layers.0.self_attn.q_norm.weight").data(),
                    saved.get("model.layers.0.self_attn.q_norm.weight").data());
            assertTrue(d.parameters().stream().anyMatch(p -> p.getKey().equals("layers.1.q_norm")));
        }
    }

    // ---- EOS lists and vocabulary beyond the tokenizer ----

    @Test
    void generationStopsAtAnyOfTheEosIds() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.qwen3(), 3)) {
            List<int[]> prompts = List.of(new int[] {1, 4, 8});
            int[] free = Generation.generate(d, prompts, SamplingParams.greedy(12), Set.of(),
                    Generation.StopCheck.NEVER).get(0).tokenIds();
            Set<Integer> eos = Set.of(free[3], 49);
            GeneratedSequence stopped = Generation.generate(d, prompts, SamplingParams.greedy(12), eos,
                    Generation.StopCheck.NEVER).get(0);
            int firstHit = 0;
            while (!eos.contains(free[firstHit])) {
                firstHit++;
            }
            assertEquals(firstHit + 1, stopped.tokenIds().length);
            assertEquals(GeneratedSequence.FinishReason.STOP_TOKEN, stopped.finishReason());
        }
    }

    @Test
    void idsBeyondTheTokenizerAreNeverSampledAndUndecodableIdsAreReported() {
        // 20 embedding rows, a tokenizer of 3 special tokens + 9 words = 12 ids; the head's rows 12..19 are
        // ±50·e_0 so that one of them wins every argmax, and rows 0..11 are 0
        List<String> words = new ArrayList<>();
        for (int i = 3; i < 12; i++) {
            words.add("w" + i);
        }
        WordLevelTokenizerWriter.write(words, dir.resolve(Tokenizer.FILE_NAME));
        DecoderConfig c = new DecoderConfig("qwen3", 20, 12, 16, 1, 2, 1, 8, 1e-6, 1e6, null, 32, false, false, 1,
                List.of(2));
        Map<String, HostTensor> t = new java.util.LinkedHashMap<>(TinyDecoders.tensors(c, 9));
        float[] head = new float[20 * 12];
        for (int v = 12; v < 20; v++) {
            head[v * 12] = v % 2 == 0 ? 50f : -50f;
        }
        t.put("lm_head.weight", new HostTensor("lm_head.weight", new long[] {20, 12}, head));
        List<int[]> prompts = List.of(new int[] {1, 4, 5}, new int[] {1, 9});
        try (LanguageModel lm = new LanguageModel(Decoder.fromHostTensors(c, t, NDManager.newBaseManager()),
                Tokenizer.load(dir))) {
            // unmasked, the padded rows win
            GeneratedSequence unmasked = Generation.generate(lm.decoder(), prompts, SamplingParams.greedy(5), Set.of(),
                    Generation.StopCheck.NEVER).get(0);
            assertTrue(unmasked.tokenIds()[0] >= 12, "the fixture makes a padded row the argmax");
            for (SamplingParams params : List.of(SamplingParams.greedy(8), new SamplingParams(8, 1.0, 1.0, 0, 4),
                    new SamplingParams(8, 2.0, 0.9, 5, 5))) {
                for (GeneratedSequence g : Generation.generate(lm.decoder(), prompts, params, Set.of(),
                        Generation.StopCheck.NEVER, lm.tokenizer().vocabSize())) {
                    for (int id : g.tokenIds()) {
                        assertTrue(id < 12, "sampled id " + id + " beyond the tokenizer's 12, " + params);
                    }
                }
                for (TextCompletion completion : lm.complete(List.of("w4 w5", "w9"), params, List.of())) {
                    for (int id : completion.tokenIds()) {
                        assertTrue(id < 12, "completion id " + id + " beyond the tokenizer's 12");
                    }
                }
            }
            // an id the tokenizer lacks decodes to a placeholder (with a warning) instead of failing
            String text = lm.decode(new int[] {4, 15, 5});
            assertTrue(text.startsWith("w4") && text.contains(LanguageModel.UNDECODABLE) && text.endsWith("w5"), text);
            assertEquals(LanguageModel.UNDECODABLE, lm.decode(new int[] {19}));
        }
    }

    /** Logits at every position of a full causal forward over {@code ids}, flattened {@code [T·V]}. */
    private static double[] logits(Decoder d, int[] ids) {
        try (NDManager m = d.manager().newSubManager()) {
            int T = ids.length;
            long[] id = new long[T];
            long[] pos = new long[T];
            for (int i = 0; i < T; i++) {
                id[i] = ids[i];
                pos[i] = i;
            }
            NDArray h = d.hidden(m.create(id, new Shape(1, T)), m.create(pos, new Shape(1, T)),
                    Generation.causalBias(m, T).reshape(1, 1, T, T), null);
            float[] f = d.logits(h).toFloatArray();
            double[] out = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                out[i] = f[i];
            }
            return out;
        }
    }
}
