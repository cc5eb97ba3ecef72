package steer.serving;

/** No model is served under the requested name; services answer NOT_FOUND. */
public final class UnknownModelException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * @param field  the request field that named the model, e.g. {@code model}
     * @param name   the unknown name
     * @param served the names that are served, for the message
     */
    public UnknownModelException(String field, String name, java.util.Collection<String> served) {
        super(field + ": no model named '" + name + "' is served (served: " + String.join(", ", served) + ")");
    }
}
