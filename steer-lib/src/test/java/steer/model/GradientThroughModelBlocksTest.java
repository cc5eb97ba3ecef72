package steer.model;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import steer.checkpoint.DecoderConfig;
import org.opentest4j.AssertionFailedError;
import steer.model.GradientCheck.Entry;

/**
 * Finite-difference check of the decoder's blocks: the gradient of a fixed random projection of
 * {@link Decoder#hidden} with respect to RMSNorm weights and to q and k projection weights, whose only path to
 * the output runs through the rotary embedding and the attention softmax.
 */
class GradientThroughModelBlocksTest {

    /** Llama-style: tied head, grouped-query attention (2 query heads share 1 key/value head), Dh = 8. */
    static DecoderConfig llama() {
        return new DecoderConfig("llama", 20, 16, 24, 2, 2, 1, 1e-5, 10000, 32, true, false, 1, 2);
    }

    /** Qwen2-style: q/k/v biases, untied head, one key/value head per query head, Dh = 8. */
    static DecoderConfig qwen2() {
        return new DecoderConfig("qwen2", 20, 16, 24, 2, 2, 2, 1e-6, 1_000_000, 32, false, true, 1, 2);
    }

    /** Qwen3-style: per-head q/k RMSNorm, no biases, Dh = 6 against C / H = 8. */
    static DecoderConfig qwen3() {
        return new DecoderConfig("qwen3", 20, 16, 24, 2, 2, 1, 6, 1e-6, 1_000_000, null, 32, true, false, 1,
                java.util.List.of(2));
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3"})
    void hiddenStatesThroughNormsAndRotaryAttention(String kind) {
        DecoderConfig c = kind.equals("llama") ? llama() : kind.equals("qwen2") ? qwen2() : qwen3();
        int qDim = c.numHeads() * c.headDim();
        try (Decoder d = GradientCheck.decoder(c, 3)) {
            List<Entry> entries = List.of(
                    new Entry("layers.0.attn_norm", 5),
                    new Entry("layers.1.mlp_norm", 2),
                    new Entry("final_norm", 9),
                    new Entry("layers.0.wqkv", 3, 1),                  // q, head 0
                    new Entry("layers.1.wqkv", 12, qDim - 2),          // q, last head
                    new Entry("layers.0.wqkv", 7, qDim + 4),           // k, first key/value head
                    new Entry("layers.1.wqkv", 0, qDim + 1));          // k
            if (c.qkNorm()) {
                entries = new java.util.ArrayList<>(entries);
                entries.add(new Entry("layers.0.q_norm", 4));
                entries.add(new Entry("layers.1.k_norm", 1));
            }
            double[] grads = GradientCheck.check(d, entries, step -> projectedHidden(d, step));
            for (int i = 0; i < grads.length; i++) {
                assertTrue(Math.abs(grads[i]) > 1e-6, "gradient at " + entries.get(i) + " is " + grads[i]);
            }
        }
    }

    /** The check has teeth: a factor read from a weight as a Java number is seen by differences, not by autograd. */
    @Test
    void checkFailsWhenAutogradMissesADependence() {
        try (Decoder d = GradientCheck.decoder(llama(), 3)) {
            NDArray finalNorm = d.parameters().stream().filter(p -> p.getKey().equals("final_norm")).findFirst()
                    .orElseThrow().getValue();
            assertThrows(AssertionFailedError.class, () -> GradientCheck.check(d, List.of(new Entry("final_norm", 9)),
                    step -> projectedHidden(d, step).mul(1 + finalNorm.getDouble(9))));
        }
    }

    /**
     * Σ hidden ⊙ P for two sequences of 6 tokens under the causal mask, the second at positions 4..9 so
     * rotary angles differ between rows; P {@code [2, 6, C]} is fixed, so no direction of hidden is favoured.
     */
    private static NDArray projectedHidden(Decoder d, NDManager step) {
        int B = 2, T = 6, C = d.config().hiddenSize();
        long[] ids = {1, 5, 9, 14, 3, 7, 1, 11, 4, 4, 18, 2};
        long[] positions = {0, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9};
        double[] p = new double[B * T * C];
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.sin(1.7 * i + 0.3);
        }
        NDArray bias = Generation.causalBias(step, T).toType(DataType.FLOAT64, false).reshape(1, 1, T, T);
        NDArray hidden = d.hidden(step.create(ids, new Shape(B, T)), step.create(positions, new Shape(B, T)), bias,
                null);                                                                      // [B, T, C]
        return hidden.mul(step.create(p, new Shape(B, T, C))).sum();
    }
}
