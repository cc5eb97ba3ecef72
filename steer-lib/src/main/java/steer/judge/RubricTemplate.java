package steer.judge;

/**
 * A rubric prompt answered by an integer score min..max. A score whose number is several tokens of the model
 * ("10" in Qwen's digit-by-digit BPE) is scored by its whole continuation ({@link RubricJudge}).
 *
 * @param id       the id callers name it by
 * @param minScore the lowest score
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
        JudgePrompt build(String query, String response);
    }
}
