package steer.align;

import java.util.SplittableRandom;

/**
 * Seeds derived from a run's seed, one stream per purpose and iteration, so that a resumed run draws exactly
 * what the first attempt would have drawn and no two purposes share a stream.
 */
public final class Seeds {

    private Seeds() {
    }

    /**
     * A derived seed.
     *
     * @param runSeed   the run's seed
     * @param purpose   what the stream is for, e.g. {@code "allocation"}
     * @param iteration the iteration, from 0
     * @param part      a further index (an epoch, a chunk), or 0
     * @return a 64-bit seed; the same arguments always give the same seed
     */
    public static long derive(long runSeed, String purpose, int iteration, int part) {
        // SplittableRandom's constructor mixes its seed (a SplitMix64 finaliser); chaining it mixes each input in.
        long s = new SplittableRandom(runSeed).nextLong() ^ purpose.hashCode();
        s = new SplittableRandom(s).nextLong() ^ iteration;
        return new SplittableRandom(s).nextLong() ^ ((long) part << 32);
    }
}
