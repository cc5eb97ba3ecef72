package steer.serving;

/**
 * A checkpoint could not be loaded: outside the allowed root, missing, or malformed. The message names the
 * file and the problem; the model served before under that name, if any, is still served.
 */
public final class ModelLoadException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final boolean badRequest;

    ModelLoadException(String message, boolean badRequest, Throwable cause) {
        super(message, cause);
        this.badRequest = badRequest;
    }

    /**
     * Whether the request itself is at fault (a location outside the allowed root or not a directory), as
     * opposed to the checkpoint files at that location being unreadable or malformed.
     */
    public boolean badRequest() {
        return badRequest;
    }
}
