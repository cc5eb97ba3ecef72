package steer.judge;

/**
 * A judge template does not fit a model: an answer word is not a single token of its vocabulary. The model
 * cannot judge with that template (gRPC FAILED_PRECONDITION), whatever the request says.
 */
public final class JudgeTemplateException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    JudgeTemplateException(String message) {
        super(message);
    }
}
