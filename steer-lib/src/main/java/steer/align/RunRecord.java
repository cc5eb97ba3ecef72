package steer.align;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The persisted state of one run ({@link RunStateStore}): its settings, where it stands, the baseline evaluation
 * and one record per iteration begun.
 *
 * @param schemaVersion   1
 * @param settings        the run's settings, defaults filled in
 * @param status          running, succeeded, failed or stopped
 * @param error           why it failed, or empty
 * @param baselineMetrics the SFT model's evaluation ({@link EvalMetrics}); empty until done
 * @param baselineAnswers the SFT model's answers to the evaluation queries, which every later win rate compares
 *                        with: kept here so that a restarted orchestrator need not sample the SFT model again
 *                        (its generators serve a later version by then); empty until done, or in a state written
 *                        before they were kept
 * @param iterations      the iterations begun, in order, iteration i at index i
 * @param createdUnixMs   when the run was first started
 * @param updatedUnixMs   when this state was written
 */
public record RunRecord(int schemaVersion, RunSettings settings, RunStatus status, String error,
                        Map<String, Double> baselineMetrics, List<String> baselineAnswers,
                        List<IterationRecord> iterations, long createdUnixMs, long updatedUnixMs) {

    /** The state file layout this code writes. */
    public static final int SCHEMA_VERSION = 1;

    /**
     * Copies the collections, unmodifiable, and checks that iteration i sits at index i.
     *
     * @throws IllegalArgumentException if the schema is unknown or the iterations are out of order
     */
    public RunRecord {
        if (schemaVersion != SCHEMA_VERSION) {
            throw new IllegalArgumentException("run state schema " + schemaVersion + " is not " + SCHEMA_VERSION);
        }
        error = error == null ? "" : error;
        baselineMetrics = baselineMetrics == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(baselineMetrics));
        baselineAnswers = baselineAnswers == null ? List.of() : List.copyOf(baselineAnswers);
        iterations = iterations == null ? List.of() : List.copyOf(iterations);
        for (int i = 0; i < iterations.size(); i++) {
            if (iterations.get(i).iteration() != i) {
                throw new IllegalArgumentException("run state lists iteration " + iterations.get(i).iteration()
                        + " at position " + i);
            }
        }
    }

    /**
     * A new run.
     *
     * @param settings the settings
     * @param nowMs    the time
     * @return a running run with no iteration begun
     */
    public static RunRecord start(RunSettings settings, long nowMs) {
        return new RunRecord(SCHEMA_VERSION, settings, RunStatus.RUNNING, "", Map.of(), List.of(), List.of(), nowMs,
                nowMs);
    }

    /**
     * The run id.
     *
     * @return {@code settings().runId()}
     */
    public String runId() {
        return settings.runId();
    }

    /**
     * One iteration's record.
     *
     * @param iteration from 0
     * @return the record, if the iteration was begun
     */
    public Optional<IterationRecord> iteration(int iteration) {
        return iteration < iterations.size() ? Optional.of(iterations.get(iteration)) : Optional.empty();
    }

    /** This run with an iteration's record replaced, or appended if it is the next one. */
    public RunRecord with(IterationRecord it, long nowMs) {
        List<IterationRecord> list = new ArrayList<>(iterations);
        if (it.iteration() == list.size()) {
            list.add(it);
        } else if (it.iteration() < list.size()) {
            list.set(it.iteration(), it);
        } else {
            throw new IllegalArgumentException("iteration " + it.iteration() + " cannot follow " + list.size()
                    + " begun iterations");
        }
        return new RunRecord(schemaVersion, settings, status, error, baselineMetrics, baselineAnswers, list,
                createdUnixMs, nowMs);
    }

    /** This run with the baseline evaluation and the SFT model's answers behind it. */
    public RunRecord withBaseline(Map<String, Double> metrics, List<String> answers, long nowMs) {
        return new RunRecord(schemaVersion, settings, status, error, metrics, answers, iterations, createdUnixMs,
                nowMs);
    }

    /** This run in another status; {@code why} is the error text (empty unless failed). */
    public RunRecord withStatus(RunStatus next, String why, long nowMs) {
        return new RunRecord(schemaVersion, settings, next, why, baselineMetrics, baselineAnswers, iterations,
                createdUnixMs, nowMs);
    }

    /**
     * Iterations finished: evaluated, or loaded when the run skips evaluation.
     *
     * @return the count of finished iterations (they are always a prefix)
     */
    public int completedIterations() {
        int n = 0;
        for (IterationRecord it : iterations) {
            if (!RunProgress.finished(it, settings)) {
                break;
            }
            n++;
        }
        return n;
    }
}
