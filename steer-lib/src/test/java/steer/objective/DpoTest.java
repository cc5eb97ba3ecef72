package steer.objective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DpoTest extends ManagedTest {

    private double dpo(double pc, double pr, double rc, double rr) {
        return Logps.value(Dpo.defaults().loss(Logps.pair(m, pc, pr, rc, rr)));
    }

    @Test
    void handWorkedCases() {
        // equal log-probs: h = 0, L = −log σ(0) = ln 2 = 0.6931471805599453
        assertEquals(Math.log(2), dpo(-10, -10, -10, -10), 1e-6);
        // r_w = −10 − (−12) = 2, r_l = −15 − (−13) = −2, h = 4, β·h = 0.4: L = log(1 + e^−0.4) = 0.5130152523999526
        assertEquals(0.5130152523999526, dpo(-10, -15, -12, -13), 1e-6);
        // r_w = −20 − (−15) = −5, r_l = −5 − (−10) = 5, h = −10, β·h = −1: L = log(1 + e) = 1.3132616875182228
        assertEquals(1.3132616875182228, dpo(-20, -5, -15, -10), 1e-6);
    }

    @Test
    void batchIsTheMeanOfItsPairs() {
        // the three pairs above in one batch: (ln 2 + 0.5130152524 + 1.3132616875) / 3 = 0.8398080402
        double[] x = {-10, -10, -20, -10, -15, -5, -10, -12, -15, -10, -13, -10};
        double[] ones = {1, 1, 1};
        LossResult r = Dpo.defaults().loss(Logps.pairs(m.create(x), ones, ones, null));
        assertEquals((Math.log(2) + 0.5130152523999526 + 1.3132616875182228) / 3, Logps.value(r), 1e-6);
        // rewards β·r: chosen (0, 0.2, −0.5), rejected (0, −0.2, 0.5); accuracy counts strict wins: 1 of 3
        assertEquals(-0.1, r.diagnostics().rewardChosen(), 1e-9);
        assertEquals(0.1, r.diagnostics().rewardRejected(), 1e-9);
        assertEquals(1.0 / 3, r.diagnostics().rewardAccuracy(), 1e-9);
        assertEquals(-0.2, r.diagnostics().rewardMargin(), 1e-9);
        assertEquals(-40.0 / 3, r.diagnostics().logpChosen(), 1e-9);
        assertEquals(-10, r.diagnostics().logpRejected(), 1e-9);
        assertTrue(r.diagnostics().toMap().keySet().containsAll(java.util.List.of("reward_chosen", "reward_margin")));
        assertTrue(!r.diagnostics().toMap().containsKey("sso_weight"));
    }

    @Test
    void extremeMarginsStayFinite() {
        // h = ±1e4, β·h = ±1000: L = log(1 + e^−1000) = 0 and log(1 + e^1000) = 1000; dL/dh = −β·σ(−β·h) = 0, −0.1
        double[] x = {1e4, 0, 0, 1e4, 0, 0, 0, 0};     // pair 1: h = 1e4, pair 2: h = −1e4
        double[] ones = {1, 1};
        LossResult r = Dpo.defaults().loss(Logps.pairs(m.create(x), ones, ones, null));
        assertEquals(500, Logps.value(r), 1e-6);
        double[] g = Logps.autograd(m, x, v -> Dpo.defaults().loss(Logps.pairs(v, ones, ones, null)).loss());
        Logps.assertFinite(g);
        // mean over 2 pairs: dL/dπ_c = −β·σ(−β·h)/2
        assertArrayEquals(new double[] {0, -0.05, 0, 0.05, 0, 0.05, 0, -0.05}, g, 1e-9);
    }

    @Test
    void gradientMatchesFiniteDifferences() {
        double[] y = {-12.5, -7.25, -3, -11.5, -8.75, -4.5, -10, -9, -5, -13, -8, -2};
        double[] lc = {5, 3, 2};
        double[] lr = {4, 6, 1};
        Logps.checkGradient(m, y, v -> Dpo.defaults().loss(Logps.pairs(v, lc, lr, null)).loss());
        Logps.checkGradient(m, y, v -> new Dpo(0.5, true).loss(Logps.pairs(v, lc, lr, null)).loss());
    }

    @Test
    void rejectsBadBeta() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Dpo(0, false));
        assertTrue(e.getMessage().contains("0.1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Dpo(Double.NaN, false));
    }
}
