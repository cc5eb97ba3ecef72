package steer.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A list of examples split into a training part and a held-out part, for evaluating on data the model was
 * not trained on.
 *
 * @param <T>     the element type
 * @param train   the examples to train on, in their original order
 * @param heldOut the held-out examples, in their original order
 */
public record HeldOutSplit<T>(List<T> train, List<T> heldOut) {

    /**
     * Copies both lists, unmodifiable.
     *
     * @param train   the examples to train on
     * @param heldOut the held-out examples
     */
    public HeldOutSplit {
        train = List.copyOf(train);
        heldOut = List.copyOf(heldOut);
    }

    /**
     * Splits a list at random but reproducibly: the same list, fraction and seed always give the same split,
     * on every JVM ({@link Random}'s sequence is fixed by its specification). Which elements are held out is
     * decided by a Fisher–Yates shuffle of the positions; both parts keep the original order.
     *
     * @param examples        the examples; no nulls
     * @param heldOutFraction the share to hold out, in [0, 1); the held-out count is rounded to nearest
     * @param seed            the random seed
     * @param <T>             the element type
     * @return the split; its two parts are disjoint (by position) and together hold every example
     * @throws IllegalArgumentException if the fraction is outside [0, 1)
     */
    public static <T> HeldOutSplit<T> of(List<T> examples, double heldOutFraction, long seed) {
        if (!(heldOutFraction >= 0 && heldOutFraction < 1)) {
            throw new IllegalArgumentException("held-out fraction must be in [0, 1), got " + heldOutFraction);
        }
        int n = examples.size();
        int[] positions = new int[n];
        for (int i = 0; i < n; i++) {
            positions[i] = i;
        }
        Random random = new Random(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = positions[i];
            positions[i] = positions[j];
            positions[j] = swap;
        }
        boolean[] held = new boolean[n];
        long heldCount = Math.round(heldOutFraction * n);
        for (int i = 0; i < heldCount; i++) {
            held[positions[i]] = true;
        }
        List<T> train = new ArrayList<>();
        List<T> heldOut = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            (held[i] ? heldOut : train).add(examples.get(i));
        }
        return new HeldOutSplit<>(train, heldOut);
    }
}
