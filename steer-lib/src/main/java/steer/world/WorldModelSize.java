package steer.world;

import steer.checkpoint.DecoderConfig;
import steer.train.LearningRateSchedule;

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
 * @param demonstrations   demonstrations drawn for the run (the steps cycle over them in a seeded order), at
 *                         least 1; default {@link WorldSft#DEMONSTRATIONS}
 * @param mixture          the demonstrations' make-up; default {@link DemoMixture#defaults()}
 * @param warmupFraction   share of the steps spent warming up, in [0, 1]; default 0.1
 * @param minLrRatio       the cosine's floor as a fraction of the peak, in [0, 1]; default 0
 * @param threads          PyTorch intra-op threads to train with, at least 1: a checkpoint's bytes depend on
 *                         it (a medium run with 1 and with 2 threads differs after 60 steps), so it belongs to
 *                         the recipe; the committed checkpoints were trained with 1 (small, medium) and 2 (large)
 */
public record WorldModelSize(int hiddenSize, int layers, int heads, int kvHeads, int intermediateSize, double lr,
                             int steps, int demonstrations, DemoMixture mixture, double warmupFraction,
                             double minLrRatio, int threads) {

    /** Positions the world's models take: the longest judge prompt and its answer fit with room to spare. */
    public static final int MAX_POSITIONS = 128;

    /** About 0.2M parameters. */
    public static final WorldModelSize SMALL = new WorldModelSize(64, 4, 4, 2, 172, 3e-3, 3000, 1);
    /**
     * About 1M parameters: the yardstick the alignment methods are measured on, so its recipe asks for clear
     * steering and a usable judge (see {@link DemoMixture#medium()}).
     */
    public static final WorldModelSize MEDIUM = new WorldModelSize(128, 5, 4, 2, 344, 2e-3, 12_000, 192_000,
            DemoMixture.medium(), 0.1, 0, 1);
    /** About 4M parameters. */
    public static final WorldModelSize LARGE = new WorldModelSize(256, 5, 8, 4, 688, 1e-3, 2800, 2);

    /**
     * Checks the recipe.
     *
     * @throws IllegalArgumentException for fewer than one demonstration, no mixture or a fraction outside [0, 1]
     */
    public WorldModelSize {
        if (demonstrations < 1) {
            throw new IllegalArgumentException("need at least one demonstration, got " + demonstrations);
        }
        if (mixture == null) {
            throw new IllegalArgumentException("mixture must not be null");
        }
        ResponseMix.check("warmupFraction", warmupFraction);
        ResponseMix.check("minLrRatio", minLrRatio);
        if (threads < 1) {
            throw new IllegalArgumentException("need at least one thread, got " + threads);
        }
    }

    /**
     * A size with the default recipe: {@link WorldSft#DEMONSTRATIONS} demonstrations of
     * {@link DemoMixture#defaults()}, 10% warm-up, cosine to zero, trained with {@code threads} threads.
     */
    public WorldModelSize(int hiddenSize, int layers, int heads, int kvHeads, int intermediateSize, double lr,
            int steps, int threads) {
        this(hiddenSize, layers, heads, kvHeads, intermediateSize, lr, steps, WorldSft.DEMONSTRATIONS,
                DemoMixture.defaults(), 0.1, 0, threads);
    }

    /** A size with the default recipe and one thread (see the constructor above). */
    public WorldModelSize(int hiddenSize, int layers, int heads, int kvHeads, int intermediateSize, double lr,
            int steps) {
        this(hiddenSize, layers, heads, kvHeads, intermediateSize, lr, steps, 1);
    }

    /** The size named {@code small}, {@code medium} or {@code large}. */
    public static WorldModelSize named(String name) {
        return switch (name) {
            case "small" -> SMALL;
            case "medium" -> MEDIUM;
            case "large" -> LARGE;
            default -> throw new IllegalArgumentException("unknown size '" + name + "'; expected small, medium or large");
        };
    }

    /** The same size and recipe with another number of steps (the schedule scales with it). */
    public WorldModelSize withSteps(int newSteps) {
        return new WorldModelSize(hiddenSize, layers, heads, kvHeads, intermediateSize, lr, newSteps, demonstrations,
                mixture, warmupFraction, minLrRatio, threads);
    }

    /** Warm-up for {@link #warmupFraction} of the steps (rounded down), then cosine to {@link #minLrRatio}. */
    public LearningRateSchedule schedule() {
        return new LearningRateSchedule((long) Math.floor(steps * warmupFraction + 1e-9), steps, minLrRatio);
    }

    /** The decoder configuration for a vocabulary of {@code vocabSize} tokens (BOS 1, EOS 2, tied head). */
    public DecoderConfig config(int vocabSize) {
        return new DecoderConfig("llama", vocabSize, hiddenSize, intermediateSize, layers, heads, kvHeads, 1e-5, 10000,
                MAX_POSITIONS, true, false, 1, 2);
    }
}
