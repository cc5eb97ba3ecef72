package steer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfTensorLayout;
import steer.checkpoint.HostTensor;

class DecoderInitTest {

    /** Wide enough that each matrix holds thousands of draws: 4 layers, C = 64, KV·Dh = 32, I = 160, V = 300. */
    private static final DecoderConfig QWEN2 =
            new DecoderConfig("qwen2", 300, 64, 160, 4, 4, 2, 1e-6, 1_000_000, 128, false, true, 1, 2);

    @Test
    void namesAndShapesFollowTheLayoutAndLoad() {
        for (DecoderConfig c : List.of(TinyDecoders.llama(), QWEN2)) {
            Map<String, HostTensor> t = DecoderInit.defaults().tensors(c, 1);
            List<String> names = new ArrayList<>();
            for (HfTensorLayout.TensorSpec spec : HfTensorLayout.expected(c)) {
                names.add(spec.name());
                assertArrayEquals(spec.shape(), t.get(spec.name()).shape(), spec.name());
            }
            assertEquals(names, new ArrayList<>(t.keySet()));
            HfTensorLayout.validateTensors(c, t, Path.of("init"));
            try (Decoder d = Decoder.fromHostTensors(c, t, NDManager.newBaseManager())) {
                assertEquals(t.keySet(), d.toHostTensors().keySet());
            }
        }
    }

    @Test
    void sameSeedSameWeightsOtherSeedOtherWeights() {
        Map<String, HostTensor> a = DecoderInit.defaults().tensors(QWEN2, 42);
        Map<String, HostTensor> b = DecoderInit.defaults().tensors(QWEN2, 42);
        Map<String, HostTensor> other = DecoderInit.defaults().tensors(QWEN2, 43);
        for (String name : a.keySet()) {
            assertArrayEquals(a.get(name).data(), b.get(name).data(), 0f, name);
        }
        assertFalse(Arrays.equals(a.get(HfTensorLayout.EMBED_TOKENS).data(),
                other.get(HfTensorLayout.EMBED_TOKENS).data()));
    }

    /**
     * Norms exactly 1, biases exactly 0; matrices mean 0 and std 0.02, the residual projections 0.02/√(2·4) =
     * 0.00707. Each tensor's sample mean and std must lie within 5 standard errors of the stated value: σ/√n for
     * the mean and σ/√(2n) for the std of n normal draws (n ≥ 2,048 here, so within 11% and 8% of σ).
     */
    @Test
    void statisticsMatchTheStatedDistributions() {
        Map<String, HostTensor> t = DecoderInit.defaults().tensors(QWEN2, 7);
        double residual = 0.02 / Math.sqrt(2.0 * QWEN2.numLayers());
        for (HostTensor tensor : t.values()) {
            String name = tensor.name();
            if (name.endsWith("norm.weight")) {
                assertConstant(tensor, 1f);
            } else if (name.endsWith(".bias")) {
                assertConstant(tensor, 0f);
            } else {
                boolean isResidual = name.endsWith(HfTensorLayout.O_PROJ) || name.endsWith(HfTensorLayout.DOWN_PROJ);
                assertMoments(tensor, isResidual ? residual : 0.02);
            }
        }
        HostTensor down = DecoderInit.huggingFace().tensors(QWEN2, 7)
                .get(HfTensorLayout.layer(0, HfTensorLayout.DOWN_PROJ));
        assertMoments(down, 0.02);
    }

    @Test
    void nonPositiveStdIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> new DecoderInit(0, true));
        assertThrows(IllegalArgumentException.class, () -> new DecoderInit(Double.NaN, true));
    }

    private static void assertConstant(HostTensor t, float value) {
        for (float v : t.data()) {
            assertEquals(value, v, 0f, t.name());
        }
    }

    private static void assertMoments(HostTensor t, double sigma) {
        double sum = 0, squares = 0;
        for (float v : t.data()) {
            sum += v;
            squares += (double) v * v;
        }
        int n = t.size();
        double mean = sum / n;
        double std = Math.sqrt(squares / n - mean * mean);
        assertEquals(0, mean, 5 * sigma / Math.sqrt(n), t.name() + " mean");
        assertEquals(sigma, std, 5 * sigma / Math.sqrt(2.0 * n), t.name() + " std");
    }
}
