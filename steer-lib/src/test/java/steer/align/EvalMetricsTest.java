package steer.align;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import steer.world.WorldEvaluation;

class EvalMetricsTest {

    @Test
    void aReportFlattensToNamedFiguresWithoutUndefinedOnes() {
        Map<String, Double> features = new LinkedHashMap<>();
        features.put("accuracy", 0.6);
        features.put("concision", 0.9);
        features.put("safety", Double.NaN);
        features.put("format", 0.8);
        WorldEvaluation.Report r = new WorldEvaluation.Report(0.5, null, 6.25, features, 0.7, 0.1, 0.55, 0.02, 0.65,
                0.75, 40);
        Map<String, Double> m = EvalMetrics.of(r);
        assertEquals(List.of("mean_score", "mean_length", "signal_accuracy", "signal_tie_rate", "mean_score_plus",
                "on_policy", "judge_accuracy", "position_consistency", "n", "feature_accuracy", "feature_concision",
                "feature_format"), List.copyOf(m.keySet()));
        assertEquals(6.25, m.get("mean_length"));
        assertEquals(40.0, m.get("n"));
        assertFalse(m.containsKey("win_rate"), "no baseline, no win rate");
        WorldEvaluation.Report withBaseline = new WorldEvaluation.Report(0.5, 0.625, 6.25, features, 0.7, 0.1, 0.55,
                0.02, 0.65, 0.75, 40);
        assertEquals(0.625, EvalMetrics.of(withBaseline).get("win_rate"));
    }
}
