package steer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A stream of a batch can be drawn alone, as stream 0 of its own seed; top-k and top-p draw exactly what a full sort
 * of the vocabulary drew.
 */
class SamplerTest {

    /** Sampler's seed multiplier, repeated here so the reference draws from the same stream. */
    private static final long MIX = 0x9E3779B97F4A7C15L;

    /**
     * The sampler as it was before its heap: with top-k or top-p, every id sorted by falling probability (ties:
     * lower id first) and the nucleus cut from that order; then inverse-CDF sampling over it.
     */
    private static int referenceNext(SamplingParams params, SplittableRandom random, float[] logits, int vocab) {
        double[] p = new double[vocab];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            p[i] = logits[i] / params.temperature();
            max = Math.max(max, p[i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            p[i] = Math.exp(p[i] - max);
            sum += p[i];
        }
        Integer[] order = new Integer[vocab];
        for (int i = 0; i < vocab; i++) {
            order[i] = i;
        }
        if (params.topK() == 0 && params.topP() == 1) {
            double u = random.nextDouble() * sum;   // no truncation: the ids in their own order, unsorted
            double cumulative = 0;
            for (int i = 0; i < vocab; i++) {
                cumulative += p[i];
                if (u < cumulative) {
                    return i;
                }
            }
            return vocab - 1;
        }
        Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]) != 0 ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
        int keep = params.topK() > 0 ? Math.min(vocab, params.topK()) : vocab;
        if (params.topP() < 1) {
            double cumulative = 0;
            for (int r = 0; r < keep; r++) {
                cumulative += p[order[r]] / sum;
                if (cumulative >= params.topP()) {
                    keep = r + 1;
                    break;
                }
            }
        }
        sum = 0;
        for (int r = 0; r < keep; r++) {
            sum += p[order[r]];
        }
        double u = random.nextDouble() * sum;
        double cumulative = 0;
        for (int r = 0; r < keep; r++) {
            cumulative += p[order[r]];
            if (u < cumulative) {
                return order[r];
            }
        }
        return order[keep - 1];
    }

    @Test
    void topKAndTopPDrawWhatAFullSortDrew() {
        Random r = new Random(7);
        int[][] kp = {{0, 0}, {1, 0}, {5, 0}, {40, 0}, {0, 1}, {0, 50}, {0, 80}, {0, 95}, {0, 99}, {10, 90}, {600, 90}};
        for (int vocab : new int[] {1, 2, 17, 512}) {
            for (int[] c : kp) {
                for (int trial = 0; trial < 6; trial++) {
                    float[] logits = new float[vocab];
                    for (int i = 0; i < vocab; i++) {
                        // trials 0-1: many exact ties (logits on a coarse grid); 2: one very peaked token; 3: flat
                        logits[i] = switch (trial) {
                            case 0, 1 -> Math.round(r.nextGaussian() * 2) / 2f;
                            case 2 -> i == vocab / 3 ? 20f : (float) r.nextGaussian();
                            case 3 -> 0f;
                            default -> (float) (r.nextGaussian() * 3);
                        };
                    }
                    double topP = c[1] == 0 ? 1 : c[1] / 100.0;
                    SamplingParams params = new SamplingParams(32, trial == 5 ? 1.3 : 0.7, topP, c[0], 11L * trial + vocab);
                    Sampler sampler = new Sampler(params, 3);
                    SplittableRandom reference = new SplittableRandom(params.seed() * MIX + 3);
                    for (int draw = 0; draw < 50; draw++) {
                        assertEquals(referenceNext(params, reference, logits, vocab), sampler.next(logits, 0, vocab),
                                "vocab " + vocab + ", top-k " + c[0] + ", top-p " + topP + ", trial " + trial
                                        + ", draw " + draw);
                    }
                }
            }
        }
    }

    @Test
    void aNanLogitRanksFirstAsInTheSort() {
        float[] logits = {0.5f, Float.NaN, 2f, -1f};
        SamplingParams params = new SamplingParams(8, 0.7, 0.9, 0, 5);
        Sampler sampler = new Sampler(params, 0);
        SplittableRandom reference = new SplittableRandom(params.seed() * MIX);
        for (int draw = 0; draw < 10; draw++) {
            assertEquals(referenceNext(params, reference, logits, 4), sampler.next(logits, 0, 4));
        }
    }

    private static int[] draws(long seed, int stream, float[] logits) {
        Sampler s = new Sampler(new SamplingParams(32, 0.7, 0.8, 0, seed), stream);
        int[] out = new int[200];
        for (int i = 0; i < out.length; i++) {
            out[i] = s.next(logits, 0, logits.length);
        }
        return out;
    }

    @Test
    void streamZeroOfSeedForStreamDrawsWhatTheStreamDraws() {
        float[] logits = new float[50];
        Random r = new Random(1);
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) r.nextGaussian();
        }
        for (long seed : new long[] {0, 3, -7, Long.MAX_VALUE}) {
            for (int stream : new int[] {0, 1, 31, 499}) {
                assertArrayEquals(draws(seed, stream, logits), draws(Sampler.seedForStream(seed, stream), 0, logits),
                        "seed " + seed + ", stream " + stream);
            }
        }
        assertFalse(Arrays.equals(draws(3, 0, logits), draws(3, 1, logits)), "streams differ");
    }
}
