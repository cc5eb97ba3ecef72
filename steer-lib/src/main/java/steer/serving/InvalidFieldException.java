package steer.serving;

/**
 * A request field is out of range or malformed; services answer INVALID_ARGUMENT. The message starts with the
 * field's path as the caller wrote it ({@code prompts[3]}, {@code sampling.top_p}) and says what is allowed.
 */
public final class InvalidFieldException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String field;

    /**
     * @param field   the field's path, e.g. {@code sampling.top_p}
     * @param problem what is wrong and what is allowed, e.g. {@code 1.5 is outside (0, 1]}
     */
    public InvalidFieldException(String field, String problem) {
        super(field + ": " + problem);
        this.field = field;
    }

    /** The field's path. */
    public String field() {
        return field;
    }
}
