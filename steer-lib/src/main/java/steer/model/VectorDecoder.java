package steer.model;

import java.util.Arrays;
import java.util.Map;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HostTensor;

/**
 * {@link Decoder}'s forward pass for generation, in Java arrays and the Vector API instead of DJL: the same
 * function (RMSNorm, rotary embedding in the "rotate half" layout, grouped-query attention, SwiGLU, Qwen2's q/k/v
 * biases and Qwen3's q/k norms) in float32, for small models on the CPU. There a DJL decoding step costs ~3 µs per
 * native array whatever its size (218 arrays per step at stories260K's shape), and PyTorch's batched products of
 * a 2×8 query block by an 8×S key block run at ~5 GFLOP/s; here a step is plain loops over the rows of the batch.
 *
 * <p>Each sequence (cache row) is computed on its own, in an order that does not depend on the other rows or on
 * how wide the batch is, so a sequence gets the same bits in any batch. The results match DJL's to float32
 * rounding, not bit for bit (sums run in another order): {@code VectorDecoderTest} compares log-probs and
 * greedy tokens on stories260K.
 *
 * <p>Needs the JVM flag {@code --add-modules jdk.incubator.vector} (the {@code steer} launcher adds it when asked
 * for this engine; see {@link #available()}). The weights are copied from the decoder once, into the Java heap
 * (four bytes a parameter): a decoder whose weights change afterwards needs a new one. No LoRA adapter.
 */
@SuppressWarnings("checkstyle:LocalVariableName") // dimension letters as in Decoder
public final class VectorDecoder {

    private static final int L = 4;     // rows per matmul block (VectorKernels.matmul)

    private final DecoderConfig config;
    private final int C, H, KV, G, Dh, I, Ip, V, Vp, Nqkv, Nqkv0;
    private final float eps;
    private final float[] embed;         // [V, C]
    private final Layer[] layers;
    private final float[] finalNorm;     // [C]
    private final float[] head;          // [C, Vp] input-major, VectorKernels.pack-ed; columns past V are 0
    private final float[] cos, sin;      // [maxPos, Dh]

    /** One layer's weights, input-major and {@link VectorKernels#pack}ed; widths padded to whole vectors with zero columns. */
    private record Layer(float[] attnNorm, float[] wqkv, float[] bqkv, float[] qNorm, float[] kNorm, float[] wo,
                         float[] mlpNorm, float[] wGateUp, float[] wDown) {
        // wqkv [C, Nqkv] (q | k | v, then zeros), bqkv [Nqkv] or null, wo [H*Dh, C] with C padded,
        // wGateUp [C, 2*Ip] (gate | zeros | up | zeros), wDown [Ip, Cp] (rows past I are 0)
    }

    /** Whether the JVM was started with {@code --add-modules jdk.incubator.vector}. */
    public static boolean available() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }

    /**
     * Copies a float32 decoder's weights.
     *
     * @throws IllegalStateException    without the Vector API module
     * @throws IllegalArgumentException for a decoder with a LoRA adapter, or not float32
     */
    public static VectorDecoder of(Decoder decoder) {
        if (!available()) {
            throw new IllegalStateException("the vector generation engine needs the JVM flag --add-modules "
                    + "jdk.incubator.vector (./steer adds it when its arguments or STEER_JAVA_OPTS name the vector engine)");
        }
        if (decoder.adapter() != null) {
            throw new IllegalArgumentException("the vector generation engine does not apply LoRA adapters; merge the "
                    + "adapter (steer lora merge) or use the djl engine");
        }
        if (decoder.dtype() != ai.djl.ndarray.types.DataType.FLOAT32) {
            throw new IllegalArgumentException("generation needs a FLOAT32 decoder, got " + decoder.dtype());
        }
        return new VectorDecoder(decoder.config(), decoder.toHostTensors());
    }

    private VectorDecoder(DecoderConfig config, Map<String, HostTensor> t) {
        this.config = config;
        C = config.hiddenSize();
        H = config.numHeads();
        KV = config.numKvHeads();
        G = H / KV;
        Dh = config.headDim();
        I = config.intermediateSize();
        Ip = VectorKernels.roundUp(I, VectorKernels.LANES);
        V = config.vocabSize();
        Vp = VectorKernels.roundUp(V, VectorKernels.LANES);
        Nqkv0 = (H + 2 * KV) * Dh;
        Nqkv = VectorKernels.roundUp(Nqkv0, VectorKernels.LANES);
        eps = (float) config.rmsNormEps();
        int Cp = VectorKernels.roundUp(C, VectorKernels.LANES);
        embed = t.get("model.embed_tokens.weight").data();
        layers = new Layer[config.numLayers()];
        for (int i = 0; i < layers.length; i++) {
            String p = "model.layers." + i + ".";
            float[] wqkv = new float[C * Nqkv];
            transposeInto(t.get(p + "self_attn.q_proj.weight").data(), H * Dh, C, wqkv, Nqkv, 0);
            transposeInto(t.get(p + "self_attn.k_proj.weight").data(), KV * Dh, C, wqkv, Nqkv, H * Dh);
            transposeInto(t.get(p + "self_attn.v_proj.weight").data(), KV * Dh, C, wqkv, Nqkv, (H + KV) * Dh);
            float[] bqkv = null;
            if (config.attentionBias()) {
                bqkv = new float[Nqkv];
                System.arraycopy(t.get(p + "self_attn.q_proj.bias").data(), 0, bqkv, 0, H * Dh);
                System.arraycopy(t.get(p + "self_attn.k_proj.bias").data(), 0, bqkv, H * Dh, KV * Dh);
                System.arraycopy(t.get(p + "self_attn.v_proj.bias").data(), 0, bqkv, (H + KV) * Dh, KV * Dh);
            }
            float[] wo = new float[H * Dh * Cp];
            transposeInto(t.get(p + "self_attn.o_proj.weight").data(), C, H * Dh, wo, Cp, 0);
            float[] wGateUp = new float[C * 2 * Ip];
            transposeInto(t.get(p + "mlp.gate_proj.weight").data(), I, C, wGateUp, 2 * Ip, 0);
            transposeInto(t.get(p + "mlp.up_proj.weight").data(), I, C, wGateUp, 2 * Ip, Ip);
            float[] wDown = new float[Ip * Cp];
            transposeInto(t.get(p + "mlp.down_proj.weight").data(), C, I, wDown, Cp, 0);
            layers[i] = new Layer(t.get(p + "input_layernorm.weight").data(), VectorKernels.pack(wqkv, C, Nqkv), bqkv,
                    config.qkNorm() ? t.get(p + "self_attn.q_norm.weight").data() : null,
                    config.qkNorm() ? t.get(p + "self_attn.k_norm.weight").data() : null,
                    VectorKernels.pack(wo, H * Dh, Cp), t.get(p + "post_attention_layernorm.weight").data(),
                    VectorKernels.pack(wGateUp, C, 2 * Ip), VectorKernels.pack(wDown, Ip, Cp));
        }
        finalNorm = t.get("model.norm.weight").data();
        float[] headRows = new float[C * Vp];
        transposeInto(config.tieWordEmbeddings() ? embed : t.get("lm_head.weight").data(), V, C, headRows, Vp, 0);
        head = VectorKernels.pack(headRows, C, Vp);
        float[][] tables = Decoder.rotaryTables(config.maxPositionEmbeddings(), Dh, config.ropeTheta(),
                config.ropeScaling());
        cos = tables[0];
        sin = tables[1];
    }

    /** Writes {@code w [out, in]} (a Hugging Face weight) transposed into columns {@code [col0, col0 + out)} of {@code dst [in, width]}. */
    private static void transposeInto(float[] w, int out, int in, float[] dst, int width, int col0) {
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                dst[i * width + col0 + o] = w[o * in + i];
            }
        }
    }

    /** The hyperparameters. */
    public DecoderConfig config() {
        return config;
    }

    /**
     * Keys and values of {@code rows} sequences of up to {@code positions} tokens each, per layer: keys in tiles
     * of {@link VectorKernels#LANES} positions, {@code [row][kvHead][capacity / LANES][Dh][LANES]} (a head's scores
     * are then a sum of whole vectors, and one row's keys of a head are one run of memory), values
     * {@code [row][kvHead][capacity][Dh]}. A row's positions past those written hold zeros or older values, never
     * read with a weight other than 0.
     */
    public final class Cache {
        private final int rows;
        private final int positions;
        private final int capacity;
        private final float[][] keys;
        private final float[][] values;
        private final float[][] scratch = new float[9][];   // forward's activations, reused across steps

        /** Scratch array {@code i} with at least {@code size} floats; its contents are whatever the last step left. */
        private float[] scratch(int i, int size) {
            if (scratch[i] == null || scratch[i].length < size) {
                scratch[i] = new float[size];
            }
            return scratch[i];
        }

        private Cache(int rows, int positions) {
            this.rows = rows;
            this.positions = positions;
            this.capacity = VectorKernels.roundUp(positions, VectorKernels.BLOCK);
            int n = Math.multiplyExact(Math.multiplyExact(rows, KV * Dh), capacity);
            keys = new float[layers.length][n];
            values = new float[layers.length][n];
        }

        /** Copies row {@code from}'s first {@code length} positions to row {@code to} (the n samples of one prompt). */
        public void copyRow(int from, int to, int length) {
            copyRow(from, this, to, length);
        }

        /**
         * Copies row {@code from}'s first {@code length} positions to row {@code to} of {@code dst}, a cache of the
         * same decoder with any rows and positions (a running batch growing its cache).
         */
        public void copyRow(int from, Cache dst, int to, int length) {
            if (length > capacity || length > dst.capacity || from >= rows || to >= dst.rows) {
                throw new IllegalArgumentException("cannot copy " + length + " positions of row " + from + " ("
                        + rows + " x " + capacity + ") to row " + to + " (" + dst.rows + " x " + dst.capacity + ")");
            }
            for (int l = 0; l < layers.length; l++) {
                for (int g = 0; g < KV; g++) {
                    // whole tiles of keys: the positions past length in the last one are masked until written
                    System.arraycopy(keys[l], keyAt(from, g, 0, 0), dst.keys[l], dst.keyAt(to, g, 0, 0),
                            VectorKernels.roundUp(length, VectorKernels.LANES) * Dh);
                    System.arraycopy(values[l], valueAt(from, g, 0), dst.values[l], dst.valueAt(to, g, 0),
                            length * Dh);
                }
            }
        }

        /** Positions per row this cache was made for (it holds up to {@code capacity}, a whole number of blocks). */
        public int positions() {
            return positions;
        }

        private int keyAt(int row, int g, int d, int pos) {
            int tile = pos / VectorKernels.LANES, lane = pos % VectorKernels.LANES;
            return ((row * KV + g) * capacity + tile * VectorKernels.LANES) * Dh + d * VectorKernels.LANES + lane;
        }

        private int valueAt(int row, int g, int pos) {
            return ((row * KV + g) * capacity + pos) * Dh;
        }
    }

    /** An empty cache for {@code rows} sequences of at most {@code positions} tokens (prompt and continuation). */
    public Cache newCache(int rows, int positions) {
        if (positions > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException(positions + " positions exceed the model's "
                    + config.maxPositionEmbeddings());
        }
        return new Cache(rows, positions);
    }

    /**
     * Runs {@code n} tokens through the model: token i is {@code ids[i]} at position {@code positions[i]} of cache
     * row {@code rows[i]}, and attends that row's positions {@code [0, positions[i]]}; its key and value are written
     * there. Tokens of one row must come in order of position, a row's earlier positions written by this or an
     * earlier call (a prompt's tokens together, then one token per step).
     *
     * @param logitsOf indices into the n tokens whose next-token log-probs to return
     * @return the log-softmax of those tokens' logits, {@code [logitsOf.length, V]}
     */
    public float[] forward(Cache cache, int n, int[] ids, int[] rows, int[] positions, int[] logitsOf) {
        int Np = VectorKernels.roundUp(n, L);
        int Cp = VectorKernels.roundUp(C, VectorKernels.LANES);
        // rows past n in these are scratch: computed, never read
        float[] x = cache.scratch(0, Np * C);
        float[] xn = cache.scratch(1, Np * C);
        float[] qkv = cache.scratch(2, Np * Nqkv);
        float[] attn = cache.scratch(3, Np * H * Dh);
        float[] proj = cache.scratch(4, Np * Cp);
        float[] gateUp = cache.scratch(5, Np * 2 * Ip);
        float[] mid = cache.scratch(6, Np * Ip);
        float[] scores = cache.scratch(7, 2 * cache.capacity);   // two heads' scores: a pair's second at capacity
        for (int i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= V) {
                throw new IllegalArgumentException("token id " + ids[i] + " outside the vocabulary [0, " + V + ")");
            }
            if (positions[i] >= cache.capacity || rows[i] >= cache.rows) {
                throw new IllegalArgumentException("position " + positions[i] + " of row " + rows[i]
                        + " is outside the cache (" + cache.rows + " rows, " + cache.capacity + " positions)");
            }
            System.arraycopy(embed, ids[i] * C, x, i * C, C);
        }
        float scale = (float) (1.0 / Math.sqrt(Dh));
        for (int li = 0; li < layers.length; li++) {
            Layer l = layers[li];
            rmsNorm(x, l.attnNorm, xn, n, C);
            VectorKernels.matmul(xn, C, l.wqkv, Nqkv, qkv, n);
            writeQueriesKeysValues(l, cache, cache.keys[li], cache.values[li], qkv, n, rows, positions, scale);
            attend(cache, cache.keys[li], cache.values[li], qkv, scores, attn, n, rows, positions);
            VectorKernels.matmul(attn, H * Dh, l.wo, Cp, proj, n);
            addResidual(x, proj, Cp, n);
            rmsNorm(x, l.mlpNorm, xn, n, C);
            VectorKernels.matmul(xn, C, l.wGateUp, 2 * Ip, gateUp, n);
            for (int i = 0; i < n; i++) {
                VectorKernels.swiGlu(gateUp, i * 2 * Ip, i * 2 * Ip + Ip, mid, i * Ip, Ip);
                // padded gate columns are 0 and silu(0)·0 = 0, so the padded down-projection rows add nothing
            }
            VectorKernels.matmul(mid, Ip, l.wDown, Cp, proj, n);
            addResidual(x, proj, Cp, n);
        }
        int m = logitsOf.length;
        int Mp = VectorKernels.roundUp(m, L);
        float[] last = cache.scratch(1, Mp * C);
        for (int j = 0; j < m; j++) {
            System.arraycopy(x, logitsOf[j] * C, last, j * C, C);
        }
        rmsNorm(last, finalNorm, last, m, C);
        float[] logits = cache.scratch(8, Mp * Vp);
        VectorKernels.matmul(last, C, head, Vp, logits, m);
        float[] out = new float[m * V];
        for (int j = 0; j < m; j++) {
            Arrays.fill(logits, j * Vp + V, (j + 1) * Vp, Float.NEGATIVE_INFINITY);
            VectorKernels.logSoftmax(logits, j * Vp, Vp, logits, j * Vp);
            System.arraycopy(logits, j * Vp, out, j * V, V);
        }
        return out;
    }

    /**
     * Each token's queries, keys and values from its row of {@code qkv}: bias, Qwen3's q/k norms, the rotary
     * embedding at its position, the queries scaled by {@code scale}; its key and value written to the cache.
     * (Kept out of {@link #forward}, as {@link #attend} is: one method holding it all went past C2's inlining
     * budget, and the Vector API calls left over then ran as Java calls.)
     */
    private void writeQueriesKeysValues(Layer l, Cache cache, float[] keys, float[] values, float[] qkv, int n,
                                        int[] rows, int[] positions, float scale) {
        for (int i = 0; i < n; i++) {
            int q0 = i * Nqkv;
            if (l.bqkv != null) {
                for (int j = 0; j < Nqkv0; j++) {
                    qkv[q0 + j] += l.bqkv[j];
                }
            }
            if (l.qNorm != null) {
                for (int h = 0; h < H; h++) {
                    rmsNorm(qkv, q0 + h * Dh, l.qNorm, Dh);
                }
                for (int g = 0; g < KV; g++) {
                    rmsNorm(qkv, q0 + (H + g) * Dh, l.kNorm, Dh);
                }
            }
            int pos = positions[i];
            for (int h = 0; h < H + KV; h++) {
                rotate(qkv, q0 + h * Dh, pos);
            }
            for (int j = q0; j < q0 + H * Dh; j++) {
                qkv[j] *= scale;    // the queries scaled once here, not in every block of the score loops
            }
            for (int g = 0; g < KV; g++) {
                int k0 = q0 + (H + g) * Dh, v0 = q0 + (H + KV + g) * Dh;
                for (int d = 0, at = cache.keyAt(rows[i], g, 0, pos); d < Dh; d++, at += VectorKernels.LANES) {
                    keys[at] = qkv[k0 + d];    // keyAt(row, g, d, pos) is keyAt(row, g, 0, pos) + d·LANES
                }
                System.arraycopy(qkv, v0, values, cache.valueAt(rows[i], g, pos), Dh);
            }
        }
    }

    /** Grouped-query attention of each token over its row's positions {@code [0, position]}, into {@code attn}. */
    private void attend(Cache cache, float[] keys, float[] values, float[] qkv, float[] scores, float[] attn, int n,
                        int[] rows, int[] positions) {
        boolean pairs = G % 2 == 0 && Dh % VectorKernels.LANES == 0;
        int b0 = cache.capacity;
        for (int i = 0; i < n; i++) {
            int s = positions[i] + 1;
            for (int h = 0; h < H; h += pairs ? 2 : 1) {
                int g = h / G;
                int k0 = cache.keyAt(rows[i], g, 0, 0), v0 = cache.valueAt(rows[i], g, 0);
                int qa = i * Nqkv + h * Dh, oa = (i * H + h) * Dh;
                if (pairs) {
                    // heads h and h + 1 share key/value head g: each key and value is loaded once for both
                    VectorKernels.scoresOfPair(qkv, qa, qa + Dh, Dh, keys, k0, s, scores, b0);
                    float sumA = VectorKernels.exponentiate(scores, 0, s, VectorKernels.maskedMax(scores, 0, s));
                    float sumB = VectorKernels.exponentiate(scores, b0, s,
                            VectorKernels.maskedMax(scores, b0, s));
                    VectorKernels.weightedValuesOfPair(scores, b0, s, 1f / sumA, 1f / sumB, values, v0, Dh, attn,
                            oa, oa + Dh);
                    continue;
                }
                float sum = VectorKernels.exponentiate(scores, 0, s,
                        VectorKernels.scores(qkv, qa, Dh, keys, k0, s, scores));
                if (Dh % VectorKernels.LANES == 0) {
                    VectorKernels.weightedValues(scores, s, 1f / sum, values, v0, Dh, attn, oa);
                } else {
                    VectorKernels.weightedValuesScalar(scores, s, 1f / sum, values, v0, Dh, attn, oa);
                }
            }
        }
    }

    /** RMSNorm of rows {@code [0, n)} of width c: {@code x / sqrt(mean(x²) + eps) · w}. */
    private void rmsNorm(float[] x, float[] w, float[] out, int n, int c) {
        for (int r = 0; r < n; r++) {
            VectorKernels.rmsNorm(x, r * c, w, out, r * c, c, eps);
        }
    }

    /** RMSNorm of one head {@code x[o, o + d)} in place (Qwen3's q/k norm). */
    private void rmsNorm(float[] x, int o, float[] w, int d) {
        VectorKernels.rmsNorm(x, o, w, x, o, d, eps);
    }

    /** Rotary embedding of one head {@code x[o, o + Dh)} at {@code pos}, "rotate half": x·cos + cat(−x2, x1)·sin. */
    private void rotate(float[] x, int o, int pos) {
        if (Dh == VectorKernels.LANES) {
            VectorKernels.rotateOneVector(x, o, cos, sin, pos * Dh);   // the same bits, one vector
            return;
        }
        int half = Dh / 2, t = pos * Dh;
        for (int i = 0; i < half; i++) {
            float a = x[o + i], b = x[o + i + half];
            x[o + i] = a * cos[t + i] - b * sin[t + i];
            x[o + i + half] = b * cos[t + i + half] + a * sin[t + i + half];
        }
    }

    /** {@code x[r, :C] += y[r, :C]} for rows {@code [0, n)}, y of row width {@code width}. */
    private void addResidual(float[] x, float[] y, int width, int n) {
        for (int r = 0; r < n; r++) {
            for (int i = 0; i < C; i++) {
                x[r * C + i] += y[r * width + i];
            }
        }
    }
}
