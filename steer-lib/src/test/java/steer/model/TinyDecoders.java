package steer.model;

import ai.djl.ndarray.NDManager;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HostTensor;

/** Small random decoders for tests: weights N(0, 0.2²) so that logits vary, norms near 1. */
final class TinyDecoders {

    private TinyDecoders() {
    }

    static DecoderConfig llama() {
        return new DecoderConfig("llama", 50, 16, 40, 2, 4, 2, 1e-5, 10000, 64, true, false, 1, 2);
    }

    static DecoderConfig qwen2() {
        return new DecoderConfig("qwen2", 50, 16, 40, 2, 4, 2, 1e-6, 1_000_000, 64, false, true, 1, 2);
    }

    /** Qwen3's shape in small: q/k norms, no biases, head width 8 against hidden 12 / 2 heads = 6. */
    static DecoderConfig qwen3() {
        return new DecoderConfig("qwen3", 50, 12, 40, 2, 2, 1, 8, 1e-6, 1_000_000, null, 64, true, false, 1,
                java.util.List.of(2, 3));
    }

    /** The shape named {@code llama}, {@code qwen2} or {@code qwen3}, for parameterized tests. */
    static DecoderConfig byKind(String kind) {
        switch (kind) {
            case "llama":
                return llama();
            case "qwen2":
                return qwen2();
            case "qwen3":
                return qwen3();
            default:
                throw new IllegalArgumentException(kind);
        }
    }

    static Decoder create(DecoderConfig c, long seed) {
        return Decoder.fromHostTensors(c, tensors(c, seed), NDManager.newBaseManager());
    }

    static Map<String, HostTensor> tensors(DecoderConfig c, long seed) {
        Random r = new Random(seed);
        Map<String, HostTensor> t = new LinkedHashMap<>();
        int C = c.hiddenSize(), q = c.qDim(), kv = c.kvDim(), I = c.intermediateSize();
        add(t, r, "model.embed_tokens.weight", 1.0f, c.vocabSize(), C);
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            norm(t, r, p + "input_layernorm.weight", C);
            add(t, r, p + "self_attn.q_proj.weight", 0.2f, q, C);
            add(t, r, p + "self_attn.k_proj.weight", 0.2f, kv, C);
            add(t, r, p + "self_attn.v_proj.weight", 0.2f, kv, C);
            if (c.attentionBias()) {
                add(t, r, p + "self_attn.q_proj.bias", 0.1f, q);
                add(t, r, p + "self_attn.k_proj.bias", 0.1f, kv);
                add(t, r, p + "self_attn.v_proj.bias", 0.1f, kv);
            }
            if (c.qkNorm()) {
                norm(t, r, p + "self_attn.q_norm.weight", c.headDim());
                norm(t, r, p + "self_attn.k_norm.weight", c.headDim());
            }
            add(t, r, p + "self_attn.o_proj.weight", 0.2f, C, q);
            norm(t, r, p + "post_attention_layernorm.weight", C);
            add(t, r, p + "mlp.gate_proj.weight", 0.2f, I, C);
            add(t, r, p + "mlp.up_proj.weight", 0.2f, I, C);
            add(t, r, p + "mlp.down_proj.weight", 0.2f, C, I);
        }
        norm(t, r, "model.norm.weight", C);
        if (!c.tieWordEmbeddings()) {
            add(t, r, "lm_head.weight", 0.3f, c.vocabSize(), C);
        }
        return t;
    }

    private static void add(Map<String, HostTensor> t, Random r, String name, float std, int... shape) {
        int n = 1;
        long[] s = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            n *= shape[i];
            s[i] = shape[i];
        }
        float[] d = new float[n];
        for (int i = 0; i < n; i++) {
            d[i] = (float) (r.nextGaussian() * std);
        }
        t.put(name, new HostTensor(name, s, d));
    }

    private static void norm(Map<String, HostTensor> t, Random r, String name, int n) {
        float[] d = new float[n];
        for (int i = 0; i < n; i++) {
            d[i] = 1f + (float) (r.nextGaussian() * 0.1);
        }
        t.put(name, new HostTensor(name, new long[] {n}, d));
    }
}
