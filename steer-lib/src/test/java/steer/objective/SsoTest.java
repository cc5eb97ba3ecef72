package steer.objective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import org.junit.jupiter.api.Test;

class SsoTest extends ManagedTest {

    /*
     * The worked example, one query (B = 1); base IPO(β = 0.2), target margin 1/(2β) = 2.5.
     *   plain    (x, y+, y-):  π = (−4, −9), ref = (−6, −6), |y| = (2, 3): r̃ = (1, −1), h = 2,   L_base = 0.25
     *   positive (x+, y+, y-): π = (−2, −6), ref = (−5, −3), |y| = (2, 3): r̃ = (1.5, −1), h = 2.5, L+ = 0
     *   negative (x-, y°, y+): π = (−3, −4), ref = (−3.5, −4), |y| = (1, 2): r̃ = (0.5, 0), h = 0.5, L- = 4
     *   W = σ(−(0.66·(−2) + 0.34·(−3))) = σ(2.34) = 0.9121360851706988;  G = L+ + L- = 4, θ·G = 0.4
     */
    private static final double[] EXAMPLE = {-4, -9, -6, -6, -2, -6, -5, -3, -3, -4, -3.5, -4};
    private static final double[][] LENGTHS = {{2}, {3}, {2}, {3}, {1}, {2}};
    private static final double W = 0.9121360851706988;

    /** SSO inputs from a flat vector of three pairs (plain, positive, negative), each laid out as in {@link Logps#pairs}. */
    static SsoLogps sso(NDArray v, double[][] lengths) {
        int b = lengths[0].length;
        return new SsoLogps(Logps.pairs(v.get("{}:{}", 0, 4 * b), lengths[0], lengths[1], null),
                Logps.pairs(v.get("{}:{}", 4 * b, 8 * b), lengths[2], lengths[3], null),
                Logps.pairs(v.get("{}:{}", 8 * b, 12 * b), lengths[4], lengths[5], null));
    }

    private double loss(Sso o, double[] x, double[][] lengths) {
        return Logps.value(o.loss(sso(m.create(x), lengths)));
    }

    private static Sso with(double theta, double gamma, double lambda, boolean weighted, Sso.Form form) {
        return new Sso(new Ipo(0.2), 0.66, theta, gamma, lambda, weighted, form);
    }

    @Test
    void handWorkedCases() {
        // paper form: W·(θ·G + L_base) = W·(0.4 + 0.25) = 0.65·W
        assertEquals(0.65 * W, loss(Sso.defaults(), EXAMPLE, LENGTHS), 1e-6);
        // authors' code: L_base + W·θ·G = 0.25 + 0.4·W
        assertEquals(0.25 + 0.4 * W, loss(with(0.1, 1, 0, true, Sso.Form.AUTHORS_CODE), EXAMPLE, LENGTHS), 1e-6);
        // λ = 0.1: L+ += 0.1·(−π̃(y+|x+)) = 0.1·1, L- += 0.1·(−π̃(y°|x-)) = 0.1·3; θ·G = 0.1·4.4 = 0.44: 0.69·W
        assertEquals(0.69 * W, loss(with(0.1, 1, 0.1, true, Sso.Form.PAPER), EXAMPLE, LENGTHS), 1e-6);
        // γ = 0.5: θ·G = 0.1·(0 + 0.5·4) = 0.2: 0.45·W
        assertEquals(0.45 * W, loss(with(0.1, 0.5, 0, true, Sso.Form.PAPER), EXAMPLE, LENGTHS), 1e-6);
        // W ≡ 1: 0.65; PBAA: L_base = 0.25
        assertEquals(0.65, loss(with(0.1, 1, 0, false, Sso.Form.PAPER), EXAMPLE, LENGTHS), 1e-6);
        assertEquals(0.25, loss(Sso.pbaa(), EXAMPLE, LENGTHS), 1e-6);
    }

    @Test
    void equalLogProbs() {
        // everything 0, |y| = 1: every h = 0, each IPO term (0 − 2.5)² = 6.25, W = σ(0) = 0.5
        double[] zeros = new double[12];
        double[][] ones = {{1}, {1}, {1}, {1}, {1}, {1}};
        assertEquals(0.5 * (0.1 * 12.5 + 6.25), loss(Sso.defaults(), zeros, ones), 1e-6);                 // 3.75
        assertEquals(6.25 + 0.5 * 0.1 * 12.5, loss(with(0.1, 1, 0, true, Sso.Form.AUTHORS_CODE), zeros, ones), 1e-6);
        // base DPO: L_base = L+ = L- = ln 2: 0.5·(0.1·2·ln 2 + ln 2) = 0.6·ln 2
        Sso dpoBase = new Sso(Dpo.defaults(), 0.66, 0.1, 1, 0, true, Sso.Form.PAPER);
        assertEquals(0.6 * Math.log(2), loss(dpoBase, zeros, ones), 1e-6);
    }

    @Test
    void diagnosticsReportWeightAndParts() {
        Diagnostics d = Sso.defaults().loss(sso(m.create(EXAMPLE), LENGTHS)).diagnostics();
        assertEquals(W, d.ssoWeight(), 1e-9);
        assertEquals(0.25, d.ssoLossBase(), 1e-9);
        assertEquals(0, d.ssoLossPlus(), 1e-9);
        assertEquals(4, d.ssoLossMinus(), 1e-9);
        assertEquals(0.2, d.rewardChosen(), 1e-9);          // β·r̃(y+|x) = 0.2·1, from the plain pair
        assertEquals(4, d.toMap().keySet().stream().filter(k -> k.startsWith("sso_")).count());
    }

    @Test
    void weightOffAndThetaZeroIsIpoOnThePlainPair() {
        Sso noWnoG = with(0, 1, 0, false, Sso.Form.PAPER);
        double[] x = {-4.5, -9.25, -6, -5, -2, -6, -5, -3, -3, -4, -3.5, -4};
        SsoLogps in = sso(m.create(x), LENGTHS);
        assertEquals(Logps.value(new Ipo(0.2).loss(in.plain())), Logps.value(noWnoG.loss(in)), 1e-12);
        // without the x+/x- pairs, PBAA still works and full SSO refuses
        SsoLogps plainOnly = new SsoLogps(in.plain(), null, null);
        assertEquals(Logps.value(new Ipo(0.2).loss(in.plain())), Logps.value(Sso.pbaa().loss(plainOnly)), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Sso.defaults().loss(plainOnly));
    }

    @Test
    void gradientFlowsThroughTheWeight() {
        // d L / d log π(y+|x) = −α·W(1−W)/|y+|·(θG + L_base) + W·2(h − 2.5)/|y+|
        //                     = −0.66·W(1−W)/2·0.65 + W·(−0.5) = −0.473258897831236
        double[] g = Logps.checkGradient(m, EXAMPLE, v -> Sso.defaults().loss(sso(v, LENGTHS)).loss());
        assertEquals(-0.66 * W * (1 - W) / 2 * 0.65 - 0.5 * W, g[0], 1e-9);
        assertEquals(-0.473258897831236, g[0], 1e-9);

        // plain margin exactly 2.5 (L_base = 0 and flat): the plain policy log-prob of y+ moves the loss only through W
        double[] onTarget = EXAMPLE.clone();
        onTarget[0] = -3;                                      // r̃(y+|x) = 1.5, h = 2.5
        double[] gw = Logps.checkGradient(m, onTarget, v -> Sso.defaults().loss(sso(v, LENGTHS)).loss());
        // W = σ(−(0.66·(−1.5) + 0.34·(−3))) = σ(2.01); dL/dsum = −0.66·W(1−W)/2·θG, θG = 0.4
        double w = 1 / (1 + Math.exp(-2.01));
        assertNotEquals(0, gw[0]);
        assertEquals(-0.66 * w * (1 - w) / 2 * 0.4, gw[0], 1e-9);
        // the reference log-prob does not enter W: its gradient there is only L_base's, which is 0
        assertEquals(0, gw[2], 1e-12);
        double[] pbaa = Logps.autograd(m, onTarget, v -> Sso.pbaa().loss(sso(v, LENGTHS)).loss());
        assertEquals(0, pbaa[0], 1e-12);
    }

    @Test
    void gradientMatchesFiniteDifferencesInEveryForm() {
        double[] x = {-4.5, -9.25, -6, -5, -2.5, -7, -2, -6, -5.5, -3, -3.25, -2, -3, -4, -4, -2.5, -3.5, -4.5,
                -2, -5, -3.75, -6, -2, -4};
        double[][] lengths = {{2, 3}, {3, 4}, {2, 1}, {3, 5}, {1, 2}, {2, 3}};
        for (Sso o : new Sso[] {Sso.defaults(), with(0.1, 0.5, 0.1, true, Sso.Form.PAPER),
                with(0.3, 1, 0.1, true, Sso.Form.AUTHORS_CODE), with(0.1, 1, 0, false, Sso.Form.PAPER),
                new Sso(Dpo.defaults(), 0.66, 0.1, 1, 0.1, true, Sso.Form.PAPER)}) {
            Logps.checkGradient(m, x, v -> o.loss(sso(v, lengths)).loss());
        }
    }

    @Test
    void extremeLogProbsStayFinite() {
        // plain policy log-probs of ±1e4 saturate W at 0 or 1 and make IPO's square about 1e8; nothing overflows
        double[] x = EXAMPLE.clone();
        x[0] = 1e4;
        x[1] = -1e4;
        double[] g = Logps.autograd(m, x, v -> Sso.defaults().loss(sso(v, LENGTHS)).loss());
        Logps.assertFinite(g);
        assertTrue(Double.isFinite(loss(Sso.defaults(), x, LENGTHS)));
        x[0] = -1e4;
        x[1] = 1e4;
        Logps.assertFinite(Logps.autograd(m, x, v -> Sso.defaults().loss(sso(v, LENGTHS)).loss()));
        // W = σ(−(0.66·(−5000) + 0.34·(3333.3))) = σ(2166.7) = 1: the loss is θG + L_base
        assertTrue(Double.isFinite(loss(Sso.defaults(), x, LENGTHS)));
    }

    @Test
    void rejectsOutOfRangeHyperparameters() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Sso(new Ipo(0.2), 1.5, 0.1, 1, 0, true, Sso.Form.PAPER));
        assertTrue(e.getMessage().contains("0.66"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> with(-0.1, 1, 0, true, Sso.Form.PAPER));
        assertThrows(IllegalArgumentException.class, () -> with(0.1, 1, -1, true, Sso.Form.PAPER));
    }
}
