package steer.judge;

/**
 * A rubric prompt answered by one token, an integer score.
 *
 * @param id       the id callers name it by
 * @param minScore the lowest score; its number word must be one token
 * @param maxScore the highest score
 * @param prompt   builds the prompt from (query, response)
 */
public record RubricTemplate(String id, int minScore, int maxScore, Prompt prompt) {

    public RubricTemplate {
        if (minScore > maxScore) {
            throw new IllegalArgumentException("min score " + minScore + " is above max score " + maxScore);
        }
    }

    /** Builds a rubric prompt. */
    @FunctionalInterface
    public interface Prompt {
        /** The prompt asking for the score of {@code response} to {@code query}. */
        String text(String query, String response);
    }
}
