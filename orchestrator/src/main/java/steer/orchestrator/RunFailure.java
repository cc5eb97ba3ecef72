package steer.orchestrator;

/** Why a run cannot go on; the message becomes the run's error, so it must stand alone. */
class RunFailure extends RuntimeException {

    private static final long serialVersionUID = 1L;

    RunFailure(String message) {
        super(message);
    }

    RunFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
