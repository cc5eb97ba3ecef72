package steer.objective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class SpceTest extends ManagedTest {

    private double loss(Spce o, double[] x, double p) {
        double[] one = {1};
        return Logps.value(o.loss(Logps.pairs(m.create(x), one, one, new double[] {p})));
    }

    @Test
    void handWorkedCases() {
        // With sp(z) = log(1 + e^z): L = p·sp(−βh) + (1−p)·sp(βh) = sp(−βh) + (1−p)·βh, β = 0.1.
        // p = 0.5, equal log-probs: L = ln 2
        assertEquals(Math.log(2), loss(Spce.defaults(), new double[] {-4, -4, -4, -4}, 0.5), 1e-6);
        // p = 0.8, h = 4: sp(−0.4) + 0.2·0.4 = 0.5130152524 + 0.08 = 0.5930152524
        assertEquals(0.5930152523999526, loss(Spce.defaults(), new double[] {-10, -15, -12, -13}, 0.8), 1e-6);
        // p = 0.3, h = −10: sp(1) + 0.7·(−1) = 1.3132616875 − 0.7 = 0.6132616875
        assertEquals(0.6132616875182228, loss(Spce.defaults(), new double[] {-20, -5, -15, -10}, 0.3), 1e-6);
    }

    @Test
    void strengthOneIsDpo() {
        double[][] cases = {{-10, -15, -12, -13}, {-20, -5, -15, -10}, {-1, -2, -3, -4}};
        for (double[] c : cases) {
            assertEquals(Logps.value(Dpo.defaults().loss(Logps.pair(m, c[0], c[1], c[2], c[3]))),
                    loss(Spce.defaults(), c, 1), 1e-12);
        }
    }

    @Test
    void extremeMarginsStayFinite() {
        // p = 0.5: βh = 1000 gives sp(−1000) + 0.5·1000 = 500, βh = −1000 gives sp(1000) − 500 = 500
        double[] x = {1e4, 0, 0, 1e4, 0, 0, 0, 0};
        double[] ones = {1, 1};
        double[] p = {0.5, 0.5};
        assertEquals(500, Logps.value(Spce.defaults().loss(Logps.pairs(m.create(x), ones, ones, p))), 1e-6);
        double[] g = Logps.autograd(m, x, v -> Spce.defaults().loss(Logps.pairs(v, ones, ones, p)).loss());
        Logps.assertFinite(g);
        // dL/dh = β·(σ(βh) − p) = ±0.05, halved by the batch mean
        assertEquals(0.025, g[0], 1e-9);
        assertEquals(-0.025, g[1], 1e-9);
    }

    @Test
    void gradientMatchesFiniteDifferences() {
        double[] x = {-12.5, -7.25, -3, -11.5, -8.75, -4.5, -10, -9, -5, -13, -8, -2};
        double[] lc = {5, 3, 2};
        double[] lr = {4, 6, 1};
        double[] p = {0.9, 0.55, 0.2};
        Logps.checkGradient(m, x, v -> new Spce(0.05, false).loss(Logps.pairs(v, lc, lr, p)).loss());
    }

    @Test
    void rejectsMissingOrOutOfRangeStrength() {
        assertThrows(IllegalArgumentException.class, () -> Spce.defaults().loss(Logps.pair(m, -1, -2, -1, -2)));
        assertThrows(IllegalArgumentException.class, () -> loss(Spce.defaults(), new double[] {-1, -2, -1, -2}, 1.2));
        assertThrows(IllegalArgumentException.class, () -> new Spce(0, false));
    }
}
