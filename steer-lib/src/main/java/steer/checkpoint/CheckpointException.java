package steer.checkpoint;

import java.nio.file.Path;

/**
 * A checkpoint file is missing, malformed or disagrees with its configuration.
 *
 * <p>The message always starts with the file's path, then says what is wrong in terms a person can act on:
 * the tensor or field name, expected versus actual shape, byte offsets. Every malformed-input error in
 * {@code steer.checkpoint} is of this type, never a bare {@code IndexOutOfBoundsException} or
 * {@code BufferUnderflowException}.
 */
public class CheckpointException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;

    /**
     * Creates an exception about one file.
     *
     * @param file    the file (or checkpoint directory) at fault
     * @param problem what is wrong with it
     */
    public CheckpointException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    /**
     * Creates an exception about one file, keeping the low-level cause.
     *
     * @param file    the file (or checkpoint directory) at fault
     * @param problem what is wrong with it
     * @param cause   the I/O or parse error behind it
     */
    public CheckpointException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /** The file (or checkpoint directory) at fault. */
    public Path file() {
        return file;
    }
}
