package steer.data;

import java.util.List;

/**
 * A prompt with a preferred and a dispreferred response (DPO, IPO, cDPO, dual-clip, SPCE).
 *
 * @param prompt   prompt token ids, with BOS
 * @param chosen   the preferred response y_w
 * @param rejected the dispreferred response y_l
 * @param strength p(y_w ≻ y_l) in [0, 1] for SPCE (OSP's judged strength); NaN when the pair has none
 */
public record PreferencePair(int[] prompt, int[] chosen, int[] rejected, double strength) implements TrainingExample {

    public PreferencePair {
        if (!Double.isNaN(strength) && !(strength >= 0 && strength <= 1)) {
            throw new IllegalArgumentException("strength must be in [0, 1], got " + strength);
        }
    }

    /** A pair without a strength. */
    public PreferencePair(int[] prompt, int[] chosen, int[] rejected) {
        this(prompt, chosen, rejected, Double.NaN);
    }

    @Override
    public List<int[][]> sequences() {
        return List.of(new int[][] {prompt, chosen}, new int[][] {prompt, rejected});
    }
}
