package steer.objective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import org.junit.jupiter.api.Test;

class IpoTest extends ManagedTest {

    /** IPO on one pair with the given lengths; x = {π_c, π_r, ref_c, ref_r} summed. */
    private double ipo(Ipo ipo, double[] x, double lc, double lr) {
        return Logps.value(ipo.loss(Logps.pairs(m.create(x), new double[] {lc}, new double[] {lr}, null)));
    }

    @Test
    void handWorkedCases() {
        // equal log-probs: h = 0, β = 0.1: L = (0 − 5)² = 25
        assertEquals(25, ipo(Ipo.defaults(), new double[] {-7, -7, -7, -7}, 3, 3), 1e-6);
        // r̃_w = (−4 + 12)/2 = 4, r̃_l = (−8 + 4)/4 = −1, h = 5 = 1/(2·0.1): L = 0
        assertEquals(0, ipo(Ipo.defaults(), new double[] {-4, -8, -12, -4}, 2, 4), 1e-6);
        // β = 0.2, target 2.5; r̃_w = 1, r̃_l = 0, h = 1: L = (1 − 2.5)² = 2.25
        assertEquals(2.25, ipo(new Ipo(0.2), new double[] {-1, -3, -2, -3}, 1, 1), 1e-6);
    }

    @Test
    void extremeMarginsStayFinite() {
        // h = 1e4: (1e4 − 5)² = 99900025; h = −1e4: (−1e4 − 5)² = 100100025; mean 100000025; dL/dπ_c = (h − 5)
        double[] x = {1e4, 0, 0, 1e4, 0, 0, 0, 0};
        double[] ones = {1, 1};
        assertEquals(100000025, Logps.value(Ipo.defaults().loss(Logps.pairs(m.create(x), ones, ones, null))), 1e-6);
        double[] g = Logps.autograd(m, x, v -> Ipo.defaults().loss(Logps.pairs(v, ones, ones, null)).loss());
        Logps.assertFinite(g);
        assertEquals(9995, g[0], 1e-9);
        assertEquals(-10005, g[1], 1e-9);
    }

    @Test
    void doublingSumAndLengthLeavesIpoUnchangedButChangesDpo() {
        // a response whose tokens repeat keeps its per-token mean: sums and lengths both double
        double[] once = {-6, -9, -8, -6};
        double[] twice = {-12, -9, -16, -6};
        assertEquals(ipo(Ipo.defaults(), once, 3, 3), ipo(Ipo.defaults(), twice, 6, 3), 1e-12);
        NDArray a = Dpo.defaults().loss(Logps.pairs(m.create(once), new double[] {3}, new double[] {3}, null)).loss();
        NDArray b = Dpo.defaults().loss(Logps.pairs(m.create(twice), new double[] {6}, new double[] {3}, null)).loss();
        assertNotEquals(Logps.value(a), Logps.value(b), 1e-3);
    }

    @Test
    void gradientMatchesFiniteDifferences() {
        double[] x = {-12.5, -7.25, -3, -11.5, -8.75, -4.5, -10, -9, -5, -13, -8, -2};
        double[] lc = {5, 3, 2};
        double[] lr = {4, 6, 1};
        Logps.checkGradient(m, x, v -> Ipo.defaults().loss(Logps.pairs(v, lc, lr, null)).loss());
        Logps.checkGradient(m, x, v -> new Ipo(0.2).loss(Logps.pairs(v, lc, lr, null)).loss());
    }

    @Test
    void rejectsBadBeta() {
        assertThrows(IllegalArgumentException.class, () -> new Ipo(-0.2));
    }
}
