package steer.world;

import steer.checkpoint.DecoderConfig;

/**
 * The three sizes of Steer's own Llama-family model for the oracle world, with the SFT recipe of each.
 * Widths and depths are chosen for about 0.2M, 1M and 4M parameters with the world's vocabulary; learning
 * rates shrink with width as usual for AdamW from scratch (nanoGPT's small models use 1e-3).
 *
 * @param hiddenSize       model width
 * @param layers           decoder layers
 * @param heads            query heads
 * @param kvHeads          key/value heads (grouped-query attention)
 * @param intermediateSize SwiGLU width (about 8/3 of the width, as Llama)
 * @param lr               SFT peak learning rate
 * @param steps            SFT optimizer steps of 32 demonstrations
 */
public record WorldModelSize(int hiddenSize, int layers, int heads, int kvHeads, int intermediateSize, double lr,
                             int steps) {

    /** Positions the world's models take: the longest judge prompt and its answer fit with room to spare. */
    public static final int MAX_POSITIONS = 128;

    /** About 0.2M parameters. */
    public static final WorldModelSize SMALL = new WorldModelSize(64, 4, 4, 2, 172, 3e-3, 3000);
    /** About 1M parameters. */
    public static final WorldModelSize MEDIUM = new WorldModelSize(128, 5, 4, 2, 344, 2e-3, 8000);
    /** About 4M parameters. */
    public static final WorldModelSize LARGE = new WorldModelSize(256, 5, 8, 4, 688, 1e-3, 2800);

    /** The size named {@code small}, {@code medium} or {@code large}. */
    public static WorldModelSize named(String name) {
        return switch (name) {
            case "small" -> SMALL;
            case "medium" -> MEDIUM;
            case "large" -> LARGE;
            default -> throw new IllegalArgumentException("unknown size '" + name + "'; expected small, medium or large");
        };
    }

    /** The decoder configuration for a vocabulary of {@code vocabSize} tokens (BOS 1, EOS 2, tied head). */
    public DecoderConfig config(int vocabSize) {
        return new DecoderConfig("llama", vocabSize, hiddenSize, intermediateSize, layers, heads, kvHeads, 1e-5, 10000,
                MAX_POSITIONS, true, false, 1, 2);
    }
}
