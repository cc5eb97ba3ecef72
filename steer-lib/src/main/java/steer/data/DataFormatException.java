package steer.data;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A training-data file that cannot be used as it is: missing, empty, or with lines that are not valid
 * records. It carries every problem found, each with its file and line, so a user can fix a file in one pass.
 *
 * <p>The message lists the first {@value #LISTED_PROBLEMS} problems, one per line as
 * {@code file:line: description}, then says how many more there are.
 */
public class DataFormatException extends RuntimeException {

    /** How many problems the message lists; {@link #problems()} holds all of them. */
    public static final int LISTED_PROBLEMS = 20;

    private static final long serialVersionUID = 1L;

    private final transient List<Problem> problems;

    /**
     * One thing wrong with a data file.
     *
     * @param file        the file
     * @param line        the 1-based line number, or 0 when the problem concerns the whole file
     * @param description what is wrong, in terms a person can act on
     */
    public record Problem(Path file, int line, String description) {

        /** {@code file:line: description}, or {@code file: description} for a whole-file problem. */
        @Override
        public String toString() {
            return file + (line > 0 ? ":" + line : "") + ": " + description;
        }
    }

    /**
     * Creates an exception listing problems.
     *
     * @param problems the problems, in file and line order; at least one
     */
    public DataFormatException(List<Problem> problems) {
        super(message(problems));
        this.problems = List.copyOf(problems);
    }

    /**
     * Every problem found, in file and line order.
     *
     * @return the problems, unmodifiable and never empty
     */
    public List<Problem> problems() {
        return problems;
    }

    private static String message(List<Problem> problems) {
        if (problems.isEmpty()) {
            throw new IllegalArgumentException("a DataFormatException needs at least one problem");
        }
        if (problems.size() == 1) {
            return problems.get(0).toString();
        }
        String listed = problems.stream().limit(LISTED_PROBLEMS).map(p -> "\n  " + p).collect(Collectors.joining());
        int more = problems.size() - LISTED_PROBLEMS;
        return problems.size() + " problems in training data:" + listed + (more > 0 ? "\n  ... and " + more + " more" : "");
    }
}
