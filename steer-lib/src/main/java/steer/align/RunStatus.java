package steer.align;

/** Where a run stands as a whole. */
public enum RunStatus {
    /** Started and not ended; a run persisted as running was interrupted if no orchestrator drives it. */
    RUNNING,
    /** Every iteration finished. */
    SUCCEEDED,
    /** Stopped by an error; starting the run id again resumes it. */
    FAILED,
    /** Stopped on request; starting the run id again resumes it. */
    STOPPED
}
