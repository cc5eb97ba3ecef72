package steer.world;

/**
 * How many tasks each split of {@link WorldSplits} holds.
 *
 * @param sft           queries for SFT demonstrations, at least 0; default 4000
 * @param iterations    number of alignment iteration prompt sets, at least 1; default 3 (SSO splits its
 *                      prompts 1:1:1 over three iterations)
 * @param iterationSize prompts per iteration set, at least 0; default 500
 * @param heldOut       held-out evaluation queries, at least 0; default 500
 */
public record SplitSizes(int sft, int iterations, int iterationSize, int heldOut) {

    /**
     * Checks the sizes.
     *
     * @throws IllegalArgumentException naming the size out of range
     */
    public SplitSizes {
        if (sft < 0 || iterations < 1 || iterationSize < 0 || heldOut < 0) {
            throw new IllegalArgumentException("split sizes need sft >= 0, iterations >= 1, iterationSize >= 0,"
                    + " heldOut >= 0; got sft " + sft + ", iterations " + iterations + ", iterationSize "
                    + iterationSize + ", heldOut " + heldOut + " (defaults 4000, 3, 500, 500)");
        }
    }

    /**
     * The default sizes.
     *
     * @return 4000 SFT queries, 3 × 500 iteration prompts, 500 held out
     */
    public static SplitSizes defaults() {
        return new SplitSizes(4000, 3, 500, 500);
    }

    /**
     * The number of tasks over all splits.
     *
     * @return sft + iterations·iterationSize + heldOut
     */
    public int total() {
        return sft + iterations * iterationSize + heldOut;
    }
}
