package steer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Picks every row's next token in native ops, so that a decoding step copies to Java only the chosen ids and
 * their log-probs instead of the whole {@code [B, V]} row of log-probs (at Qwen's 151,936-token vocabulary,
 * 600 KB a row). Rows may differ in temperature, top-k and top-p, as a continuous batch's sequences do.
 *
 * <p>The same draw as {@link Sampler}: the row's Java generator supplies the one uniform u each sampled token
 * consumes, and the device walks the same order (most likely first when top-k or top-p filters, vocabulary
 * order otherwise) to the first token whose cumulative probability exceeds u. The device computes in float32
 * where {@link Sampler} uses doubles, so the two may pick neighbouring tokens when u falls within rounding of
 * a boundary (and order exactly tied probabilities differently); greedy rows take the same argmax.
 */
@SuppressWarnings("checkstyle:LocalVariableName") // dimension letters as in Decoder
final class DeviceSampler {

    private DeviceSampler() {
    }

    /**
     * @param tokens   chosen ids, one per row
     * @param logProbs their log-probs under the full-vocabulary softmax at temperature 1
     */
    record Draw(int[] tokens, float[] logProbs) {
    }

    /**
     * Draws one token per row.
     *
     * @param logits      {@code [R, V]} logits, on a step manager
     * @param vocab       ids {@code [0, vocab)} may be chosen
     * @param temperature per row; 0 for greedy
     * @param topK        per row; 0 for off
     * @param topP        per row; 1 for off
     * @param u           per row, a uniform in [0, 1) from the row's generator (unused on greedy rows)
     */
    static Draw draw(NDArray logits, int vocab, double[] temperature, int[] topK, double[] topP, double[] u) {
        NDManager m = logits.getManager();
        long R = logits.getShape().get(0), V = logits.getShape().get(1);
        NDArray x = vocab < V ? logits.get(":, :" + vocab) : logits;                       // [R, Vs]
        NDArray logProbs = logits.logSoftmax(-1);                                          // [R, V]
        NDArray greedy = x.argMax(-1).reshape(R, 1);                                       // [R, 1] int64
        boolean anySampled = false;
        for (double t : temperature) {
            anySampled |= t > 0;
        }
        NDArray token = greedy;
        if (anySampled) {
            float[] invT = new float[(int) R];
            float[] k = new float[(int) R];
            float[] p = new float[(int) R];
            float[] target = new float[(int) R];
            boolean[] sorted = new boolean[(int) R];
            boolean[] sampled = new boolean[(int) R];
            for (int r = 0; r < R; r++) {
                sampled[r] = temperature[r] > 0;
                invT[r] = sampled[r] ? (float) (1 / temperature[r]) : 1f;
                k[r] = topK[r] > 0 ? topK[r] : vocab;
                p[r] = topP[r] < 1 ? (float) topP[r] : 2f;                                 // 2: every prefix is kept
                sorted[r] = topK[r] > 0 || topP[r] < 1;
                target[r] = (float) u[r];
            }
            NDArray probs = x.mul(m.create(invT, new Shape(R, 1))).softmax(-1);            // [R, Vs]
            NDArray natural = m.arange(0, vocab, 1, DataType.INT64).reshape(1, vocab);      // [1, Vs]
            NDArray order = NDArrays.where(m.create(sorted, new Shape(R, 1)).broadcast(R, vocab), probs.argSort(-1, false),
                    natural.broadcast(R, vocab));                                          // [R, Vs]
            NDArray ps = probs.gather(order, 1);                                           // [R, Vs]
            NDArray before = ps.cumSum(1).sub(ps);                                         // mass ahead of each
            NDArray keep = natural.toType(DataType.FLOAT32, false).lt(m.create(k, new Shape(R, 1)))
                    .logicalAnd(before.lt(m.create(p, new Shape(R, 1))));                  // [R, Vs]
            NDArray kept = ps.mul(keep.toType(DataType.FLOAT32, false));
            NDArray cumulative = kept.cumSum(1);                                           // [R, Vs]
            NDArray total = cumulative.get(":, -1:");                                      // [R, 1]
            NDArray rank = cumulative.lte(total.mul(m.create(target, new Shape(R, 1))))
                    .toType(DataType.INT64, false).sum(new int[] {1}, true);               // [R, 1]
            NDArray last = keep.toType(DataType.INT64, false).sum(new int[] {1}, true).sub(1);
            rank = NDArrays.minimum(rank, last);                                           // rounding past the top
            NDArray drawn = order.gather(rank, 1);                                         // [R, 1]
            token = NDArrays.where(m.create(sampled, new Shape(R, 1)), drawn, greedy);
        }
        float[] lp = logProbs.gather(token, 1).toFloatArray();
        long[] ids = token.toLongArray();
        int[] out = new int[(int) R];
        for (int r = 0; r < R; r++) {
            out[r] = (int) ids[r];
        }
        return new Draw(out, lp);
    }
}
