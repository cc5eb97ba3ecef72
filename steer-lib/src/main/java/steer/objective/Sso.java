package steer.objective;

import ai.djl.ndarray.NDArray;
import java.util.Objects;
import steer.model.Scalars;

/**
 * Self-Steering Optimization: a base pair loss on the plain query plus a self-steering loss on the
 * principle-conditioned queries, weighted towards pairs the policy itself finds likely.
 *
 * <pre>
 *   L  = W·[θ·(L+ + γ·L-) + L_base(x, y+, y-)]                      (paper form)
 *   L  = L_base(x, y+, y-) + W·θ·(L+ + γ·L-)                        (authors' code form)
 *   L+ = L_base(x+, y+, y-) + λ·L_sft(x+, y+),   L- = L_base(x-, y°, y+) + λ·L_sft(x-, y°)
 *   W  = σ(−(α·π̃θ(y+|x) + (1−α)·π̃θ(y-|x))),    π̃θ(y|x) = log πθ(y|x) / |y|
 * </pre>
 *
 * <p>x plain query, x+ / x- the query under the good / bad principle; y+, y-, y° the generated responses (see
 * {@link SsoLogps}); L_base a pair loss ({@link #base}); L_sft(x, y) = −π̃θ(y|x), the per-token NLL; W from the
 * policy only, not detached, so its gradient pushes the pairs toward on-policy. Xiang et al. 2024, arXiv
 * 2410.17131: v1's loss W·[θ·G + L_base] with G = L+ + L-; v2's γ and λ (γ = 1, λ = 0 keep v1).
 *
 * <p>Departures: L_sft is per example (the mean over y's tokens), not pooled over the batch as {@link Sft}, so
 * that W can weight it example by example. {@code weighted = false} sets W ≡ 1; θ = 0 drops G. With both it is
 * the PBAA baseline (SSO Table 12 ablations: W with θ = 0, G with W ≡ 1). The loss is the batch mean.
 *
 * @param base     the pair loss L_base; default IPO with β = 0.2 (DESIGN's SSO runs); DPO also allowed
 * @param alpha    α in [0, 1], mixing y+ and y- in W; default 0.66
 * @param theta    θ ≥ 0, weight of G; default 0.1; 0 switches G off
 * @param gamma    γ ≥ 0, weight of L- in G (v2); default 1
 * @param lambda   λ ≥ 0, weight of the SFT terms (v2 uses 0.1); default 0
 * @param weighted whether W multiplies the loss (false: W ≡ 1); default true
 * @param form     {@link Form#PAPER} (default) or {@link Form#AUTHORS_CODE}
 */
public record Sso(PairObjective base, double alpha, double theta, double gamma, double lambda, boolean weighted,
                  Form form) implements Objective<SsoLogps> {

    /** Where W applies. */
    public enum Form {
        /** W·[θ·G + L_base], the paper's equation. */
        PAPER,
        /** L_base + W·θ·G, as the authors' released code computes it. */
        AUTHORS_CODE
    }

    public Sso {
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(form, "form");
        if (!(alpha >= 0 && alpha <= 1)) {
            throw new IllegalArgumentException("Sso alpha must be in [0, 1], got " + alpha + "; the paper uses 0.66");
        }
        requireNonNegative("theta", theta, "the paper uses 0.1; 0 switches G off");
        requireNonNegative("gamma", gamma, "v2 of the paper uses 1");
        requireNonNegative("lambda", lambda, "default 0; v2 of the paper uses 0.1");
    }

    /** Base IPO(β = 0.2), α = 0.66, θ = 0.1, γ = 1, λ = 0, W on, paper form. */
    public static Sso defaults() {
        return new Sso(new Ipo(0.2), 0.66, 0.1, 1, 0, true, Form.PAPER);
    }

    /** The PBAA baseline: W ≡ 1 and θ = 0, so the loss is L_base(x, y+, y-) alone; other values as defaults. */
    public static Sso pbaa() {
        Sso d = defaults();
        return new Sso(d.base, d.alpha, 0, d.gamma, d.lambda, false, d.form);
    }

    /** @throws IllegalArgumentException if θ &gt; 0 and the input has no principle-conditioned pairs */
    @Override
    public LossResult loss(SsoLogps in) {
        PreferenceLogps plain = in.plain();
        LogRatios plainRatios = plain.logRatios(base.perToken());
        NDArray lossBase = base.lossPerPair(plain, plainRatios);                                        // [B]
        NDArray w = Scalars.mul(plain.policyChosenMean(), alpha).add(Scalars.mul(plain.policyRejectedMean(), 1 - alpha))
                .neg().getNDArrayInternal().sigmoid();                                                  // [B]
        if (!in.hasSteeringPairs()) {
            if (theta > 0) {
                throw new IllegalArgumentException("Sso with theta=" + theta + " needs the x+ and x- pairs;"
                        + " SsoLogps.positive/negative are null");
            }
            NDArray perExample = weighted && form == Form.PAPER ? w.mul(lossBase) : lossBase;
            return new LossResult(perExample.mean(), Diagnostics.ofPairs(base.beta(), plainRatios, plain, w, lossBase));
        }
        NDArray lossPlus = steering(in.positive());
        NDArray lossMinus = steering(in.negative());
        NDArray g = Scalars.mul(lossPlus.add(Scalars.mul(lossMinus, gamma)), theta);                                      // θ·G
        NDArray perExample;
        if (form == Form.PAPER) {
            perExample = weighted ? w.mul(g.add(lossBase)) : g.add(lossBase);
        } else {
            perExample = lossBase.add(weighted ? w.mul(g) : g);
        }
        return new LossResult(perExample.mean(),
                Diagnostics.ofPairs(base.beta(), plainRatios, plain, w, lossBase, lossPlus, lossMinus));
    }

    @Override
    public LossResult lossFrom(LogpsSource source) {
        return loss(source.sso());
    }

    /** L_base(pair) + λ·L_sft(prompt, chosen), {@code [B]}. */
    private NDArray steering(PreferenceLogps pair) {
        NDArray loss = base.lossPerPair(pair, pair.logRatios(base.perToken()));
        return lambda == 0 ? loss : loss.sub(Scalars.mul(pair.policyChosenMean(), lambda));
    }

    private static void requireNonNegative(String name, double value, String recommended) {
        if (!(value >= 0 && Double.isFinite(value))) {
            throw new IllegalArgumentException("Sso " + name + " must be finite and >= 0, got " + value + "; "
                    + recommended);
        }
    }
}
