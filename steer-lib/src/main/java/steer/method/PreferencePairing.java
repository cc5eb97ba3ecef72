package steer.method;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * How a prompt's K scored samples become pairs: OSP's ranked (outside-in) pairing, random pairing (OSP Fig. 5's
 * ablation) and Self-Rewarding's best against worst. Pure functions of the scores; every pair is
 * {@code (higher, lower)} by score.
 */
public final class PreferencePairing {

    private PreferencePairing() {
    }

    /**
     * A pair of sample indices, the first scored at least as high as the second.
     *
     * @param high the index of the preferred sample
     * @param low  the index of the other
     */
    public record Pair(int high, int low) {
    }

    /**
     * Sample indices from the highest score to the lowest; equal scores keep sample order, so the ranking is
     * deterministic.
     *
     * @param scores one score per sample
     * @return the indices, best first
     */
    public static int[] rank(List<Double> scores) {
        return IntStream.range(0, scores.size()).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> -scores.get(i)).thenComparingInt(i -> i))
                .mapToInt(Integer::intValue).toArray();
    }

    /**
     * OSP's ranked pairing: best with worst, second best with second worst, …: K//2 pairs; for odd K the median is
     * left out.
     *
     * @param scores one score per sample, at least 2
     * @return the pairs, outermost first
     */
    public static List<Pair> rankedOutsideIn(List<Double> scores) {
        int[] r = rank(scores);
        List<Pair> out = new ArrayList<>(r.length / 2);
        for (int j = 0; j < r.length / 2; j++) {
            out.add(new Pair(r[j], r[r.length - 1 - j]));
        }
        return out;
    }

    /**
     * Random pairing: a seeded shuffle of the samples cut into consecutive pairs (K//2; for odd K the last one is
     * left out), each oriented by score (equal scores: the earlier sample first).
     *
     * @param scores one score per sample, at least 2
     * @param random the draw
     * @return the pairs
     */
    public static List<Pair> random(List<Double> scores, SplittableRandom random) {
        int k = scores.size();
        int[] a = IntStream.range(0, k).toArray();
        for (int i = k - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        List<Pair> out = new ArrayList<>(k / 2);
        for (int j = 0; j + 1 < k; j += 2) {
            out.add(oriented(scores, a[j], a[j + 1]));
        }
        return out;
    }

    /**
     * Self-Rewarding's pair: the highest-scored sample against the lowest-scored one (equal scores: the earliest
     * best and the latest worst).
     *
     * @param scores one score per sample, at least 2
     * @return the pair, or empty when every score is equal (no preference to learn)
     */
    public static Optional<Pair> bestAgainstWorst(List<Double> scores) {
        int[] r = rank(scores);
        int best = r[0];
        int worst = r[r.length - 1];
        return scores.get(best).equals(scores.get(worst)) ? Optional.empty() : Optional.of(new Pair(best, worst));
    }

    private static Pair oriented(List<Double> scores, int a, int b) {
        double sa = scores.get(a);
        double sb = scores.get(b);
        if (sa > sb || (sa == sb && a < b)) {
            return new Pair(a, b);
        }
        return new Pair(b, a);
    }
}
