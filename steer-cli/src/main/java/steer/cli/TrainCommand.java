package steer.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import steer.data.RecordKind;
import steer.objective.Cdpo;
import steer.objective.Dpo;
import steer.objective.DualClip;
import steer.objective.Ipo;
import steer.objective.Objective;
import steer.objective.PairObjective;
import steer.objective.Spce;
import steer.objective.Sso;

/** Offline preference training with any of Steer's objectives. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train on a saved preference dataset: pairs {\"prompt\",\"chosen\",\"rejected\"} (spce adds "
                + "\"strength\"), or SSO records {\"prompt\",\"prompt_plus\",\"prompt_minus\",\"y_plus\",\"y_minus\",\"y_orig\"}.")
final class TrainCommand implements Runnable {

    @Mixin
    TrainingOptions training;

    @Option(names = "--objective", required = true, description = "dpo, ipo, cdpo, dual-clip, spce, sso or pbaa")
    String objective;

    @Option(names = "--beta", description = "β of the (base) loss (defaults: dpo/cdpo/dual-clip/spce 0.1, ipo 0.1, sso/pbaa base IPO 0.2)")
    Double beta;

    @Option(names = "--per-token", description = "use length-averaged log-ratios in dpo, cdpo, dual-clip, spce")
    boolean perToken;

    @Option(names = "--epsilon", description = "cDPO label noise ε in [0, 0.5) (default 0.3, TSO App. C.2.2)")
    Double epsilon;

    @Option(names = "--gamma-w", description = "dual-clip γ_w (default 20)")
    Double gammaWin;

    @Option(names = "--gamma-l", description = "dual-clip γ_l (default 10)")
    Double gammaLose;

    @Option(names = "--base", defaultValue = "ipo", description = "SSO base loss: ipo or dpo (default: ${DEFAULT-VALUE})")
    String base;

    @Option(names = "--alpha", description = "SSO α in W (default 0.66)")
    Double alpha;

    @Option(names = "--theta", description = "SSO θ, weight of G (default 0.1; 0 switches G off)")
    Double theta;

    @Option(names = "--gamma", description = "SSO γ, weight of L- in G (default 1)")
    Double gamma;

    @Option(names = "--lambda", description = "SSO λ, weight of the SFT terms (default 0)")
    Double lambda;

    @Option(names = "--no-weight", description = "SSO with W ≡ 1 (the paper's ablation)")
    boolean noWeight;

    @Option(names = "--sso-form", defaultValue = "paper", description = "paper: W·[θ·G + L_base]; authors-code: L_base + W·θ·G")
    String ssoForm;

    @Override
    public void run() {
        ObjectNode h = new ObjectMapper().createObjectNode();
        Objective<?> o = objective();
        h.put("objective", o.toString());
        RecordKind kind = o instanceof Sso ? RecordKind.SSO : o instanceof Spce ? RecordKind.SPCE_PAIRS : RecordKind.PAIRS;
        // 1e-4: small models trained from scratch need far more than the 5e-7 the DPO paper uses for 7B models
        training.run(objective, o, kind, 1e-4, h);
    }

    private Objective<?> objective() {
        switch (objective) {
            case "dpo":
                return new Dpo(or(beta, Dpo.defaults().beta()), perToken);
            case "ipo":
                return new Ipo(or(beta, Ipo.defaults().beta()));
            case "cdpo":
                return new Cdpo(or(beta, Cdpo.defaults().beta()), or(epsilon, Cdpo.defaults().epsilon()), perToken);
            case "dual-clip":
                DualClip d = DualClip.defaults();
                return new DualClip(or(beta, d.beta()), or(gammaWin, d.gammaWin()), or(gammaLose, d.gammaLose()), perToken);
            case "spce":
                return new Spce(or(beta, Spce.defaults().beta()), perToken);
            case "sso":
            case "pbaa":
                Sso s = objective.equals("pbaa") ? Sso.pbaa() : Sso.defaults();
                PairObjective baseLoss = switch (base) {
                    case "ipo" -> new Ipo(or(beta, s.base().beta()));
                    case "dpo" -> new Dpo(or(beta, Dpo.defaults().beta()), false);
                    default -> throw new IllegalArgumentException("--base must be ipo or dpo, got '" + base + "'");
                };
                Sso.Form form = switch (ssoForm) {
                    case "paper" -> Sso.Form.PAPER;
                    case "authors-code" -> Sso.Form.AUTHORS_CODE;
                    default -> throw new IllegalArgumentException("--sso-form must be paper or authors-code, got '" + ssoForm + "'");
                };
                return new Sso(baseLoss, or(alpha, s.alpha()), or(theta, s.theta()), or(gamma, s.gamma()),
                        or(lambda, s.lambda()), s.weighted() && !noWeight, form);
            default:
                throw new IllegalArgumentException("unknown --objective '" + objective
                        + "'; expected one of dpo, ipo, cdpo, dual-clip, spce, sso, pbaa");
        }
    }

    private static double or(Double value, double fallback) {
        return value == null ? fallback : value;
    }
}
