package steer.judge;

/** A judge template file is unreadable or invalid; the message names the file and the field. */
public final class TemplateFileException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    TemplateFileException(String message) {
        super(message);
    }

    TemplateFileException(String message, Throwable cause) {
        super(message, cause);
    }
}
