package steer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** A stream of a batch can be drawn alone, as stream 0 of its own seed. */
class SamplerTest {

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
