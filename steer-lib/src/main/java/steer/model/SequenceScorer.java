package steer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Log-probabilities of responses given prompts, for batches of (prompt, response) pairs: the quantity every
 * objective in Steer is built from.
 *
 * <p>Each pair is laid out as prompt + response, right-padded to the longest pair. The logits at position
 * t score token t + 1; only targets that are response tokens count, so prompt tokens never contribute.
 *
 * <p>Memory: the vocabulary logits are computed only at response positions, a bounded chunk of positions at a
 * time, and each log-prob is the target's logit minus the logsumexp over the vocabulary; the full-vocabulary
 * log-softmax of every position, {@code [B, L-1, V]}, is never built (at Qwen2's V = 151,936 and B × L = 4 × 256
 * it alone is 620 MB in F32).
 */
public final class SequenceScorer {

    /** Upper bound on one chunk's logits: {@code chunk · V · 4} bytes. */
    static final long CHUNK_BYTES = 64L << 20;
    /** The chunk size that selects the plain path: log-softmax of every position, then a gather. */
    static final int PLAIN = 0;

    private SequenceScorer() {
    }

    /**
     * Per-token log-probs of a batch of responses, as arrays that keep the autograd graph when the caller
     * records gradients (training) and none otherwise.
     *
     * @param tokenLogProbs {@code [B, L-1]}: log π(ids[t+1] | ids[..t]) where ids[t+1] is a response token, else 0
     * @param mask          {@code [B, L-1]}: 1 where {@code tokenLogProbs} holds a response token; the scoring dtype
     * @param lengths       {@code [B]}: response lengths |y|; the scoring dtype (F32, or F64 for an
     *                      F64 model; see {@link #scoringType})
     * @param promptLengths prompt lengths in tokens
     */
    public record Batch(NDArray tokenLogProbs, NDArray mask, NDArray lengths, int[] promptLengths) {

        /** log π(y|x) summed over response tokens, {@code [B]}. */
        public NDArray sum() {
            return tokenLogProbs.sum(new int[] {1});
        }

        /** Per-token mean log π(y|x)/|y|, {@code [B]}; an empty response gives 0. */
        public NDArray mean() {
            return sum().div(lengths.maximum(1f));
        }
    }

    /**
     * Scores each (prompt, response) pair in one forward pass.
     *
     * @param m         the manager that will own every result (a step or request manager, never the model's)
     * @param prompts   prompt token ids, at least one token each
     * @param responses response token ids, possibly empty
     */
    public static Batch score(Decoder model, NDManager m, List<int[]> prompts, List<int[]> responses) {
        return score(model, m, prompts, responses, defaultChunk(model.config().vocabSize()));
    }

    /**
     * {@link #score(Decoder, NDManager, List, List)} with log-probs computed {@code chunkPositions} response
     * positions at a time, or by the full-vocabulary log-softmax of every position when it is {@link #PLAIN} (the
     * reference the chunked path is tested against).
     */
    static Batch score(Decoder model, NDManager m, List<int[]> prompts, List<int[]> responses, int chunkPositions) {
        if (chunkPositions < 1 && chunkPositions != PLAIN) {
            throw new IllegalArgumentException("chunk of " + chunkPositions + " positions; need at least 1");
        }
        int B = prompts.size();
        if (B == 0 || responses.size() != B) {
            throw new IllegalArgumentException("need as many responses as prompts, and at least one; got "
                    + prompts.size() + " prompts and " + responses.size() + " responses");
        }
        int L = 0;
        for (int b = 0; b < B; b++) {
            if (prompts.get(b).length == 0) {
                throw new IllegalArgumentException("prompt " + b + " is empty; it needs at least one token (BOS)");
            }
            L = Math.max(L, prompts.get(b).length + responses.get(b).length);
        }
        if (L > model.config().maxPositionEmbeddings()) {
            throw new IllegalArgumentException("a prompt and response of " + L + " tokens exceed the model's "
                    + model.config().maxPositionEmbeddings() + " positions");
        }
        long[] ids = new long[B * L];
        long[] positions = new long[B * L];
        long[] targets = new long[B * (L - 1)];
        float[] mask = new float[B * (L - 1)];
        float[] lengths = new float[B];
        int[] promptLengths = new int[B];
        for (int b = 0; b < B; b++) {
            int[] p = prompts.get(b), r = responses.get(b);
            promptLengths[b] = p.length;
            lengths[b] = r.length;
            for (int t = 0; t < L; t++) {
                ids[b * L + t] = t < p.length ? p[t] : t < p.length + r.length ? r[t - p.length] : 0;
                positions[b * L + t] = t;
            }
            for (int t = 0; t < L - 1; t++) {
                targets[b * (L - 1) + t] = ids[b * L + t + 1];
                mask[b * (L - 1) + t] = t + 1 >= p.length && t + 1 < p.length + r.length ? 1f : 0f;
            }
        }
        // right padding sits after every real token, so the causal mask alone keeps it out of view
        DataType dtype = model.dtype();
        NDArray bias = Generation.causalBias(m, L).toType(dtype, false).reshape(1, 1, L, L);
        NDArray hidden = model.hidden(m.create(ids, new Shape(B, L)), m.create(positions, new Shape(B, L)), bias, null);
        DataType out = scoringType(dtype);
        NDArray maskArray = m.create(mask, new Shape(B, L - 1)).toType(out, false);
        NDArray lengthArray = m.create(lengths).toType(out, false);
        if (chunkPositions == PLAIN) {
            NDArray logp = model.logits(hidden.get(":, :-1, :")).toType(out, false).logSoftmax(-1); // [B, L-1, V]
            NDArray picked = logp.gather(m.create(targets, new Shape(B, L - 1, 1)), 2)                // [B, L-1, 1]
                    .reshape(B, L - 1).mul(maskArray);                                                   // [B, L-1]
            return new Batch(picked, maskArray, lengthArray, promptLengths);
        }
        return new Batch(responseLogProbs(model, m, hidden, targets, mask, L, chunkPositions, out), maskArray,
                lengthArray, promptLengths);
    }

    /**
     * Log-probs at the N response positions only, {@code chunk} positions at a time: log π = z[target] −
     * logsumexp(z) over the vocabulary, with the max subtracted first (its gradient cancels, so it is detached).
     * Only one chunk's {@code [n, V]} logits are alive at once outside the autograd graph; under recording, the
     * graph keeps each chunk's exp(z − max) for the backward pass, N·V in all instead of B·(L−1)·V twice.
     *
     * @param hidden  {@code [B, L, C]} final hidden states
     * @param targets {@code [B·(L-1)]} next-token ids
     * @param mask    {@code [B·(L-1)]} 1 at response targets
     * @return {@code [B, L-1]}: the log-prob at response targets, 0 elsewhere, in {@code out}
     */
    private static NDArray responseLogProbs(Decoder model, NDManager m, NDArray hidden, long[] targets, float[] mask,
                                            int L, int chunk, DataType out) {
        int B = (int) hidden.getShape().get(0);
        long C = hidden.getShape().get(2);
        int N = 0;
        for (float v : mask) {
            N += v > 0 ? 1 : 0;
        }
        // where[b·(L−1) + t]: the index of that target among the N response targets, or N (a zero) when it is none
        long[] where = new long[B * (L - 1)];
        long[] rows = new long[N];
        long[] picked = new long[N];
        int n = 0;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < L - 1; t++) {
                int i = b * (L - 1) + t;
                if (mask[i] > 0) {
                    rows[n] = (long) b * L + t;          // the hidden state at t scores the token at t + 1
                    picked[n] = targets[i];
                    where[i] = n++;
                } else {
                    where[i] = N;
                }
            }
        }
        if (N == 0) {
            return Scalars.mul(hidden.get(":, :-1, 0").toType(out, false), 0);   // zeros that keep the graph, as before
        }
        NDArray flat = hidden.reshape(B * (long) L, C);                                        // [B·L, C]
        NDList parts = new NDList();
        for (int from = 0; from < N; from += chunk) {
            int to = Math.min(N, from + chunk);
            // the index arrays belong to m, not to the chunk's scope: gather's backward reads them after the scope
            // closes, and a freed index array's memory gives it garbage indices
            NDArray rowIds = m.create(Arrays.copyOfRange(rows, from, to));
            NDArray targetIds = m.create(Arrays.copyOfRange(picked, from, to), new Shape(to - from, 1));
            try (NDManager scope = m.newSubManager()) {
                NDArray h = Decoder.rows(flat, rowIds);                                            // [n, C]
                NDArray z = model.logits(h).toType(out, false);                                    // [n, V]
                NDArray max = z.max(new int[] {1}, true).stopGradient();                           // [n, 1]
                NDArray lse = z.sub(max).exp().sum(new int[] {1}).log().add(max.reshape(-1));      // [n]
                NDArray target = z.gather(targetIds, 1).reshape(-1);                              // [n]
                NDArray logp = target.sub(lse);
                logp.attach(m);
                parts.add(logp);
            }
        }
        parts.add(m.zeros(new Shape(1), out));
        NDArray all = NDArrays.concat(parts);                  // [N + 1]
        // a gather (embedding) back into the [B, L-1] grid; its backward scatters each gradient to its position
        return Decoder.rows(all.reshape(N + 1, 1), m.create(where, new Shape(B, L - 1))).reshape(B, L - 1);
    }

    /** Log-softmax and log-probs are computed in F32 (F64 for an F64 model), whatever the weights' type. */
    static DataType scoringType(DataType dtype) {
        return dtype == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
    }

    /**
     * The default chunk: as many positions as keep one chunk's F32 logits under {@value #CHUNK_BYTES} bytes
     * (110 positions at Qwen2's vocabulary of 151,936), at least one.
     */
    static int defaultChunk(int vocabSize) {
        return (int) Math.max(1, CHUNK_BYTES / (4L * vocabSize));
    }

    /** Scores the pairs with gradient recording off and returns plain Java values (serving and evaluation). */
    public static List<ResponseLogProbs> scoreToJava(Decoder model, List<int[]> prompts, List<int[]> responses) {
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager m = model.manager().newSubManager()) {
            Batch batch = score(model, m, prompts, responses);
            long width = batch.tokenLogProbs().getShape().get(1);
            float[] tokens = batch.tokenLogProbs().toType(DataType.FLOAT32, false).toFloatArray();
            List<ResponseLogProbs> out = new ArrayList<>(prompts.size());
            for (int b = 0; b < prompts.size(); b++) {
                int n = responses.get(b).length;
                float[] per = new float[n];
                double sum = 0;
                for (int i = 0; i < n; i++) {
                    per[i] = tokens[(int) (b * width + batch.promptLengths()[b] - 1 + i)];
                    sum += per[i];
                }
                out.add(new ResponseLogProbs(sum, n == 0 ? 0 : sum / n, per));
            }
            return out;
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    /**
     * The logits of the token that would follow each prompt, as a judge reads them (p(A) against p(B) for the
     * next token). Prompts are left-padded like generation's prefill, so every row ends on its last real token.
     *
     * @param prompts token ids, at least one each
     * @return {@code [B][V]} logits, in Java memory
     */
    public static float[][] nextTokenLogits(Decoder model, List<int[]> prompts) {
        int B = prompts.size();
        if (B == 0) {
            return new float[0][];
        }
        for (int b = 0; b < B; b++) {
            if (prompts.get(b).length == 0) {
                throw new IllegalArgumentException("prompt " + b + " is empty; it needs at least one token (BOS)");
            }
        }
        LeftPadded layout = LeftPadded.of(prompts, 0);
        int P = layout.length();
        if (P > model.config().maxPositionEmbeddings()) {
            throw new IllegalArgumentException("a prompt of " + P + " tokens exceeds the model's "
                    + model.config().maxPositionEmbeddings() + " positions");
        }
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager m = model.manager().newSubManager()) {
            DataType dtype = model.dtype();
            NDArray bias = m.create(layout.keyBias(), new Shape(B, 1, 1, P)).add(Generation.causalBias(m, P))
                    .toType(dtype, false);                                                     // [B, 1, P, P]
            NDArray hidden = model.hidden(m.create(layout.ids(), new Shape(B, P)),
                    m.create(layout.positions(), new Shape(B, P)), bias, null);
            return lastLogits(model, hidden, B);
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    /**
     * {@link #nextTokenLogits} of prompts that come in pairs sharing a prefix, as a judge's two presentation
     * orders do (the instructions and the context, then the responses in one order and in the other): each pair's
     * longest common prefix, up to one token short of its shorter prompt, is run once into a key/value cache,
     * forked to the pair's two rows, and each row's rest runs after it. The logits are those of
     * {@link #nextTokenLogits} up to float rounding (the same function, computed in other shapes).
     *
     * @param prompts token ids, {@code 2k} of them: pair i is prompts {@code 2i} and {@code 2i + 1}
     * @return {@code [2k][V]} logits, in Java memory
     * @throws IllegalArgumentException for an odd count, an empty prompt or one longer than the model's context
     */
    public static float[][] nextTokenLogitsOfPairs(Decoder model, List<int[]> prompts) {
        int B = prompts.size();
        if (B % 2 != 0) {
            throw new IllegalArgumentException("pairs of prompts need an even count, got " + B);
        }
        int pairs = B / 2;
        int[] shared = new int[pairs];
        List<int[]> prefixes = new ArrayList<>(pairs);
        List<int[]> rests = new ArrayList<>(B);
        for (int i = 0; i < pairs; i++) {
            int[] a = prompts.get(2 * i), b = prompts.get(2 * i + 1);
            if (a.length == 0 || b.length == 0 || Math.max(a.length, b.length) > model.config().maxPositionEmbeddings()) {
                return nextTokenLogits(model, prompts);   // its own checks name the prompt
            }
            int n = 0;
            int most = Math.min(a.length, b.length) - 1;   // each row keeps a token of its own to read logits at
            while (n < most && a[n] == b[n]) {
                n++;
            }
            if (n == 0) {
                return nextTokenLogits(model, prompts);   // a pair with nothing in common: nothing to share
            }
            shared[i] = n;
            prefixes.add(java.util.Arrays.copyOf(a, n));
            rests.add(java.util.Arrays.copyOfRange(a, n, a.length));
            rests.add(java.util.Arrays.copyOfRange(b, n, b.length));
        }
        LeftPadded prefix = LeftPadded.of(prefixes, 0);
        LeftPadded rest = LeftPadded.of(rests, 0);
        int P = prefix.length(), T = rest.length(), S = P + T;
        // the rests' positions continue from each pair's own prefix; their bias sees the prefix's real columns,
        // then their own tokens causally, never padding
        long[] positions = new long[B * T];
        float[] bias = new float[B * T * S];
        for (int r = 0; r < B; r++) {
            int pair = r / 2;
            for (int t = 0; t < T; t++) {
                positions[r * T + t] = shared[pair] + Math.max(0, t - rest.pad()[r]);
                int row = (r * T + t) * S;
                java.util.Arrays.fill(bias, row, row + prefix.pad()[pair], Decoder.MASKED);
                java.util.Arrays.fill(bias, row + P, row + P + rest.pad()[r], Decoder.MASKED);
                java.util.Arrays.fill(bias, row + P + t + 1, row + S, Decoder.MASKED);
            }
        }
        int[] rowOfPair = new int[B];
        for (int r = 0; r < B; r++) {
            rowOfPair[r] = r / 2;
        }
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager m = model.manager().newSubManager()) {
            DataType dtype = model.dtype();
            KvCache cache = model.newCache(m, pairs, S);
            NDArray prefixBias = m.create(prefix.keyBias(), new Shape(pairs, 1, 1, P)).add(Generation.causalBias(m, P))
                    .toType(dtype, false);                                                     // [pairs, 1, P, P]
            model.hidden(m.create(prefix.ids(), new Shape(pairs, P)), m.create(prefix.positions(), new Shape(pairs, P)),
                    prefixBias, cache);
            cache = cache.fork(rowOfPair, m);                                                  // [B, ...]
            NDArray hidden = model.hidden(m.create(rest.ids(), new Shape(B, T)), m.create(positions, new Shape(B, T)),
                    m.create(bias, new Shape(B, 1, T, S)).toType(dtype, false), cache);
            return lastLogits(model, hidden, B);
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    /** The logits at the last position of each of {@code hidden}'s {@code rows} rows, {@code [rows][V]} in Java memory. */
    private static float[][] lastLogits(Decoder model, NDArray hidden, int rows) {
        float[] logits = model.logits(hidden.get(":, -1, :")).toType(DataType.FLOAT32, false).toFloatArray();
        int V = model.config().vocabSize();
        float[][] out = new float[rows][];
        for (int b = 0; b < rows; b++) {
            out[b] = java.util.Arrays.copyOfRange(logits, b * V, (b + 1) * V);
        }
        return out;
    }
}
