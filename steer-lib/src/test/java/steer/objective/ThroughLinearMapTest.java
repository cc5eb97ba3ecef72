package steer.objective;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

/**
 * Finite-difference checks of DPO and SSO with respect to the weights of a tiny linear "model", so the
 * gradient is checked through log-softmax and the log-prob sums, not only at the log-prob inputs.
 */
class ThroughLinearMapTest extends ManagedTest {

    private static final double[] FEATURES = {0.5, -1, 0.25, 1.5, 0.3, -0.2, -0.7, 0.8, 1.1, 0.05, -0.4, 0.9,
        0.6, 0.2, -1.3, -0.1, 1.2, 0.4, 0.7, -0.9, 0.3, -0.5, 0.1, 1.4};                       // [8, 3]

    /** log-probs of class 0 under softmax(features · W), W = v as [3, 2]: [8], owned by v's manager. */
    private static NDArray logps(NDArray v) {
        NDArray x = v.getManager().create(FEATURES, new Shape(8, 3));
        return x.matMul(v.reshape(3, 2)).logSoftmax(-1).get(":, 0");
    }

    private static final double[] W0 = {0.3, -0.2, 0.1, 0.5, -0.4, 0.25};

    @Test
    void dpoThroughTheWeights() {
        Logps.checkGradient(m, W0, v -> {
            NDArray lp = logps(v);
            NDArray len = v.getManager().create(new double[] {2, 3});
            NDArray ref = v.getManager().create(new double[] {-0.9, -0.6});
            return Dpo.defaults().loss(new PreferenceLogps(lp.get("0:2"), lp.get("2:4"), ref, ref, len, len, null))
                    .loss();
        });
    }

    @Test
    void ssoThroughTheWeights() {
        Logps.checkGradient(m, W0, v -> {
            // B = 1, six sequences: (x, y+), (x, y-), (x+, y+), (x+, y-), (x-, y°), (x-, y+); rows 6 and 7 unused
            NDArray lp = logps(v);
            NDArray one = v.getManager().create(new double[] {2});
            NDArray r = v.getManager().create(new double[] {-0.9});
            PreferenceLogps plain = new PreferenceLogps(lp.get("0:1"), lp.get("1:2"), r, r, one, one, null);
            PreferenceLogps pos = new PreferenceLogps(lp.get("2:3"), lp.get("3:4"), r, r, one, one, null);
            PreferenceLogps neg = new PreferenceLogps(lp.get("4:5"), lp.get("5:6"), r, r, one, one, null);
            return Sso.defaults().loss(new SsoLogps(plain, pos, neg)).loss();
        });
    }
}
