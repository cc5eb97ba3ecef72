package steer.judge;

/**
 * A pairwise judge prompt answered by one token naming the better response.
 *
 * @param id      the id callers name it by
 * @param answerA the answer word for "the first response is better", as written (no leading space: the
 *                tokenizer's form is resolved by {@link AnswerTokens})
 * @param answerB the answer word for "the second response is better"
 * @param prompt  builds the prompt from (query, first response, second response)
 */
public record PairwiseTemplate(String id, String answerA, String answerB, Prompt prompt) {

    /** Builds a judge prompt. */
    @FunctionalInterface
    public interface Prompt {
        /** The prompt showing {@code first} as A and {@code second} as B. */
        JudgePrompt build(String query, String first, String second);
    }
}
