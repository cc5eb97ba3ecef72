package steer.tokenizer;

/**
 * A tokenizer file that cannot be used: missing, truncated, not JSON, or rejected by the Hugging Face
 * tokenizers library.
 *
 * <p>The message always names the file and says what is wrong with it, so that it can be shown to a user
 * as it is.
 */
public class TokenizerException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception with a message that names the file and the problem.
     *
     * @param message what is wrong, including the file's path
     */
    public TokenizerException(String message) {
        super(message);
    }

    /**
     * Creates an exception with a message that names the file and the problem, and the error behind it.
     *
     * @param message what is wrong, including the file's path
     * @param cause   the I/O, JSON or native error that revealed it
     */
    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
