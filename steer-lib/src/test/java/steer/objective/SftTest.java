package steer.objective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import org.junit.jupiter.api.Test;

class SftTest extends ManagedTest {

    private double sft(double[] sums, double[] lengths) {
        return Logps.value(Sft.defaults().loss(new SftLogps(m.create(sums), m.create(lengths))));
    }

    @Test
    void handWorkedCases() {
        // sums (−6, −4), lengths (3, 2): 10 / 5 = 2
        assertEquals(2, sft(new double[] {-6, -4}, new double[] {3, 2}), 1e-6);
        // pooled per token, not per sequence: sums (−1, −9), lengths (1, 3): 10 / 4 = 2.5 (per sequence would be 2)
        assertEquals(2.5, sft(new double[] {-1, -9}, new double[] {1, 3}), 1e-6);
        // four tokens each with probability 1/2: 4·ln 2 / 4 = ln 2
        assertEquals(Math.log(2), sft(new double[] {-4 * Math.log(2)}, new double[] {4}), 1e-6);
        // extreme: −1e4 over 2 tokens: 5000
        assertEquals(5000, sft(new double[] {-1e4}, new double[] {2}), 1e-6);
    }

    @Test
    void gradientIsMinusOneOverTheTokenCount() {
        double[] lengths = {3, 1, 4};
        double[] g = Logps.checkGradient(m, new double[] {-2.5, -0.75, -7},
                v -> Sft.defaults().loss(new SftLogps(v, v.getManager().create(lengths))).loss());
        assertArrayEquals(new double[] {-0.125, -0.125, -0.125}, g, 1e-12);
    }

    @Test
    void floatLengthsWithDoubleSumsAndEmptyBatches() {
        NDArray sums = m.create(new double[] {-3});
        assertEquals(1.5, Logps.value(Sft.defaults().loss(new SftLogps(sums, m.create(new float[] {2})))), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> sft(new double[] {0}, new double[] {0}));
    }
}
