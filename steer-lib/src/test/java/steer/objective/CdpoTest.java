package steer.objective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CdpoTest extends ManagedTest {

    private double loss(PairObjective o, double pc, double pr, double rc, double rr) {
        return Logps.value(o.loss(Logps.pair(m, pc, pr, rc, rr)));
    }

    @Test
    void handWorkedCases() {
        // With sp(z) = log(1 + e^z): L = (1−ε)·sp(−βh) + ε·sp(βh) = sp(−βh) + ε·βh, β = 0.1, ε = 0.3.
        // equal log-probs, h = 0: L = ln 2
        assertEquals(Math.log(2), loss(Cdpo.defaults(), -3, -3, -3, -3), 1e-6);
        // h = 4: sp(−0.4) + 0.3·0.4 = 0.5130152524 + 0.12 = 0.6330152524
        assertEquals(0.6330152523999526, loss(Cdpo.defaults(), -10, -15, -12, -13), 1e-6);
        // h = −10: sp(1) + 0.3·(−1) = 1.3132616875 − 0.3 = 1.0132616875
        assertEquals(1.0132616875182228, loss(Cdpo.defaults(), -20, -5, -15, -10), 1e-6);
    }

    @Test
    void epsilonZeroIsDpo() {
        double[][] cases = {{-10, -15, -12, -13}, {-20, -5, -15, -10}, {-1, -2, -3, -4}};
        for (double[] c : cases) {
            assertEquals(loss(Dpo.defaults(), c[0], c[1], c[2], c[3]),
                    loss(new Cdpo(0.1, 0, false), c[0], c[1], c[2], c[3]), 1e-12);
        }
    }

    @Test
    void extremeMarginsStayFinite() {
        // β·h = 1000: 0.7·sp(−1000) + 0.3·sp(1000) = 300; β·h = −1000: 0.7·1000 = 700; mean 500
        double[] x = {1e4, 0, 0, 1e4, 0, 0, 0, 0};
        double[] ones = {1, 1};
        assertEquals(500, Logps.value(Cdpo.defaults().loss(Logps.pairs(m.create(x), ones, ones, null))), 1e-6);
        double[] g = Logps.autograd(m, x, v -> Cdpo.defaults().loss(Logps.pairs(v, ones, ones, null)).loss());
        Logps.assertFinite(g);
        // dL/dh = β·(σ(βh) − (1−ε)); for βh = 1000: 0.1·0.3, for −1000: −0.1·0.7; halved by the batch mean
        assertEquals(0.015, g[0], 1e-9);
        assertEquals(-0.035, g[1], 1e-9);
    }

    @Test
    void gradientMatchesFiniteDifferences() {
        double[] x = {-12.5, -7.25, -3, -11.5, -8.75, -4.5, -10, -9, -5, -13, -8, -2};
        double[] lc = {5, 3, 2};
        double[] lr = {4, 6, 1};
        Logps.checkGradient(m, x, v -> Cdpo.defaults().loss(Logps.pairs(v, lc, lr, null)).loss());
    }

    @Test
    void rejectsBadEpsilon() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Cdpo(0.1, 0.5, false));
        assertTrue(e.getMessage().contains("0.3"), e.getMessage());
    }
}
