package steer.cli.compare;

import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import steer.proto.v1.IterationResult;
import steer.proto.v1.Run;

/**
 * The figures of one run, read from its rounds. A round whose {@code eval_metrics} is empty was not evaluated;
 * the rounds of one iteration split share {@code split}, and the evaluated round of a split is its last.
 */
public final class RunFigures {

    private RunFigures() {
    }

    /** A figure of an evaluated round, NaN when the round does not report it. */
    public static double eval(IterationResult round, String key) {
        Double v = round.getEvalMetricsMap().get(key);
        return v == null ? Double.NaN : v;
    }

    public static boolean evaluated(IterationResult round) {
        return !round.getEvalMetricsMap().isEmpty();
    }

    /** The run's last evaluated round, if it has one. */
    public static Optional<IterationResult> lastEvaluated(Run run) {
        IterationResult last = null;
        for (IterationResult r : run.getIterationsList()) {
            if (evaluated(r)) {
                last = r;
            }
        }
        return Optional.ofNullable(last);
    }

    /**
     * The evaluated round of each iteration split, keyed by the split counted from 1 (the plots' x). When several
     * evaluated rounds share a split the run comes from an orchestrator that did not fill {@code split} (a round
     * was an iteration then): the evaluated rounds are taken as the splits in order.
     */
    public static SortedMap<Integer, IterationResult> evaluatedBySplit(Run run) {
        SortedMap<Integer, IterationResult> bySplit = new TreeMap<>();
        boolean shared = false;
        for (IterationResult r : run.getIterationsList()) {
            if (evaluated(r)) {
                shared |= bySplit.put(r.getSplit() + 1, r) != null;
            }
        }
        if (shared) {
            bySplit.clear();
            for (IterationResult r : run.getIterationsList()) {
                if (evaluated(r)) {
                    bySplit.put(bySplit.size() + 1, r);
                }
            }
        }
        return bySplit;
    }

    /** Responses sampled from the policy over all rounds. */
    public static long samplesDrawn(Run run) {
        return run.getIterationsList().stream().mapToLong(IterationResult::getSamplesDrawn).sum();
    }

    /** Judge calls (each in both orders) over all rounds. */
    public static long judgeComparisons(Run run) {
        return run.getIterationsList().stream().mapToLong(IterationResult::getJudgeComparisons).sum();
    }

    /** Optimizer steps over all rounds: one per pair batch. */
    public static long optimizerSteps(Run run) {
        return run.getIterationsList().stream().mapToLong(IterationResult::getBatches).sum();
    }

    /** The SFT model's figure for this run (its baseline evaluation), NaN when absent. */
    public static double baseline(Run run, String key) {
        Map<String, Double> m = run.getBaselineMetricsMap();
        Double v = m.get(key);
        return v == null ? Double.NaN : v;
    }
}
