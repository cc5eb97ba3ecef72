package steer.cli.compare;

import steer.proto.v1.Run;
import steer.proto.v1.RunConfig;
import steer.proto.v1.RunState;

/**
 * One run of a comparison as it ended.
 *
 * @param method      the method name ({@code RunConfig.algorithm})
 * @param seed        the run's seed
 * @param config      the configuration the run was started with
 * @param run         the run as {@code GetRun} returned it at the end; null when the orchestrator refused to start it
 *                    or could not be asked
 * @param wallSeconds from StartRun until the run ended
 * @param error       why the run failed; empty when it succeeded
 */
public record RunOutcome(String method, long seed, RunConfig config, Run run, double wallSeconds, String error) {

    public RunOutcome {
        error = error == null ? "" : error;
    }

    /** An outcome read from the run itself: succeeded when its state is, else failed with its error. */
    public static RunOutcome of(String method, long seed, RunConfig config, Run run, double wallSeconds) {
        String state = run.getState().name().replace("RUN_STATE_", "").toLowerCase(java.util.Locale.ROOT);
        String error = switch (run.getState()) {
            case RUN_STATE_SUCCEEDED -> "";
            case RUN_STATE_RUNNING -> "still running when its progress stream ended";
            default -> "ended " + state;
        };
        if (!error.isEmpty() && !run.getError().isEmpty()) {
            error += ": " + run.getError();
        }
        return new RunOutcome(method, seed, config, run, wallSeconds, error);
    }

    /** A run that never produced a result (StartRun refused, the orchestrator unreachable). */
    public static RunOutcome failed(String method, long seed, RunConfig config, double wallSeconds, String error) {
        return new RunOutcome(method, seed, config, null, wallSeconds, error.isEmpty() ? "failed" : error);
    }

    public boolean succeeded() {
        return run != null && run.getState() == RunState.RUN_STATE_SUCCEEDED && error.isEmpty();
    }

    public String runId() {
        return run != null ? run.getRunId() : config.getRunId();
    }
}
