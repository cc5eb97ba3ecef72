package steer.objective;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a loss reports beside its value, as plain Java numbers read once from detached arrays, so services can
 * export it without touching native memory. Names follow TRL's {@code DPOTrainer} logs; a value that does not
 * apply to the objective is {@code NaN} and is left out of {@link #toMap()}. All values are batch means.
 *
 * @param rewardChosen   β·r(y_w), r in the form the loss reads (summed or per token) ({@code reward_chosen})
 * @param rewardRejected β·r(y_l) ({@code reward_rejected})
 * @param rewardAccuracy fraction of pairs with β·r(y_w) &gt; β·r(y_l) ({@code reward_accuracy})
 * @param rewardMargin   β·(r(y_w) − r(y_l)) ({@code reward_margin})
 * @param logpChosen     log πθ(y_w|x) summed over tokens; for SFT the demonstration's ({@code logp_chosen})
 * @param logpRejected   log πθ(y_l|x) summed over tokens ({@code logp_rejected})
 * @param ssoWeight      SSO's W = σ(−(α·π̃θ(y+|x) + (1−α)·π̃θ(y-|x))), reported even when W is switched off
 *                       ({@code sso_weight})
 * @param ssoLossBase    SSO's L_base(x, y+, y-) ({@code sso_loss_base})
 * @param ssoLossPlus    SSO's L+ ({@code sso_loss_plus})
 * @param ssoLossMinus   SSO's L- ({@code sso_loss_minus})
 */
public record Diagnostics(double rewardChosen, double rewardRejected, double rewardAccuracy, double rewardMargin,
                          double logpChosen, double logpRejected, double ssoWeight, double ssoLossBase,
                          double ssoLossPlus, double ssoLossMinus) {

    /** The non-NaN values under TRL-style snake_case names, in declaration order. */
    public Map<String, Double> toMap() {
        Map<String, Double> out = new LinkedHashMap<>();
        put(out, "reward_chosen", rewardChosen);
        put(out, "reward_rejected", rewardRejected);
        put(out, "reward_accuracy", rewardAccuracy);
        put(out, "reward_margin", rewardMargin);
        put(out, "logp_chosen", logpChosen);
        put(out, "logp_rejected", logpRejected);
        put(out, "sso_weight", ssoWeight);
        put(out, "sso_loss_base", ssoLossBase);
        put(out, "sso_loss_plus", ssoLossPlus);
        put(out, "sso_loss_minus", ssoLossMinus);
        return out;
    }

    /** SFT's diagnostics: only the mean summed log-prob of the demonstrations. */
    static Diagnostics ofSft(NDArray sums) {
        double[] v = readOnce(sums);
        return new Diagnostics(Double.NaN, Double.NaN, Double.NaN, Double.NaN, mean(v, 0, v.length), Double.NaN,
                Double.NaN, Double.NaN, Double.NaN, Double.NaN);
    }

    /**
     * A pair loss's diagnostics; with {@code sso} non-empty also SSO's rows, each {@code [B]}: W, L_base and,
     * when present, L+ and L-.
     */
    static Diagnostics ofPairs(double beta, LogRatios r, PreferenceLogps in, NDArray... sso) {
        NDList rows = new NDList(r.chosen(), r.rejected(), in.policyChosen(), in.policyRejected());
        for (NDArray a : sso) {
            rows.add(a);
        }
        double[] v = readOnce(NDArrays.stack(rows));
        int b = (int) in.batchSize();
        double correct = 0;
        for (int i = 0; i < b; i++) {
            correct += beta * v[i] > beta * v[b + i] ? 1 : 0;
        }
        double chosen = beta * mean(v, 0, b);
        double rejected = beta * mean(v, b, b);
        return new Diagnostics(chosen, rejected, correct / b, chosen - rejected, mean(v, 2 * b, b), mean(v, 3 * b, b),
                sso.length > 0 ? mean(v, 4 * b, b) : Double.NaN, sso.length > 1 ? mean(v, 5 * b, b) : Double.NaN,
                sso.length > 2 ? mean(v, 6 * b, b) : Double.NaN, sso.length > 3 ? mean(v, 7 * b, b) : Double.NaN);
    }

    /** One detached copy, one read to Java; the copy belongs to the array's (step) manager. */
    private static double[] readOnce(NDArray a) {
        return a.stopGradient().toType(DataType.FLOAT64, false).toDoubleArray();
    }

    private static double mean(double[] v, int from, int n) {
        double s = 0;
        for (int i = from; i < from + n; i++) {
            s += v[i];
        }
        return s / n;
    }

    private static void put(Map<String, Double> out, String name, double value) {
        if (!Double.isNaN(value)) {
            out.put(name, value);
        }
    }
}
