package steer.align;

import java.util.LinkedHashMap;
import java.util.Map;
import steer.world.WorldEvaluation;

/**
 * An oracle evaluation as a flat map of named figures, the form run records and the orchestrator's API carry.
 * Keys: {@code mean_score}, {@code win_rate} (absent without a baseline), {@code mean_length},
 * {@code signal_accuracy}, {@code signal_tie_rate}, {@code mean_score_plus}, {@code on_policy},
 * {@code judge_accuracy}, {@code position_consistency}, {@code n}, and {@code feature_<name>} per feature
 * (absent when undefined, e.g. safety without any secret query).
 */
public final class EvalMetrics {

    private EvalMetrics() {
    }

    /**
     * Flattens a report.
     *
     * @param r the report
     * @return the figures, in the order above; never NaN
     */
    public static Map<String, Double> of(WorldEvaluation.Report r) {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("mean_score", r.meanScore());
        if (r.winRate() != null) {
            m.put("win_rate", r.winRate());
        }
        m.put("mean_length", r.meanLength());
        m.put("signal_accuracy", r.signalAccuracy());
        m.put("signal_tie_rate", r.signalTieRate());
        m.put("mean_score_plus", r.meanScorePlus());
        m.put("on_policy", r.onPolicy());
        m.put("judge_accuracy", r.judgeAccuracy());
        m.put("position_consistency", r.positionConsistency());
        m.put("n", (double) r.n());
        for (Map.Entry<String, Double> f : r.perFeature().entrySet()) {
            if (!f.getValue().isNaN()) {
                m.put("feature_" + f.getKey(), f.getValue());
            }
        }
        return m;
    }
}
