package steer.objective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class DualClipTest extends ManagedTest {

    private double loss(DualClip o, double[] x, double lc, double lr) {
        return Logps.value(o.loss(Logps.pairs(m.create(x), new double[] {lc}, new double[] {lr}, null)));
    }

    @Test
    void handWorkedCases() {
        // β = 0.1, γ_w = 20, γ_l = 10. Equal log-probs, r_w = r_l = 0: 20 + 10 = 30
        assertEquals(30, loss(DualClip.defaults(), new double[] {-5, -5, -5, -5}, 1, 1), 1e-6);
        // r_w = −10 + 60 = 50, r_l = −40 + 10 = −30: max(0, 20 − 5) + max(0, 10 − 3) = 15 + 7 = 22
        assertEquals(22, loss(DualClip.defaults(), new double[] {-10, -40, -60, -10}, 1, 1), 1e-6);
        // both margins met, r_w = 250, r_l = −150: max(0, 20 − 25) + max(0, 10 − 15) = 0
        assertEquals(0, loss(DualClip.defaults(), new double[] {-10, -160, -260, -10}, 1, 1), 1e-6);
        // per token, lengths 10: r_w = 25, r_l = −15: max(0, 20 − 2.5) + max(0, 10 − 1.5) = 17.5 + 8.5 = 26
        assertEquals(26, loss(new DualClip(0.1, 20, 10, true), new double[] {-10, -160, -260, -10}, 10, 10), 1e-6);
    }

    @Test
    void zeroGradientOnceBothMarginsAreMet() {
        double[] x = {-10, -160, -260, -10};
        double[] one = {1};
        double[] g = Logps.autograd(m, x, v -> DualClip.defaults().loss(Logps.pairs(v, one, one, null)).loss());
        assertArrayEquals(new double[] {0, 0, 0, 0}, g, 0.0);
        // only the chosen margin met (r_l = 0): the rejected hinge alone pushes, dL/dπ_r = β
        double[] y = {-10, -10, -260, -10};
        double[] h = Logps.autograd(m, y, v -> DualClip.defaults().loss(Logps.pairs(v, one, one, null)).loss());
        assertArrayEquals(new double[] {0, 0.1, 0, -0.1}, h, 1e-12);
    }

    @Test
    void extremeLogRatiosStayFinite() {
        // pair 1: r_w = 1e4, r_l = −1e4, both met: 0; pair 2: r_w = −1e4, r_l = 1e4: (20 + 1000) + (10 + 1000) = 2030
        double[] x = {1e4, -1e4, -1e4, 1e4, 0, 0, 0, 0};
        double[] ones = {1, 1};
        assertEquals(1015, Logps.value(DualClip.defaults().loss(Logps.pairs(m.create(x), ones, ones, null))), 1e-6);
        double[] g = Logps.autograd(m, x, v -> DualClip.defaults().loss(Logps.pairs(v, ones, ones, null)).loss());
        Logps.assertFinite(g);
        assertArrayEquals(new double[] {0, -0.05, 0, 0.05, 0, 0.05, 0, -0.05}, g, 1e-12);
    }

    @Test
    void gradientMatchesFiniteDifferences() {
        // points away from the hinges' kinks, some hinges active and some released
        double[] x = {-12.5, -7.25, -3, -11.5, -8.75, -4.5, -10, -9, -5, -13, -8, -2};
        double[] lc = {5, 3, 2};
        double[] lr = {4, 6, 1};
        Logps.checkGradient(m, x, v -> DualClip.defaults().loss(Logps.pairs(v, lc, lr, null)).loss());
        Logps.checkGradient(m, x, v -> new DualClip(1, 0.5, 0.5, true).loss(Logps.pairs(v, lc, lr, null)).loss());
        Logps.checkGradient(m, x, v -> new DualClip(0.1, 20, 10, false, 20).loss(Logps.pairs(v, lc, lr, null)).loss());
    }

    @Test
    void marginsScaledToTheLengthMatchHandComputedValues() {
        DualClip scaled = new DualClip(0.1, 20, 10, false, 400);
        // |y_w| = 6, |y_l| = 4: margins 20·6/400 = 0.3 and 10·4/400 = 0.1; r_w = r_l = 0: 0.3 + 0.1
        assertEquals(0.4, loss(scaled, new double[] {-10, -10, -10, -10}, 6, 4), 1e-9);
        // r_w = −10 + 11 = 1, r_l = −12 + 10 = −2: max(0, 0.3 − 0.1) + max(0, 0.1 − 0.2) = 0.2
        assertEquals(0.2, loss(scaled, new double[] {-10, -12, -11, -10}, 6, 4), 1e-9);
        // r_w = 3, r_l = −1: both released at 6 tokens, though the paper's margins would need r_w ≥ 200
        assertEquals(0, loss(scaled, new double[] {-8, -11, -11, -10}, 6, 4), 1e-9);
        // the paper's margins on the same pair: max(0, 20 − 0.3) + max(0, 10 − 0.1) = 29.6
        assertEquals(29.6, loss(DualClip.defaults(), new double[] {-8, -11, -11, -10}, 6, 4), 1e-9);
        // a response of exactly L tokens keeps the paper's margins
        assertEquals(loss(DualClip.defaults(), new double[] {-10, -12, -11, -10}, 400, 400),
                loss(scaled, new double[] {-10, -12, -11, -10}, 400, 400), 1e-9);
    }

    @Test
    void scaledMarginsAndPerTokenRatiosDoNotMix() {
        assertThrows(IllegalArgumentException.class, () -> new DualClip(0.1, 20, 10, true, 400));
        assertThrows(IllegalArgumentException.class, () -> new DualClip(0.1, 20, 10, false, -1));
    }

    @Test
    void rejectsNegativeMargin() {
        assertThrows(IllegalArgumentException.class, () -> new DualClip(0.1, -1, 10, false));
    }
}
