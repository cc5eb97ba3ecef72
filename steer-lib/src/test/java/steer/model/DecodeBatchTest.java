package steer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import steer.checkpoint.DecoderConfig;

class DecodeBatchTest {

    private static DecoderConfig config(String kind) {
        return switch (kind) {
            case "llama" -> TinyDecoders.llama();
            case "qwen2" -> TinyDecoders.qwen2();
            default -> TinyDecoders.qwen3();
        };
    }

    /** What {@link Generation#generate} gives {@code prompt} as stream {@code stream} of a batch of its copies. */
    private static GeneratedSequence alone(Decoder d, int[] prompt, SamplingParams params, int stream, Set<Integer> eos) {
        List<int[]> copies = new ArrayList<>();
        for (int i = 0; i <= stream; i++) {
            copies.add(prompt);
        }
        return Generation.generate(d, copies, params, eos, Generation.StopCheck.NEVER).get(stream);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3"})
    void sequencesJoiningAndLeavingGetTheTokensTheyGetAlone(String kind) {
        try (Decoder d = TinyDecoders.create(config(kind), 11)) {
            Random r = new Random(3);
            List<int[]> prompts = new ArrayList<>();
            List<SamplingParams> params = new ArrayList<>();
            for (int i = 0; i < 24; i++) {
                int[] p = new int[i % 7 == 6 ? 38 : 1 + r.nextInt(9)];   // a long one now and then: moves the columns
                p[0] = 1;
                for (int t = 1; t < p.length; t++) {
                    p[t] = 2 + r.nextInt(40);
                }
                prompts.add(i == 5 ? prompts.get(2) : p);  // two sequences of one prompt join together below
                int newTokens = 3 + r.nextInt(20);
                params.add(i % 3 == 0 ? SamplingParams.greedy(newTokens)
                        : new SamplingParams(newTokens, 0.9, i % 2 == 0 ? 0.8 : 1, i % 4 == 1 ? 10 : 0, 7 + i));
            }
            Set<Integer> eos = Set.of(17);
            List<DecodeBatch.Sequence> seqs = new ArrayList<>();
            try (DecodeBatch batch = new DecodeBatch(d, d.config().vocabSize(), eos, 4)) {
                int next = 0;
                int steps = 0;
                List<DecodeBatch.Sequence> finished = new ArrayList<>();
                while (finished.size() < prompts.size()) {
                    // join one or two at a time, whenever there is room, so that rows are reused mid-batch
                    List<DecodeBatch.Sequence> joining = new ArrayList<>();
                    int room = Math.min(batch.free(), steps % 3 == 0 ? 2 : 1);
                    while (joining.size() < room && next < prompts.size()) {
                        DecodeBatch.Sequence s = new DecodeBatch.Sequence(prompts.get(next), params.get(next), next % 5,
                                Generation.StopCheck.NEVER);
                        seqs.add(s);
                        joining.add(s);
                        next++;
                    }
                    finished.addAll(batch.admit(joining));
                    finished.addAll(batch.step());
                    steps++;
                }
                assertEquals(0, batch.live());
                int[] changes = batch.layoutChanges();
                assertTrue(changes[0] > 0 && changes[1] > 0, "compacted " + changes[0] + " times, shifted " + changes[1]);
            }
            for (int i = 0; i < prompts.size(); i++) {
                GeneratedSequence expected = alone(d, prompts.get(i), params.get(i), i % 5, eos);
                GeneratedSequence got = seqs.get(i).result();
                assertArrayEquals(expected.tokenIds(), got.tokenIds(), "sequence " + i + " " + params.get(i));
                assertArrayEquals(expected.logProbs(), got.logProbs(), 1e-4f, "sequence " + i);
                assertEquals(expected.finishReason(), got.finishReason(), "sequence " + i);
            }
        }
    }

    @Test
    void sevenSamplesOfOnePromptShareItsPrefillAndGetWhatSeparatePrefillsGive() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.llama(), 5)) {
            int[] prompt = new int[40];
            for (int t = 0; t < prompt.length; t++) {
                prompt[t] = 1 + (t * 7) % 45;
            }
            SamplingParams params = new SamplingParams(16, 1.0, 0.95, 0, 99);
            List<int[]> copies = new ArrayList<>();
            for (int i = 0; i < 7; i++) {
                copies.add(prompt);
            }
            // one prefill forked to seven rows (Generation dedups equal prompts) ...
            List<GeneratedSequence> forked = Generation.generate(d, copies, params, Set.of(), Generation.StopCheck.NEVER);
            // ... against seven separate prefills: each sequence admitted to the running batch on its own
            List<DecodeBatch.Sequence> separate = new ArrayList<>();
            try (DecodeBatch batch = new DecodeBatch(d, d.config().vocabSize(), Set.of(), 7)) {
                for (int i = 0; i < 7; i++) {
                    DecodeBatch.Sequence s = new DecodeBatch.Sequence(prompt, params, i, Generation.StopCheck.NEVER);
                    separate.add(s);
                    batch.admit(List.of(s));
                }
                while (batch.live() > 0) {
                    batch.step();
                }
            }
            int distinct = 0;
            for (int i = 0; i < 7; i++) {
                assertArrayEquals(separate.get(i).result().tokenIds(), forked.get(i).tokenIds(), "sample " + i);
                assertArrayEquals(separate.get(i).result().logProbs(), forked.get(i).logProbs(), 1e-4f, "sample " + i);
                distinct += i > 0 && !java.util.Arrays.equals(forked.get(i).tokenIds(), forked.get(0).tokenIds()) ? 1 : 0;
            }
            assertTrue(distinct > 0, "the samples differ from each other (each has its own sampler)");
        }
    }

    @Test
    void aLongMixedLoadKeepsNoArraysBeyondTheCache() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.qwen2(), 9)) {
            int before = d.manager().getManagedArrays().size();
            Random r = new Random(1);
            int maxDuring = 0;
            int done = 0;
            try (DecodeBatch batch = new DecodeBatch(d, d.config().vocabSize(), Set.of(3), 6)) {
                int started = 0;
                int peakAfterWarmup = -1;
                while (done < 400) {
                    List<DecodeBatch.Sequence> joining = new ArrayList<>();
                    while (joining.size() < batch.free() && started < 400 && r.nextInt(3) == 0) {
                        int[] p = new int[1 + r.nextInt(12)];
                        p[0] = 1;
                        joining.add(new DecodeBatch.Sequence(p, new SamplingParams(1 + r.nextInt(30), r.nextInt(2), 1, 0,
                                started), started, Generation.StopCheck.NEVER));
                        started++;
                    }
                    done += batch.admit(joining).size();
                    done += batch.step().size();
                    int arrays = d.manager().getManagedArrays().size() - before;
                    if (done > 100 && peakAfterWarmup < 0) {
                        peakAfterWarmup = maxDuring;
                    }
                    maxDuring = Math.max(maxDuring, arrays);
                }
                // the cache's arrays (2 per layer) are all that stays between steps; none accumulate
                int layers = d.config().numLayers();
                assertEquals(2 * layers, d.manager().getManagedArrays().size() - before);
                assertEquals(peakAfterWarmup, maxDuring, "no growth after the first 100 sequences");
            }
            assertEquals(before, d.manager().getManagedArrays().size(), "closing the batch frees its cache");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen3"})
    void deviceSamplingDrawsWhatTheJavaSamplerDraws(String kind) {
        try (Decoder d = TinyDecoders.create(config(kind), 4)) {
            List<SamplingParams> params = List.of(SamplingParams.greedy(24), new SamplingParams(24, 0.8, 1, 0, 1),
                    new SamplingParams(24, 1.2, 0.8, 0, 2), new SamplingParams(24, 1.0, 1, 5, 3),
                    new SamplingParams(24, 0.7, 0.9, 8, 4));
            List<List<GeneratedSequence>> runs = new ArrayList<>();
            for (boolean device : new boolean[] {false, true}) {
                List<DecodeBatch.Sequence> seqs = new ArrayList<>();
                // sampleable vocabulary below vocab_size, as for Qwen's padded embedding
                try (DecodeBatch batch = new DecodeBatch(d, d.config().vocabSize() - 5, Set.of(), 8, device)) {
                    for (int i = 0; i < 10; i++) {
                        int[] prompt = {1, 2 + i, 7, 3 + 2 * i};
                        seqs.add(new DecodeBatch.Sequence(prompt, params.get(i % params.size()), i,
                                Generation.StopCheck.NEVER));
                    }
                    batch.admit(seqs.subList(0, 6));
                    batch.step();
                    batch.step();
                    batch.admit(seqs.subList(6, 8));   // join a running batch; two of one prompt share its prefill
                    boolean last = false;
                    while (batch.live() > 0 || !last) {
                        batch.step();
                        if (batch.free() >= 2 && !last) {
                            batch.admit(seqs.subList(8, 10));
                            last = true;
                        }
                    }
                }
                List<GeneratedSequence> out = new ArrayList<>();
                seqs.forEach(s -> out.add(s.result()));
                runs.add(out);
            }
            for (int i = 0; i < 10; i++) {
                GeneratedSequence java = runs.get(0).get(i), device = runs.get(1).get(i);
                assertArrayEquals(java.tokenIds(), device.tokenIds(), "sequence " + i + " " + params.get(i % params.size()));
                assertArrayEquals(java.logProbs(), device.logProbs(), 1e-4f, "sequence " + i);
                for (int t : device.tokenIds()) {
                    assertTrue(t < d.config().vocabSize() - 5, "only sampleable ids");
                }
            }
        }
    }

    /** {@link #alone} on the given engine. */
    private static GeneratedSequence alone(Decoder d, int[] prompt, SamplingParams params, int stream, Set<Integer> eos,
                                           Generation.Engine engine) {
        List<int[]> copies = new ArrayList<>();
        for (int i = 0; i <= stream; i++) {
            copies.add(prompt);
        }
        return Generation.generate(d, copies, params, eos, Generation.StopCheck.NEVER, d.config().vocabSize(), engine)
                .get(stream);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3"})
    void onTheVectorEngineSequencesJoiningAndLeavingGetTheBitsTheyGetAlone(String kind) {
        try (Decoder d = TinyDecoders.create(config(kind), 11)) {
            Random r = new Random(4);
            List<int[]> prompts = new ArrayList<>();
            List<SamplingParams> params = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                // prompts and lengths that grow now and then: the cache grows its rows and positions mid-run
                int[] p = new int[i % 7 == 6 ? 16 + i / 2 : 1 + r.nextInt(9)];   // within the 64 positions
                p[0] = 1;
                for (int t = 1; t < p.length; t++) {
                    p[t] = 2 + r.nextInt(40);
                }
                prompts.add(i % 5 == 4 ? prompts.get(i - 1) : p);  // two of one prompt join together below
                int newTokens = 3 + r.nextInt(10 + i / 2);
                params.add(i % 3 == 0 ? SamplingParams.greedy(newTokens)
                        : new SamplingParams(newTokens, 0.9, i % 2 == 0 ? 0.8 : 1, i % 4 == 1 ? 10 : 0, 7 + i));
            }
            Set<Integer> eos = Set.of(17);
            List<DecodeBatch.Sequence> seqs = new ArrayList<>();
            try (DecodeBatch batch = new DecodeBatch(d, d.config().vocabSize(), eos, 10, false,
                    Generation.Engine.VECTOR)) {
                int next = 0;
                int steps = 0;
                int finished = 0;
                while (finished < prompts.size()) {
                    List<DecodeBatch.Sequence> joining = new ArrayList<>();
                    int room = Math.min(batch.free(), steps % 4 == 0 ? 3 : 1);
                    while (joining.size() < room && next < prompts.size()) {
                        DecodeBatch.Sequence s = new DecodeBatch.Sequence(prompts.get(next), params.get(next), next % 5,
                                Generation.StopCheck.NEVER);
                        seqs.add(s);
                        joining.add(s);
                        next++;
                    }
                    finished += batch.admit(joining).size();
                    finished += batch.step().size();
                    assertTrue(batch.live() <= 10);
                    steps++;
                }
                assertEquals(0, batch.live());
                assertTrue(batch.layoutChanges()[2] >= 2, "the cache grew " + batch.layoutChanges()[2] + " times");
            }
            for (int i = 0; i < prompts.size(); i++) {
                GeneratedSequence expected = alone(d, prompts.get(i), params.get(i), i % 5, eos, Generation.Engine.VECTOR);
                GeneratedSequence got = seqs.get(i).result();
                assertArrayEquals(expected.tokenIds(), got.tokenIds(), "sequence " + i + " " + params.get(i));
                assertArrayEquals(expected.logProbs(), got.logProbs(), 0f, "sequence " + i + ": the same bits");
                assertEquals(expected.finishReason(), got.finishReason(), "sequence " + i);
            }
        }
    }

    @Test
    void onTheVectorEngineSevenSamplesForkOnePrefillAndGetWhatSeparatePrefillsGive() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.qwen2(), 5)) {
            int[] prompt = new int[40];
            for (int t = 0; t < prompt.length; t++) {
                prompt[t] = 1 + (t * 7) % 45;
            }
            SamplingParams params = new SamplingParams(16, 1.0, 0.95, 0, 99);
            List<List<GeneratedSequence>> runs = new ArrayList<>();
            for (boolean together : new boolean[] {true, false}) {
                List<DecodeBatch.Sequence> seqs = new ArrayList<>();
                try (DecodeBatch batch = new DecodeBatch(d, d.config().vocabSize(), Set.of(), 7, false,
                        Generation.Engine.VECTOR)) {
                    for (int i = 0; i < 7; i++) {
                        seqs.add(new DecodeBatch.Sequence(prompt, params, i, Generation.StopCheck.NEVER));
                    }
                    if (together) {
                        batch.admit(seqs);                      // one prefill, forked to seven rows
                    } else {
                        seqs.forEach(s -> batch.admit(List.of(s)));
                    }
                    while (batch.live() > 0) {
                        batch.step();
                    }
                }
                List<GeneratedSequence> out = new ArrayList<>();
                seqs.forEach(s -> out.add(s.result()));
                runs.add(out);
            }
            int distinct = 0;
            for (int i = 0; i < 7; i++) {
                assertArrayEquals(runs.get(1).get(i).tokenIds(), runs.get(0).get(i).tokenIds(), "sample " + i);
                assertArrayEquals(runs.get(1).get(i).logProbs(), runs.get(0).get(i).logProbs(), 0f, "sample " + i);
                distinct += i > 0 && !java.util.Arrays.equals(runs.get(0).get(i).tokenIds(),
                        runs.get(0).get(0).tokenIds()) ? 1 : 0;
            }
            assertTrue(distinct > 0, "the samples differ from each other (each has its own sampler)");
        }
    }

    @Test
    void deviceSamplingIsRefusedOnTheVectorEngine() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.llama(), 5)) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> new DecodeBatch(d, d.config().vocabSize(), Set.of(), 4, true, Generation.Engine.VECTOR));
            assertTrue(e.getMessage().contains("vector engine"), e.getMessage());
        }
    }
}
