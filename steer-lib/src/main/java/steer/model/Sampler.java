package steer.model;

import java.util.SplittableRandom;

/**
 * Picks the next token from one row of logits, in Java: greedy, or temperature with top-k and top-p by
 * inverse-CDF sampling. DJL's PyTorch engine has no multinomial sampling; a vocabulary row is small enough
 * that doing it here costs little and makes every draw reproducible from a seed.
 */
public final class Sampler {

    private final SamplingParams params;
    private final SplittableRandom random;

    /** Multiplies the seed so that neighbouring streams' generators are unrelated (the golden ratio, odd). */
    private static final long MIX = 0x9E3779B97F4A7C15L;
    /** MIX⁻¹ mod 2^64: MIX · MIX_INVERSE = 1 (an odd number has an inverse modulo a power of two). */
    private static final long MIX_INVERSE = inverse(MIX);

    /** A sampler for stream {@code stream} of a batch. */
    public Sampler(SamplingParams params, int stream) {
        this.params = params;
        this.random = new SplittableRandom(params.seed() * MIX + stream);
    }

    /**
     * The seed whose stream 0 draws what stream {@code stream} of {@code seed} draws, so a batch can be cut into
     * requests of one prompt each (a service numbers each request's streams from 0) and still sample what the
     * whole batch would: seed · MIX + stream = s · MIX, so s = seed + stream · MIX⁻¹ (mod 2^64).
     */
    public static long seedForStream(long seed, int stream) {
        return seed + stream * MIX_INVERSE;
    }

    /** x⁻¹ mod 2^64 for odd x, by Newton's iteration (each step doubles the correct low bits, from 3). */
    private static long inverse(long x) {
        long y = x;
        for (int i = 0; i < 5; i++) {
            y *= 2 - x * y;
        }
        return y;
    }

    /**
     * The next token for logits (or log-probabilities, which differ by a constant and sample the same)
     * {@code logits[offset, offset + vocab)}.
     */
    public int next(float[] logits, int offset, int vocab) {
        if (params.temperature() == 0) {
            return argmax(logits, offset, vocab);
        }
        double[] p = new double[vocab];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            p[i] = logits[offset + i] / params.temperature();
            max = Math.max(max, p[i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            p[i] = Math.exp(p[i] - max);
            sum += p[i];
        }
        int[] order = null;
        int keep = vocab;
        if (params.topK() > 0 || params.topP() < 1) {
            // the tokens in falling probability (ties: lower id first), taken from a heap only as far as the
            // nucleus reaches: a full sort of the vocabulary cost 45% of generator-svc's CPU on stories260K's 512
            // tokens (boxed ids, a comparator), and grows as V log V at a 151,936-token vocabulary
            Ranking ranking = new Ranking(p, vocab);
            if (params.topK() > 0) {
                keep = Math.min(keep, params.topK());
            }
            order = new int[keep];
            int ranked = 0;
            if (params.topP() < 1) {
                double cumulative = 0;
                for (int r = 0; r < keep; r++) {
                    order[ranked++] = ranking.next();
                    cumulative += p[order[r]] / sum;
                    if (cumulative >= params.topP()) {
                        keep = r + 1;
                        break;
                    }
                }
            }
            while (ranked < keep) {
                order[ranked++] = ranking.next();
            }
            sum = 0;
            for (int r = 0; r < keep; r++) {
                sum += p[order[r]];
            }
        }
        double u = random.nextDouble() * sum;
        double cumulative = 0;
        for (int r = 0; r < keep; r++) {
            int token = order == null ? r : order[r];
            cumulative += p[token];
            if (u < cumulative) {
                return token;
            }
        }
        return order == null ? keep - 1 : order[keep - 1]; // rounding left u at the very top
    }

    /**
     * Token ids in the order of a sort by falling probability, lower id first among equals ({@link Double#compare},
     * so NaN ranks first), one at a time: a binary max-heap of the ids, built in O(V), then O(log V) per id taken.
     * The order is total, so it is exactly the sorted order, whichever algorithm produces it.
     */
    static final class Ranking {
        private final double[] p;
        private final int[] heap;
        private int size;

        Ranking(double[] p, int vocab) {
            this.p = p;
            this.heap = new int[vocab];
            for (int i = 0; i < vocab; i++) {
                heap[i] = i;
            }
            size = vocab;
            for (int i = size / 2 - 1; i >= 0; i--) {
                siftDown(i);
            }
        }

        /** The next id in the order; at most V calls. */
        int next() {
            int top = heap[0];
            heap[0] = heap[--size];
            siftDown(0);
            return top;
        }

        /** Whether id a comes before id b. */
        private boolean before(int a, int b) {
            int c = Double.compare(p[a], p[b]);
            return c > 0 || c == 0 && a < b;
        }

        private void siftDown(int i) {
            int id = heap[i];
            while (true) {
                int child = 2 * i + 1;
                if (child >= size) {
                    break;
                }
                if (child + 1 < size && before(heap[child + 1], heap[child])) {
                    child++;
                }
                if (!before(heap[child], id)) {
                    break;
                }
                heap[i] = heap[child];
                i = child;
            }
            heap[i] = id;
        }
    }

    /**
     * The uniform in [0, 1) that {@link #next} would draw for a sampled token, for {@link DeviceSampler}, which
     * draws on the device from the same stream; not called for greedy tokens, as {@link #next} draws none.
     */
    double uniform() {
        return random.nextDouble();
    }

    /** The parameters this sampler draws with. */
    SamplingParams params() {
        return params;
    }

    /** Index of the largest logit; the first one on ties, as llama2.c does. */
    public static int argmax(float[] logits, int offset, int vocab) {
        int best = 0;
        for (int i = 1; i < vocab; i++) {
            if (logits[offset + i] > logits[offset + best]) {
                best = i;
            }
        }
        return best;
    }

    /** log softmax(logits)[token] over {@code logits[offset, offset + vocab)}, in double for accuracy. */
    public static float logProb(float[] logits, int offset, int vocab, int token) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[offset + i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp(logits[offset + i] - max);
        }
        return (float) (logits[offset + token] - max - Math.log(sum));
    }
}
