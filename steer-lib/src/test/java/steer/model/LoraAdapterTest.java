package steer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import steer.checkpoint.CheckpointException;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HostTensor;
import steer.checkpoint.LoraCheckpoint;
import steer.checkpoint.LoraConfig;
import steer.checkpoint.LoraConfig.Target;
import steer.checkpoint.SafetensorsReader;
import steer.checkpoint.SafetensorsEntry;
import steer.model.GradientCheck.Entry;

/** LoRA adapters on the decoder: gradients, initialisation, PEFT's file layout and merging. */
class LoraAdapterTest {

    private static final Set<Target> ALL = EnumSet.allOf(Target.class);

    private static DecoderConfig config(String kind) {
        return switch (kind) {
            case "llama" -> GradientThroughModelBlocksTest.llama();
            case "qwen2" -> GradientThroughModelBlocksTest.qwen2();
            default -> GradientThroughModelBlocksTest.qwen3();
        };
    }

    /** Adapter matrices A and B both drawn from N(0, std²): a trained adapter, so that A's gradient is not zero. */
    static LoraCheckpoint randomAdapter(DecoderConfig c, LoraConfig lora, long seed, double std) {
        Random r = new Random(seed);
        Map<String, HostTensor> t = new LinkedHashMap<>();
        for (var spec : LoraCheckpoint.expected(lora, c)) {
            float[] d = new float[(int) (spec.shape()[0] * spec.shape()[1])];
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) (r.nextGaussian() * std);
            }
            t.put(spec.name(), new HostTensor(spec.name(), spec.shape(), d));
        }
        return new LoraCheckpoint(lora, t);
    }

    /**
     * Finite differences through the whole adapted decoder: the gradient of a fixed projection of the hidden states
     * with respect to A and B entries of every kind of target (q, k and v inside the fused projection, before
     * Qwen3's q/k norms and RoPE; o after attention; gate and up before SwiGLU; down after it), against autograd,
     * while the base weights record nothing.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3"})
    void adapterGradientsMatchFiniteDifferencesAndTheBaseGetsNone(String kind) {
        DecoderConfig c = config(kind);
        LoraConfig lora = new LoraConfig(3, 6, ALL, 0, null);
        try (Decoder base = GradientCheck.decoder(c, 3);
             Decoder d = base.withAdapter(LoraAdapter.fromCheckpoint(c, randomAdapter(c, lora, 5, 0.3),
                     NDManager.newBaseManager(), DataType.FLOAT64))) {
            int qDim = c.qDim(), kv = c.kvDim(), I = c.intermediateSize();
            List<Entry> entries = List.of(
                    new Entry("layers.0.q_proj.lora_A", 4, 1),          // Aᵀ [C, r]
                    new Entry("layers.1.q_proj.lora_B", 2, qDim - 1),   // Bᵀ [r, out]
                    new Entry("layers.0.k_proj.lora_A", 7, 0),
                    new Entry("layers.1.k_proj.lora_B", 0, kv - 2),
                    new Entry("layers.0.v_proj.lora_B", 1, 3),
                    new Entry("layers.1.o_proj.lora_A", qDim - 1, 2),
                    new Entry("layers.0.o_proj.lora_B", 0, 5),
                    new Entry("layers.0.gate_proj.lora_A", 3, 1),
                    new Entry("layers.1.up_proj.lora_B", 2, I - 1),
                    new Entry("layers.0.down_proj.lora_A", I - 3, 0),
                    new Entry("layers.1.down_proj.lora_B", 1, 9));
            double[] grads = GradientCheck.check(d, d.trainableParameters(), entries, step -> projectedHidden(d, step));
            for (int i = 0; i < grads.length; i++) {
                assertTrue(Math.abs(grads[i]) > 1e-6, "gradient at " + entries.get(i) + " is " + grads[i]);
            }
            for (Map.Entry<String, NDArray> w : base.parameters()) {
                assertFalse(w.getValue().hasGradient(), "frozen base weight " + w.getKey() + " records a gradient");
            }
        }
    }

    /** Targets on only some parts of the fused projections (q and v of q|k|v, up of gate|up): zeros elsewhere. */
    @Test
    void partialTargetsOfFusedProjectionsMatchFiniteDifferences() {
        DecoderConfig c = config("qwen2");
        LoraConfig lora = new LoraConfig(2, 4, EnumSet.of(Target.Q, Target.V, Target.UP), 0, null);
        try (Decoder base = GradientCheck.decoder(c, 4);
             Decoder d = base.withAdapter(LoraAdapter.fromCheckpoint(c, randomAdapter(c, lora, 6, 0.3),
                     NDManager.newBaseManager(), DataType.FLOAT64))) {
            GradientCheck.check(d, d.trainableParameters(), List.of(
                    new Entry("layers.0.q_proj.lora_A", 2, 1), new Entry("layers.1.v_proj.lora_B", 1, 4),
                    new Entry("layers.0.up_proj.lora_A", 5, 0), new Entry("layers.1.up_proj.lora_B", 0, 11)),
                    step -> projectedHidden(d, step));
        }
    }

    /** PEFT's start: B = 0 so the adapted model is the base, A ~ U(−1/√in, 1/√in), the same seed the same A. */
    @Test
    void aNewAdapterLeavesTheModelUnchanged() {
        DecoderConfig c = TinyDecoders.qwen2();
        LoraConfig lora = LoraConfig.of(4, ALL);
        try (Decoder base = TinyDecoders.create(c, 7);
             Decoder d = base.withAdapter(LoraAdapter.initialise(c, lora, 11, NDManager.newBaseManager(),
                     DataType.FLOAT32))) {
            int[] seq = {1, 5, 9, 14, 3, 7};
            assertArrayEquals(fullLogits(base, seq), fullLogits(d, seq));
            LoraCheckpoint saved = d.adapter().toCheckpoint();
            float[] a = saved.tensors().get(LoraConfig.tensorName(1, Target.DOWN, "A")).data();
            double bound = 1 / Math.sqrt(c.intermediateSize());
            double max = 0;
            for (float v : a) {
                max = Math.max(max, Math.abs(v));
            }
            assertTrue(max <= bound && max > 0.8 * bound, "|A| max " + max + " against the bound " + bound);
            for (float v : saved.tensors().get(LoraConfig.tensorName(0, Target.Q, "B")).data()) {
                assertEquals(0f, v);
            }
            try (LoraAdapter again = LoraAdapter.initialise(c, lora, 11, NDManager.newBaseManager(), DataType.FLOAT32)) {
                assertArrayEquals(a, again.toCheckpoint().tensors().get(LoraConfig.tensorName(1, Target.DOWN, "A")).data());
            }
        }
    }

    /**
     * Merging W' = W + (α/r)·B·A gives a checkpoint whose logits are those of the base with the adapter in front,
     * within 1e-4 (float32 both ways), while the adapter moves the logits by far more than that.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3"})
    void mergedCheckpointGivesTheLogitsOfBasePlusAdapter(String kind) {
        DecoderConfig c = kind.equals("llama") ? TinyDecoders.llama() : kind.equals("qwen2") ? TinyDecoders.qwen2()
                : TinyDecoders.qwen3();
        Map<String, HostTensor> baseTensors = TinyDecoders.tensors(c, 3);
        LoraCheckpoint adapter = randomAdapter(c, new LoraConfig(4, 8, ALL, 0, null), 9, 0.1);
        int[] seq = {1, 5, 9, 14, 3, 7, 22, 40};
        try (Decoder base = Decoder.fromHostTensors(c, baseTensors, NDManager.newBaseManager());
             Decoder adapted = base.withAdapter(LoraAdapter.fromCheckpoint(c, adapter, NDManager.newBaseManager(),
                     DataType.FLOAT32));
             Decoder merged = Decoder.fromHostTensors(c, adapter.merge(c, baseTensors), NDManager.newBaseManager())) {
            float[] plain = fullLogits(base, seq), withAdapter = fullLogits(adapted, seq), fromMerged = fullLogits(merged, seq);
            double moved = 0, diff = 0;
            for (int i = 0; i < plain.length; i++) {
                moved = Math.max(moved, Math.abs(withAdapter[i] - plain[i]));
                diff = Math.max(diff, Math.abs(withAdapter[i] - fromMerged[i]));
            }
            assertTrue(diff < 1e-4, "merged against base + adapter: max |Δ logit| " + diff);
            assertTrue(moved > 0.05, "the adapter moved the logits by only " + moved);
        }
    }

    /** Decoding with the KV cache sees the adapter too: greedy tokens from base + adapter equal the merged model's. */
    @Test
    void generationWithAnAdapterEqualsGenerationFromTheMergedModel() {
        DecoderConfig c = TinyDecoders.qwen2();
        Map<String, HostTensor> baseTensors = TinyDecoders.tensors(c, 4);
        LoraCheckpoint adapter = randomAdapter(c, new LoraConfig(4, 8, ALL, 0, null), 10, 0.1);
        List<int[]> prompts = List.of(new int[] {1, 5, 9}, new int[] {1, 22, 3, 17, 8});
        try (Decoder base = Decoder.fromHostTensors(c, baseTensors, NDManager.newBaseManager());
             Decoder adapted = base.withAdapter(LoraAdapter.fromCheckpoint(c, adapter, NDManager.newBaseManager(),
                     DataType.FLOAT32));
             Decoder merged = Decoder.fromHostTensors(c, adapter.merge(c, baseTensors), NDManager.newBaseManager())) {
            SamplingParams greedy = SamplingParams.greedy(12);
            List<GeneratedSequence> a = Generation.generate(adapted, prompts, greedy, Set.of(), Generation.StopCheck.NEVER);
            List<GeneratedSequence> b = Generation.generate(merged, prompts, greedy, Set.of(), Generation.StopCheck.NEVER);
            List<GeneratedSequence> plain = Generation.generate(base, prompts, greedy, Set.of(), Generation.StopCheck.NEVER);
            boolean differs = false;
            for (int i = 0; i < prompts.size(); i++) {
                assertArrayEquals(b.get(i).tokenIds(), a.get(i).tokenIds(), "prompt " + i);
                differs |= !java.util.Arrays.equals(plain.get(i).tokenIds(), a.get(i).tokenIds());
            }
            assertTrue(differs, "the adapter changed no generated token");
        }
    }

    /** The files are PEFT's: names, shapes and orientation of A and B, and the config fields PEFT's loader reads. */
    @Test
    void savesAndReadsPeftLayout(@TempDir Path dir) throws Exception {
        DecoderConfig c = TinyDecoders.qwen3();
        LoraConfig lora = new LoraConfig(4, 16, EnumSet.of(Target.Q, Target.V, Target.DOWN), 0, "/models/base");
        LoraCheckpoint written = randomAdapter(c, lora, 2, 0.1);
        written.save(dir);
        Map<String, SafetensorsEntry> header = SafetensorsReader.readHeader(dir.resolve("adapter_model.safetensors")).tensors();
        assertEquals(2 * 3 * c.numLayers(), header.size());
        assertArrayEquals(new long[] {4, c.hiddenSize()},
                header.get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").shape());
        assertArrayEquals(new long[] {c.kvDim(), 4},
                header.get("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight").shape());
        assertArrayEquals(new long[] {4, c.intermediateSize()},
                header.get("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight").shape());
        JsonNode json = new ObjectMapper().readTree(dir.resolve("adapter_config.json").toFile());
        assertEquals("LORA", json.get("peft_type").asText());
        assertEquals("CAUSAL_LM", json.get("task_type").asText());
        assertEquals(4, json.get("r").asInt());
        assertEquals(16.0, json.get("lora_alpha").asDouble());
        assertEquals("none", json.get("bias").asText());
        assertFalse(json.get("fan_in_fan_out").asBoolean());
        assertEquals("/models/base", json.get("base_model_name_or_path").asText());
        assertEquals(List.of("q_proj", "v_proj", "down_proj"),
                new ObjectMapper().convertValue(json.get("target_modules"), List.class));

        LoraCheckpoint read = LoraCheckpoint.load(dir, c);
        assertEquals(lora, read.config());
        for (HostTensor t : written.tensors().values()) {
            assertArrayEquals(t.data(), read.tensors().get(t.name()).data(), t.name());
        }
        // through the model layout and back: the same values (Aᵀ, Bᵀ inside, A, B outside)
        try (Decoder base = TinyDecoders.create(c, 1); LoraAdapter onBase = LoraAdapter.read(dir, base)) {
            LoraCheckpoint again = onBase.toCheckpoint();
            for (HostTensor t : written.tensors().values()) {
                assertArrayEquals(t.data(), again.tensors().get(t.name()).data(), t.name());
                assertArrayEquals(t.shape(), again.tensors().get(t.name()).shape(), t.name());
            }
            assertEquals(expectedCount(c, lora), onBase.parameterCount());
        }
    }

    private static long expectedCount(DecoderConfig c, LoraConfig lora) {
        long n = 0;
        for (Target t : lora.targets()) {
            n += (long) lora.rank() * (t.in(c) + t.out(c)) * c.numLayers();
        }
        return n;
    }

    /** What would change the maths but is not implemented is refused, with the field named; so is a misfit. */
    @Test
    void refusesUnsupportedConfigsAndAdaptersForAnotherShape(@TempDir Path dir) throws Exception {
        DecoderConfig c = TinyDecoders.llama();
        randomAdapter(c, LoraConfig.of(2, EnumSet.of(Target.Q)), 1, 0.1).save(dir);
        ObjectMapper json = new ObjectMapper();
        Path file = dir.resolve("adapter_config.json");
        ObjectNode original = (ObjectNode) json.readTree(file.toFile());
        for (String[] change : new String[][] {{"use_dora", "true"}, {"use_rslora", "true"}, {"bias", "\"all\""},
            {"fan_in_fan_out", "true"}, {"peft_type", "\"IA3\""}, {"target_modules", "\"q_proj|v_proj\""},
            {"rank_pattern", "{\"q_proj\": 4}"}}) {
            ObjectNode edited = original.deepCopy();
            edited.set(change[0], json.readTree(change[1]));
            Files.writeString(file, edited.toString());
            CheckpointException e = assertThrows(CheckpointException.class, () -> LoraCheckpoint.load(dir, c));
            assertTrue(e.getMessage().contains(change[0]), e.getMessage());
        }
        Files.writeString(file, original.toString());
        DecoderConfig wider = new DecoderConfig("llama", 50, 32, 40, 2, 4, 2, 1e-5, 10000, 64, true, false, 1, 2);
        CheckpointException e = assertThrows(CheckpointException.class, () -> LoraCheckpoint.load(dir, wider));
        assertTrue(e.getMessage().contains("expected shape [2, 32]"), e.getMessage());
        try (Decoder base = TinyDecoders.create(c, 1);
             LoraAdapter other = LoraAdapter.initialise(wider, LoraConfig.of(2, ALL), 0, NDManager.newBaseManager(),
                     DataType.FLOAT32)) {
            assertThrows(IllegalArgumentException.class, () -> base.withAdapter(other));
        }
        assertThrows(IllegalArgumentException.class, () -> LoraConfig.parseTargets("q,wq"));
        assertEquals(EnumSet.of(Target.GATE, Target.Q), LoraConfig.parseTargets("gate, q_proj"));
    }

    /** A view closes its adapter, never the base weights it shares. */
    @Test
    void closingAnAdaptedViewKeepsTheBase() {
        DecoderConfig c = TinyDecoders.llama();
        try (Decoder base = TinyDecoders.create(c, 2)) {
            int[] seq = {1, 4, 8};
            float[] before = fullLogits(base, seq);
            LoraAdapter adapter = LoraAdapter.initialise(c, LoraConfig.of(2, ALL), 0, base.manager().newSubManager(),
                    DataType.FLOAT32);
            try (Decoder view = base.withAdapter(adapter)) {
                assertNotNull(view.adapter());
                assertEquals(adapter.parameters().size(), view.trainableParameters().size());
            }
            assertArrayEquals(before, fullLogits(base, seq));
        }
    }

    /** Full forward over one sequence: logits [T, V] as Java floats. */
    static float[] fullLogits(Decoder d, int[] seq) {
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
            return d.logits(h).toType(DataType.FLOAT32, false).toFloatArray();
        }
    }

    /** Σ hidden ⊙ P over two sequences of 6 tokens at different positions, P fixed. */
    private static NDArray projectedHidden(Decoder d, NDManager step) {
        int B = 2, T = 6, C = d.config().hiddenSize();
        long[] ids = {1, 5, 9, 14, 3, 7, 1, 11, 4, 4, 18, 2};
        long[] positions = {0, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9};
        double[] p = new double[B * T * C];
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.sin(1.7 * i + 0.3);
        }
        NDArray bias = Generation.causalBias(step, T).toType(DataType.FLOAT64, false).reshape(1, 1, T, T);
        NDArray hidden = d.hidden(step.create(ids, new Shape(B, T)), step.create(positions, new Shape(B, T)), bias, null);
        return hidden.mul(step.create(p, new Shape(B, T, C))).sum();
    }
}
