package steer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.List;

/**
 * Log-probabilities of responses given prompts, for batches of (prompt, response) pairs: the quantity every
 * objective in Steer is built from.
 *
 * <p>Each pair is laid out as prompt + response, right-padded to the longest pair. The logits at position
 * t score token t + 1; only targets that are response tokens count, so prompt tokens never contribute.
 */
public final class SequenceScorer {

    private SequenceScorer() {
    }

    /**
     * Per-token log-probs of a batch of responses, as arrays that keep the autograd graph when the caller
     * records gradients (training) and none otherwise.
     *
     * @param tokenLogProbs {@code [B, L-1]}: log π(ids[t+1] | ids[..t]) where ids[t+1] is a response token, else 0
     * @param mask          {@code [B, L-1]}: 1 where {@code tokenLogProbs} holds a response token; the model's dtype
     * @param lengths       {@code [B]}: response lengths |y|; the model's dtype
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
        NDArray logp = model.logits(hidden.get(":, :-1, :")).logSoftmax(-1);             // [B, L-1, V]
        NDArray maskArray = m.create(mask, new Shape(B, L - 1)).toType(dtype, false);
        NDArray picked = logp.gather(m.create(targets, new Shape(B, L - 1, 1)), 2)       // [B, L-1, 1]
                .reshape(B, L - 1).mul(maskArray);                                          // [B, L-1]
        return new Batch(picked, maskArray, m.create(lengths).toType(dtype, false), promptLengths);
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
            float[] logits = model.logits(hidden.get(":, -1, :")).toType(DataType.FLOAT32, false).toFloatArray();
            int V = model.config().vocabSize();
            float[][] out = new float[B][];
            for (int b = 0; b < B; b++) {
                out[b] = java.util.Arrays.copyOfRange(logits, b * V, (b + 1) * V);
            }
            return out;
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }
}
