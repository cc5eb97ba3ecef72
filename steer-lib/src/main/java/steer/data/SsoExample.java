package steer.data;

import java.util.List;

/**
 * One SSO example (Xiang et al. 2024, arXiv 2410.17131): a query x, the same query under a good principle
 * (x+) and a bad one (x-), and the responses sampled under each: y+ under x+, y- under x-, y° under x.
 *
 * @param prompt      x, token ids with BOS
 * @param promptPlus  x+
 * @param promptMinus x-
 * @param yPlus       y+, sampled under x+
 * @param yMinus      y-, sampled under x-
 * @param yOrig       y°, sampled under x
 */
public record SsoExample(int[] prompt, int[] promptPlus, int[] promptMinus, int[] yPlus, int[] yMinus, int[] yOrig)
        implements TrainingExample {

    /**
     * The six sequences SSO scores, in this order: (x, y+), (x, y-), (x+, y+), (x+, y-), (x-, y°), (x-, y+).
     */
    @Override
    public List<int[][]> sequences() {
        return List.of(new int[][] {prompt, yPlus}, new int[][] {prompt, yMinus}, new int[][] {promptPlus, yPlus},
                new int[][] {promptPlus, yMinus}, new int[][] {promptMinus, yOrig}, new int[][] {promptMinus, yPlus});
    }
}
