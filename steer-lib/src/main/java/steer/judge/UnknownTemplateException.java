package steer.judge;

/** No judge template has the requested id; services answer NOT_FOUND. */
public final class UnknownTemplateException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    UnknownTemplateException(String field, String id, String kind, java.util.Collection<String> known) {
        super(field + ": no " + kind + " template '" + id + "' (known: " + String.join(", ", known) + ")");
    }
}
