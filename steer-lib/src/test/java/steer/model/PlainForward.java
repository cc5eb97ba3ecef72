package steer.model;

import java.util.Map;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HostTensor;

/**
 * A reference forward pass in plain Java doubles, written from Hugging Face's {@code modeling_llama.py} and
 * {@code modeling_qwen3.py} one position and one head at a time, with none of {@link Decoder}'s fusing: for
 * checking the decoder on tiny shapes. Only the rotary frequencies come from {@link Decoder#inverseFrequencies},
 * which {@code ModelConfigsTest} checks against values worked by hand.
 */
@SuppressWarnings("checkstyle:LocalVariableName") // dimension letters as in Decoder
final class PlainForward {

    private PlainForward() {
    }

    /** Logits of a causal forward over {@code ids} at positions 0, 1, …, flattened {@code [T·V]}. */
    static double[] logits(DecoderConfig c, Map<String, HostTensor> t, int[] ids) {
        int T = ids.length, C = c.hiddenSize(), H = c.numHeads(), KV = c.numKvHeads(), Dh = c.headDim();
        int G = H / KV, V = c.vocabSize(), half = Dh / 2;
        double eps = c.rmsNormEps();
        double[] inv = Decoder.inverseFrequencies(Dh, c.ropeTheta(), c.ropeScaling());
        float[] embed = t.get("model.embed_tokens.weight").data();
        double[][] x = new double[T][C];
        for (int p = 0; p < T; p++) {
            for (int i = 0; i < C; i++) {
                x[p][i] = embed[ids[p] * C + i];
            }
        }
        for (int l = 0; l < c.numLayers(); l++) {
            String pre = "model.layers." + l + ".";
            double[][] q = new double[T][], k = new double[T][], v = new double[T][];
            for (int p = 0; p < T; p++) {
                double[] h = rmsNorm(x[p], w(t, pre + "input_layernorm.weight"), eps);
                q[p] = linear(t, pre + "self_attn.q_proj", h, c.attentionBias());
                k[p] = linear(t, pre + "self_attn.k_proj", h, c.attentionBias());
                v[p] = linear(t, pre + "self_attn.v_proj", h, c.attentionBias());
                for (int head = 0; head < H; head++) {
                    headOp(c, t, pre + "self_attn.q_norm.weight", q[p], head, Dh, eps, p, inv, half);
                }
                for (int head = 0; head < KV; head++) {
                    headOp(c, t, pre + "self_attn.k_norm.weight", k[p], head, Dh, eps, p, inv, half);
                }
            }
            for (int p = 0; p < T; p++) {
                double[] y = new double[H * Dh];
                for (int head = 0; head < H; head++) {
                    int kvHead = head / G;                       // repeat_kv: query head j·G + g reads kv head j
                    double[] score = new double[p + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int s = 0; s <= p; s++) {
                        double dot = 0;
                        for (int i = 0; i < Dh; i++) {
                            dot += q[p][head * Dh + i] * k[s][kvHead * Dh + i];
                        }
                        score[s] = dot / Math.sqrt(Dh);
                        max = Math.max(max, score[s]);
                    }
                    double sum = 0;
                    for (int s = 0; s <= p; s++) {
                        score[s] = Math.exp(score[s] - max);
                        sum += score[s];
                    }
                    for (int s = 0; s <= p; s++) {
                        for (int i = 0; i < Dh; i++) {
                            y[head * Dh + i] += score[s] / sum * v[s][kvHead * Dh + i];
                        }
                    }
                }
                add(x[p], linear(t, pre + "self_attn.o_proj", y, false));
                double[] h = rmsNorm(x[p], w(t, pre + "post_attention_layernorm.weight"), eps);
                double[] gate = linear(t, pre + "mlp.gate_proj", h, false);
                double[] up = linear(t, pre + "mlp.up_proj", h, false);
                for (int i = 0; i < gate.length; i++) {
                    gate[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];   // silu(gate) · up
                }
                add(x[p], linear(t, pre + "mlp.down_proj", gate, false));
            }
        }
        String headName = c.tieWordEmbeddings() ? "model.embed_tokens" : "lm_head";
        double[] out = new double[T * V];
        for (int p = 0; p < T; p++) {
            double[] logits = linear(t, headName, rmsNorm(x[p], w(t, "model.norm.weight"), eps), false);
            System.arraycopy(logits, 0, out, p * V, V);
        }
        return out;
    }

    /** Qwen3's RMSNorm of one head (when the config has it), then rotate-half RoPE at position {@code pos}. */
    private static void headOp(DecoderConfig c, Map<String, HostTensor> t, String norm, double[] vec, int head,
                               int Dh, double eps, int pos, double[] inv, int half) {
        int at = head * Dh;
        if (c.qkNorm()) {
            double[] seg = new double[Dh];
            System.arraycopy(vec, at, seg, 0, Dh);
            System.arraycopy(rmsNorm(seg, w(t, norm), eps), 0, vec, at, Dh);
        }
        for (int i = 0; i < half; i++) {
            double cos = Math.cos(pos * inv[i]), sin = Math.sin(pos * inv[i]);
            double a = vec[at + i], b = vec[at + i + half];
            vec[at + i] = a * cos - b * sin;           // x·cos + rotate_half(x)·sin, rotate_half = (−x2, x1)
            vec[at + i + half] = b * cos + a * sin;
        }
    }

    private static float[] w(Map<String, HostTensor> t, String name) {
        return t.get(name).data();
    }

    /** {@code W x (+ b)} for a {@code torch.nn.Linear} weight {@code [out, in]} named {@code prefix.weight}. */
    private static double[] linear(Map<String, HostTensor> t, String prefix, double[] x, boolean bias) {
        HostTensor weight = t.get(prefix + ".weight");
        int out = (int) weight.shape()[0], in = (int) weight.shape()[1];
        float[] d = weight.data();
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = bias ? t.get(prefix + ".bias").data()[o] : 0;
            for (int i = 0; i < in; i++) {
                s += d[o * in + i] * x[i];
            }
            y[o] = s;
        }
        return y;
    }

    private static double[] rmsNorm(double[] x, float[] weight, double eps) {
        double ms = 0;
        for (double a : x) {
            ms += a * a;
        }
        double r = 1 / Math.sqrt(ms / x.length + eps);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = x[i] * r * weight[i];
        }
        return y;
    }

    private static void add(double[] x, double[] y) {
        for (int i = 0; i < x.length; i++) {
            x[i] += y[i];
        }
    }
}
