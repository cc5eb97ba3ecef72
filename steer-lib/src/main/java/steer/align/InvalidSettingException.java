package steer.align;

/**
 * A run setting out of range. {@link #field()} names the setting as the client wrote it (the protobuf field
 * path, e.g. {@code config.iterations}), and the message says the allowed range and the default.
 */
public final class InvalidSettingException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    private final String field;

    /**
     * @param field the setting's field path
     * @param why   what is wrong, the allowed range and the default; the field name is prefixed
     */
    public InvalidSettingException(String field, String why) {
        super(field + " " + why);
        this.field = field;
    }

    /**
     * The setting's field path.
     *
     * @return e.g. {@code config.sampling.top_p}
     */
    public String field() {
        return field;
    }
}
