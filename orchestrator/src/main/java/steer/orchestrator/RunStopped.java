package steer.orchestrator;

/** Thrown inside the run loop when StopRun asked it to stop; the run is saved as stopped. */
final class RunStopped extends RuntimeException {

    private static final long serialVersionUID = 1L;

    RunStopped() {
        super("stopped on request", null, false, false);
    }
}
