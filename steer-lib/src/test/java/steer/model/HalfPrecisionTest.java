package steer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HostTensor;
import steer.checkpoint.LoraConfig;
import steer.checkpoint.LoraConfig.Target;

/**
 * The half-precision path ({@link Placement}): half weights and activations with float32 norms, softmax and logits;
 * float32 master weights that gradients reach through the casts; a float32 adapter on a half base. On a GPU the
 * same code runs in bfloat16; here it runs in float16, the half type DJL's CPU engine supports, against the same
 * decoder in float32.
 */
class HalfPrecisionTest {

    private static final List<int[]> PROMPTS = List.of(new int[] {1, 5, 9, 2}, new int[] {1, 22, 3, 17, 8, 30, 4});
    private static final List<int[]> RESPONSES = List.of(new int[] {7, 11, 3}, new int[] {40, 2, 9, 9, 12});

    private static DecoderConfig config(String kind) {
        return TinyDecoders.byKind(kind);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3"})
    void halfWeightsGiveTheFloat32LogitsAndLogProbsToHalfPrecision(String kind) {
        DecoderConfig c = config(kind);
        Map<String, HostTensor> tensors = TinyDecoders.tensors(c, 3);
        try (Decoder f32 = Decoder.fromHostTensors(c, tensors, NDManager.newBaseManager());
             Decoder f16 = Decoder.fromHostTensors(c, tensors, NDManager.newBaseManager(), Placement.Precision.F16,
                     false)) {
            assertEquals(DataType.FLOAT16, f16.computeType());
            assertEquals(DataType.FLOAT32, f16.dtype(), "inputs and logits stay float32");
            for (var p : f16.parameters()) {
                assertEquals(DataType.FLOAT16, p.getValue().getDataType(), p.getKey() + " is stored half");
            }
            float[][] a = SequenceScorer.nextTokenLogits(f32, PROMPTS);
            float[][] b = SequenceScorer.nextTokenLogits(f16, PROMPTS);
            double maxDiff = 0, maxAbs = 0;
            for (int i = 0; i < a.length; i++) {
                for (int v = 0; v < a[i].length; v++) {
                    maxDiff = Math.max(maxDiff, Math.abs(a[i][v] - b[i][v]));
                    maxAbs = Math.max(maxAbs, Math.abs(a[i][v]));
                }
            }
            assertTrue(maxAbs > 0.5, "logits vary: " + maxAbs);
            assertTrue(maxDiff < 0.02 * maxAbs, "float16 logits within 2% of the largest: " + maxDiff + " of " + maxAbs);
            List<ResponseLogProbs> la = SequenceScorer.scoreToJava(f32, PROMPTS, RESPONSES);
            List<ResponseLogProbs> lb = SequenceScorer.scoreToJava(f16, PROMPTS, RESPONSES);
            for (int i = 0; i < la.size(); i++) {
                assertEquals(la.get(i).sum(), lb.get(i).sum(), 0.02 * Math.abs(la.get(i).sum()) + 0.02,
                        "response " + i + " log-prob");
            }
        }
    }

    /** Decoding with the float16 KV cache picks the tokens float32 picks, for a tiny model whose logits are apart. */
    @Test
    void greedyGenerationInHalfPrecisionFollowsFloat32() {
        DecoderConfig c = TinyDecoders.qwen2();
        Map<String, HostTensor> tensors = TinyDecoders.tensors(c, 5);
        try (Decoder f32 = Decoder.fromHostTensors(c, tensors, NDManager.newBaseManager());
             Decoder f16 = Decoder.fromHostTensors(c, tensors, NDManager.newBaseManager(), Placement.Precision.F16,
                     false)) {
            SamplingParams greedy = SamplingParams.greedy(10);
            List<GeneratedSequence> a = Generation.generate(f32, PROMPTS, greedy, Set.of(), Generation.StopCheck.NEVER);
            List<GeneratedSequence> b = Generation.generate(f16, PROMPTS, greedy, Set.of(), Generation.StopCheck.NEVER);
            int same = 0, total = 0;
            for (int i = 0; i < a.size(); i++) {
                int[] x = a.get(i).tokenIds(), y = b.get(i).tokenIds();
                assertEquals(x.length, y.length);
                // the first tokens must agree; later ones may follow a near tie differently, so count them
                assertEquals(x[0], y[0], "prompt " + i + " first token");
                for (int t = 0; t < x.length && x[t] == y[t]; t++) {
                    same++;
                }
                total += x.length;
            }
            assertTrue(same >= total * 0.7, same + " of " + total + " greedy tokens agree before a divergence");
        }
    }

    /**
     * Full fine-tuning in half precision: the trained parameters are float32 (AdamW needs them so, and updates of
     * 1e-6 would vanish in bfloat16), the forward pass is half, and the gradient reaches the float32 weights
     * through the casts, close to the float32 decoder's gradient.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3"})
    void masterWeightsAreFloat32AndGetTheGradient(String kind) {
        DecoderConfig c = config(kind);
        Map<String, HostTensor> tensors = TinyDecoders.tensors(c, 7);
        try (Decoder f32 = Decoder.fromHostTensors(c, tensors, NDManager.newBaseManager());
             Decoder mixed = Decoder.fromHostTensors(c, tensors, NDManager.newBaseManager(), Placement.Precision.F16,
                     true)) {
            assertEquals(DataType.FLOAT16, mixed.computeType());
            List<float[]> g32 = gradients(f32, f32.parameters());
            List<float[]> g16 = gradients(mixed, mixed.parameters());
            for (var p : mixed.parameters()) {
                assertEquals(DataType.FLOAT32, p.getValue().getDataType(), p.getKey() + " is a float32 master");
            }
            assertCloseDirection(g32, g16, "parameters");
        }
    }

    /** A LoRA run on a half base: the adapter is float32 and gets the gradient; the half base gets none. */
    @Test
    void aFloat32AdapterOnAHalfBaseTrains() {
        DecoderConfig c = TinyDecoders.qwen3();
        Map<String, HostTensor> tensors = TinyDecoders.tensors(c, 9);
        LoraConfig lora = new LoraConfig(4, 8, EnumSet.allOf(Target.class), 0, null);
        var adapter = LoraAdapterTest.randomAdapter(c, lora, 2, 0.1);
        try (Decoder f32 = Decoder.fromHostTensors(c, tensors, NDManager.newBaseManager());
             Decoder half = Decoder.fromHostTensors(c, tensors, NDManager.newBaseManager(), Placement.Precision.F16,
                     false);
             Decoder a32 = f32.withAdapter(LoraAdapter.fromCheckpoint(c, adapter, NDManager.newBaseManager(),
                     DataType.FLOAT32));
             Decoder a16 = half.withAdapter(LoraAdapter.fromCheckpoint(c, adapter, NDManager.newBaseManager(),
                     DataType.FLOAT32))) {
            List<float[]> g32 = gradients(a32, a32.trainableParameters());
            List<float[]> g16 = gradients(a16, a16.trainableParameters());
            for (var p : a16.trainableParameters()) {
                assertEquals(DataType.FLOAT32, p.getValue().getDataType(), p.getKey());
            }
            for (var p : half.parameters()) {
                assertTrue(!p.getValue().hasGradient(), p.getKey() + " of the frozen base has no gradient");
            }
            assertCloseDirection(g32, g16, "adapter");
        }
    }

    /** A half-stored decoder saves (streamed) its half values widened exactly, within half rounding of float32's. */
    @Test
    void aHalfDecoderSavesItsValuesWidenedToFloat32(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        DecoderConfig c = TinyDecoders.qwen2();
        Map<String, HostTensor> tensors = TinyDecoders.tensors(c, 11);
        try (Decoder f16 = Decoder.fromHostTensors(c, tensors, NDManager.newBaseManager(), Placement.Precision.F16,
                false)) {
            f16.hfWeights().save(dir);
            Map<String, HostTensor> saved = steer.checkpoint.HfCheckpoint.load(dir).tensors();
            Map<String, HostTensor> host = f16.toHostTensors();
            assertEquals(tensors.keySet(), saved.keySet());
            for (String name : tensors.keySet()) {
                float[] original = tensors.get(name).data(), written = saved.get(name).data();
                org.junit.jupiter.api.Assertions.assertArrayEquals(host.get(name).data(), written, 0f, name);
                for (int i = 0; i < original.length; i++) {
                    assertEquals(original[i], written[i], Math.abs(original[i]) * 1e-3 + 1e-7, name + "[" + i + "]");
                }
            }
        }
    }

    @Test
    void placementSettingsAreCheckedWithClearErrors() {
        assertEquals(Placement.CPU_F32, Placement.parse(null, null));
        assertEquals(Placement.CPU_F32, Placement.parse("cpu", "fp32"));
        assertEquals(new Placement(Device.cpu(), Placement.Precision.F16), Placement.parse("CPU", "float16"));
        assertEquals(Device.gpu(1), Placement.parseDevice("gpu:1", 2));
        assertEquals(Device.gpu(0), Placement.parseDevice("gpu", 1));
        var bf16OnCpu = assertThrows(IllegalArgumentException.class, () -> Placement.parse("cpu", "bf16"));
        assertTrue(bf16OnCpu.getMessage().contains("bf16 needs a GPU"), bf16OnCpu.getMessage());
        var noGpu = assertThrows(IllegalArgumentException.class, () -> Placement.parseDevice("gpu", 0));
        assertTrue(noGpu.getMessage().contains("sees no CUDA device"), noGpu.getMessage());
        var tooHigh = assertThrows(IllegalArgumentException.class, () -> Placement.parseDevice("gpu:2", 2));
        assertTrue(tooHigh.getMessage().contains("gpu:0 to gpu:1"), tooHigh.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Placement.parseDevice("gpu:x", 1))
                .getMessage().contains("'x' is not a number"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Placement.parseDevice("tpu", 1))
                .getMessage().contains("use cpu, gpu or gpu:N"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Placement.Precision.parse("int8"))
                .getMessage().contains("unknown precision 'int8'"));
        if (Engine.getInstance().getGpuCount() == 0) {
            // on this machine kind the GPU settings must fail at parse time, not when the first op runs
            assertThrows(IllegalArgumentException.class, () -> Placement.parse("gpu", null));
        } else {
            assertEquals(Placement.Precision.BF16, Placement.parse("gpu", null).precision());
        }
    }

    /** Gradients of the summed response log-probs with respect to {@code params}, as float32 host arrays. */
    private static List<float[]> gradients(Decoder model, List<Map.Entry<String, NDArray>> params) {
        for (var p : params) {
            p.getValue().setRequiresGradient(true);
        }
        try (NDManager m = model.manager().newSubManager();
             GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            SequenceScorer.Batch batch = SequenceScorer.score(model, m, PROMPTS, RESPONSES);
            collector.backward(batch.sum().sum());
        }
        return params.stream().map(p -> p.getValue().getGradient().toType(DataType.FLOAT32, false).toFloatArray())
                .toList();
    }

    /** The half-precision gradient points where the float32 one does (cosine) and has its size, to half precision. */
    private static void assertCloseDirection(List<float[]> a, List<float[]> b, String what) {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.size(); i++) {
            for (int j = 0; j < a.get(i).length; j++) {
                assertTrue(Float.isFinite(b.get(i)[j]), what + " gradient " + i + " is finite");
                dot += (double) a.get(i)[j] * b.get(i)[j];
                na += (double) a.get(i)[j] * a.get(i)[j];
                nb += (double) b.get(i)[j] * b.get(i)[j];
            }
        }
        assertTrue(na > 1e-6, what + " gradient is not zero");
        double cosine = dot / Math.sqrt(na * nb);
        assertTrue(cosine > 0.999, what + " gradient cosine " + cosine);
        assertEquals(1.0, Math.sqrt(nb / na), 0.01, what + " gradient norm ratio");
    }
}
