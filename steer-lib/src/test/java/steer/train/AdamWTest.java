package steer.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AdamWTest {

    private NDManager model;

    @BeforeEach
    void open() {
        model = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        model.close();
    }

    private NDArray parameter(float... values) {
        NDArray p = model.create(values);
        p.setRequiresGradient(true);
        return p;
    }

    /** Sets each parameter's gradient to the given values: the gradient of Σ c·p, on a scope closed before returning. */
    static void setGradients(AdamW opt, List<NDArray> params, float[]... grads) {
        opt.zeroGradients();
        try (NDManager step = params.get(0).getManager().newSubManager();
             GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray loss = step.create(0f);
            for (int i = 0; i < params.size(); i++) {
                loss = loss.add(step.create(grads[i]).mul(params.get(i)).sum());
            }
            collector.backward(loss);
        }
    }

    @Test
    void twoStepsComputedByHandWithAndWithoutDecay() {
        // η = 0.01, β1 = 0.9, β2 = 0.999, ε = 1e-8, λ = 0.1; "w" decays, "out.bias" does not.
        AdamWConfig config = new AdamWConfig(0.01, 0.9, 0.999, 1e-8, 0.1);
        NDArray w = parameter(1f, -2f);
        NDArray bias = parameter(0.5f);
        AdamW opt = new AdamW(config, List.of(Map.entry("w", w), Map.entry("out.bias", bias)));
        assertTrue(opt.decays("w"));
        assertFalse(opt.decays("out.bias"));

        // t = 1, g_w = (0.5, −1), g_b = 2. Decay: w·(1 − 0.01·0.1) = (0.999, −1.998).
        // m = 0.1·g, v = 0.001·g², m̂ = g, v̂ = g²: each step is η·g/(|g| + ε) ≈ 0.01·sign(g).
        // w = (0.999 − 0.0099999998, −1.998 + 0.0099999999) = (0.9890000002, −1.9880000001); b = 0.5 − 0.01 = 0.49
        setGradients(opt, List.of(w, bias), new float[] {0.5f, -1f}, new float[] {2f});
        opt.step(config.lr());
        assertArrayEquals(new float[] {0.9890000002f, -1.9880000001f}, w.toFloatArray(), 1e-6f);
        assertArrayEquals(new float[] {0.49f}, bias.toFloatArray(), 1e-6f);

        // t = 2, g_w = (−0.25, 3), g_b = −1. For w[0]: decay 0.9890000002·0.999 = 0.9880110002;
        // m = 0.9·0.05 + 0.1·(−0.25) = 0.02, v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225;
        // m̂ = 0.02/0.19 = 0.1052631579, v̂ = 0.00031225/0.001999 = 0.1562031016, √v̂ = 0.3952253808;
        // w[0] = 0.9880110002 − 0.01·0.1052631579/0.3952253808 = 0.9853476299.
        // The same for w[1] gives −1.9909538984; for b (no decay): m = 0.08, v = 0.004996: 0.4873366297.
        setGradients(opt, List.of(w, bias), new float[] {-0.25f, 3f}, new float[] {-1f});
        opt.step(config.lr());
        assertArrayEquals(new float[] {0.9853476299f, -1.9909538984f}, w.toFloatArray(), 1e-6f);
        assertArrayEquals(new float[] {0.4873366297f}, bias.toFloatArray(), 1e-6f);
        assertEquals(2, opt.stepCount());
        assertArrayEquals(new float[] {0.02f, 0.21f}, opt.exportState().firstMoments().get("w"), 1e-7f);
        assertArrayEquals(new float[] {0.00031225f, 0.009999f}, opt.exportState().secondMoments().get("w"), 1e-9f);
    }

    @Test
    void normsAndBiasesAreNotDecayed() {
        // zero gradients: Adam's step is 0/(0 + ε) = 0, so only decay can move a parameter
        NDArray norm = parameter(1f, 2f);
        NDArray qkvBias = parameter(3f);
        NDArray weight = parameter(4f);
        AdamW opt = new AdamW(new AdamWConfig(0.1, 0.9, 0.999, 1e-8, 0.5),
                List.of(Map.entry("layers.0.attn_norm", norm), Map.entry("layers.0.bqkv", qkvBias),
                        Map.entry("layers.0.wqkv", weight)));
        setGradients(opt, List.of(norm, qkvBias, weight), new float[2], new float[1], new float[1]);
        opt.step(0.1);
        assertArrayEquals(new float[] {1f, 2f}, norm.toFloatArray(), 0f);
        assertArrayEquals(new float[] {3f}, qkvBias.toFloatArray(), 0f);
        assertArrayEquals(new float[] {4f * (1 - 0.1f * 0.5f)}, weight.toFloatArray(), 1e-6f);
        for (String name : List.of("final_norm", "model.norm.weight", "model.layers.0.input_layernorm.weight",
                "layers.3.mlp_norm", "q_proj.bias", "layers.1.bqkv")) {
            assertTrue(AdamW.NORMS_AND_BIASES.test(name), name);
        }
        for (String name : List.of("embed", "lm_head", "layers.0.w_down", "normalizer_proj.weight")) {
            assertFalse(AdamW.NORMS_AND_BIASES.test(name), name);
        }
    }

    @Test
    void exportedStateResumesBitForBit() {
        float[][] grads = {{0.3f, -1.2f, 0.05f}, {-0.7f, 0.4f, 2f}, {1.1f, 0.9f, -0.3f}, {0.2f, -0.2f, 0.6f},
            {-1.5f, 0.1f, 0.25f}};
        AdamWConfig config = new AdamWConfig(0.05, 0.9, 0.999, 1e-8, 0.01);
        NDArray a = parameter(0.1f, 0.2f, -0.3f);
        AdamW first = new AdamW(config, List.of(Map.entry("a", a)));
        for (int t = 0; t < 3; t++) {
            setGradients(first, List.of(a), grads[t]);
            first.step(config.lr() * (t + 1) / 3);
        }
        AdamWState saved = first.exportState();
        NDArray b = parameter(a.toFloatArray());
        AdamW resumed = new AdamW(config, List.of(Map.entry("a", b)));
        resumed.importState(saved);
        assertEquals(3, resumed.stepCount());
        for (int t = 3; t < 5; t++) {
            setGradients(first, List.of(a), grads[t]);
            first.step(config.lr() * 0.7);
            setGradients(resumed, List.of(b), grads[t]);
            resumed.step(config.lr() * 0.7);
        }
        assertArrayEquals(a.toFloatArray(), b.toFloatArray(), 0f);
        assertArrayEquals(first.exportState().secondMoments().get("a"), resumed.exportState().secondMoments().get("a"), 0f);
        assertThrows(IllegalArgumentException.class, () -> resumed.importState(
                new AdamWState(1, Map.of("nope", new float[3]), Map.of("nope", new float[3]))));
    }

    @Test
    void zeroGradientsClearsNonFiniteValues() {
        NDArray a = parameter(1f, 2f);
        AdamW opt = new AdamW(AdamWConfig.defaults(), List.of(Map.entry("a", a)));
        setGradients(opt, List.of(a), new float[] {Float.NaN, Float.POSITIVE_INFINITY});
        opt.zeroGradients();
        try (NDManager scope = model.newSubManager()) {
            NDArray g = a.getGradient();
            g.attach(scope);
            assertArrayEquals(new float[] {0f, 0f}, g.toFloatArray(), 0f);
        }
    }

    @Test
    void parametersWithoutABackwardPassYet() {
        NDArray a = parameter(1f, 2f);
        AdamW opt = new AdamW(AdamWConfig.defaults(), List.of(Map.entry("a", a)));
        opt.zeroGradients();
        assertEquals(0, opt.clipGradients(1.0), 0);
        // DJL reads a never-computed gradient as zeros: Adam's step is 0, decay still applies: (1, 2)·(1 − 0.1·0.01)
        opt.step(0.1);
        assertArrayEquals(new float[] {0.999f, 1.998f}, a.toFloatArray(), 1e-6f);
    }

    @Test
    void rejectsBadConfig() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new AdamWConfig(1e-3, 1.0, 0.999, 1e-8, 0.01));
        assertTrue(e.getMessage().contains("0.9"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new AdamWConfig(0, 0.9, 0.999, 1e-8, 0.01));
        assertThrows(IllegalArgumentException.class, () -> new AdamWConfig(1e-3, 0.9, 0.999, 1e-8, -1));
    }
}
