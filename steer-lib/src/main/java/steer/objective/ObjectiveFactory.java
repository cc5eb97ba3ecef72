package steer.objective;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Builds an objective from its name and the hyperparameters that differ from its paper defaults, as a pair batch
 * names it on the wire ({@code ObjectiveSpec}: a name and a map of numbers).
 *
 * <p>Names: {@code sso}, {@code pbaa} (SSO with θ = 0 and W ≡ 1), {@code dpo}, {@code ipo}, {@code cdpo},
 * {@code dual-clip}, {@code spce}. Parameters, each optional (absent: the objective's {@code defaults()}):
 * <ul>
 *   <li>{@code beta}: β of the pair loss, or of SSO's base loss;
 *   <li>{@code per_token} (0 or 1): length-averaged log-ratios for dpo, cdpo, dual-clip, spce;
 *   <li>{@code epsilon}: cDPO's ε; {@code gamma_w}, {@code gamma_l}: dual-clip's margins; {@code length_scale}: the
 *       response length at which dual-clip's margins are the paper's (0 = not scaled; {@link DualClip});
 *   <li>{@code alpha}, {@code theta}, {@code gamma}, {@code lambda}: SSO's α, θ, γ, λ; {@code weighted} (0 or 1):
 *       SSO's W on or off; {@code authors_code_form} (0 or 1): L_base + W·θ·G instead of the paper's form;
 *       {@code base_dpo} (0 or 1): DPO instead of IPO as SSO's base loss (then β defaults to DPO's 0.1).
 * </ul>
 * A parameter the named objective does not read is an error, so a typo never silently trains with a default.
 */
public final class ObjectiveFactory {

    /** Every objective name {@link #create} accepts. */
    public static final List<String> NAMES = List.of("sso", "pbaa", "dpo", "ipo", "cdpo", "dual-clip", "spce");

    private static final Map<String, Set<String>> PARAMETERS = Map.of(
            "dpo", Set.of("beta", "per_token"),
            "ipo", Set.of("beta"),
            "cdpo", Set.of("beta", "epsilon", "per_token"),
            "dual-clip", Set.of("beta", "gamma_w", "gamma_l", "per_token", "length_scale"),
            "spce", Set.of("beta", "per_token"),
            "sso", Set.of("beta", "alpha", "theta", "gamma", "lambda", "weighted", "authors_code_form", "base_dpo"),
            "pbaa", Set.of("beta", "alpha", "theta", "gamma", "lambda", "weighted", "authors_code_form", "base_dpo"));

    private ObjectiveFactory() {
    }

    /**
     * The objective {@code name} with {@code params} over its defaults.
     *
     * @throws IllegalArgumentException naming the objective or parameter at fault and what is allowed
     */
    public static Objective<?> create(String name, Map<String, Double> params) {
        Set<String> allowed = PARAMETERS.get(name);
        if (allowed == null) {
            throw new IllegalArgumentException("unknown objective '" + name + "'; expected one of " + NAMES);
        }
        for (String key : params.keySet()) {
            if (!allowed.contains(key)) {
                throw new IllegalArgumentException("objective " + name + " has no parameter '" + key
                        + "'; its parameters are " + new TreeSet<>(allowed));
            }
        }
        Params p = new Params(name, params);
        switch (name) {
            case "dpo":
                return new Dpo(p.get("beta", Dpo.defaults().beta()), p.flag("per_token", false));
            case "ipo":
                return new Ipo(p.get("beta", Ipo.defaults().beta()));
            case "cdpo":
                Cdpo c = Cdpo.defaults();
                return new Cdpo(p.get("beta", c.beta()), p.get("epsilon", c.epsilon()), p.flag("per_token", false));
            case "dual-clip":
                DualClip d = DualClip.defaults();
                return new DualClip(p.get("beta", d.beta()), p.get("gamma_w", d.gammaWin()),
                        p.get("gamma_l", d.gammaLose()), p.flag("per_token", false), p.get("length_scale", 0));
            case "spce":
                return new Spce(p.get("beta", Spce.defaults().beta()), p.flag("per_token", false));
            default:
                Sso s = name.equals("pbaa") ? Sso.pbaa() : Sso.defaults();
                PairObjective base = p.flag("base_dpo", false) ? new Dpo(p.get("beta", Dpo.defaults().beta()), false)
                        : new Ipo(p.get("beta", s.base().beta()));
                return new Sso(base, p.get("alpha", s.alpha()), p.get("theta", s.theta()), p.get("gamma", s.gamma()),
                        p.get("lambda", s.lambda()), p.flag("weighted", s.weighted()),
                        p.flag("authors_code_form", false) ? Sso.Form.AUTHORS_CODE : Sso.Form.PAPER);
        }
    }

    /** Reads parameters with defaults; flags must be exactly 0 or 1. */
    private static final class Params {
        private final String objective;
        private final Map<String, Double> values;

        Params(String objective, Map<String, Double> values) {
            this.objective = objective;
            this.values = new HashMap<>(values);
        }

        double get(String key, double fallback) {
            Double v = values.get(key);
            return v == null ? fallback : v;
        }

        boolean flag(String key, boolean fallback) {
            Double v = values.get(key);
            if (v == null) {
                return fallback;
            }
            if (v != 0 && v != 1) {
                throw new IllegalArgumentException("objective " + objective + " parameter '" + key
                        + "' is a switch: 0 or 1, got " + v);
            }
            return v == 1;
        }
    }
}
