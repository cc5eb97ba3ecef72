package steer.store;

/**
 * A run's next version is in the store already, but not as the step that is about to write it would write it (another
 * step, iteration or set of batches): reusing it would hand generators weights this run's state never had, and
 * overwriting it could replace weights someone loaded. Retrying cannot help; an operator must look.
 */
public final class VersionConflictException extends IllegalStateException {

    public VersionConflictException(String message) {
        super(message);
    }
}
