package steer.world;

/**
 * The judge's instructions in the world's language, in two forms, each answered by one token.
 *
 * <p><b>Pairwise</b> (OSP's judge prompt, OSP Fig. 6, adapted to the world's words): OSP's instruction to
 * pick the more helpful and honest response becomes the opening word {@code judge}; "RESPONSE A:" and
 * "RESPONSE B:" become {@code response A :} and {@code response B :}; "Which response is better? RESPONSE"
 * becomes {@code better :}. The answer is the single token {@code A} or {@code B}:
 *
 * <pre>
 * judge query : add 3 4 response A : answer : 7 . response B : answer : 8 . better :      -> A
 * </pre>
 *
 * <p>OSP's comparison with an empty response is the same prompt with an empty side:
 * {@code ... response B : better :}.
 *
 * <p><b>Rubric</b> (TSO's evaluator, scale 2.0–10.0): the answer is one token, the integer score
 * {@link Oracle#rubricScore} as a number word {@code 2}..{@code 10}:
 *
 * <pre>
 * rate query : add 3 4 response : answer : 7 . score :      -> 10
 * </pre>
 */
public final class JudgeInstructions {

    /** The answer token for "response A is better". */
    public static final String ANSWER_A = "A";
    /** The answer token for "response B is better". */
    public static final String ANSWER_B = "B";

    private JudgeInstructions() {
    }

    /**
     * The pairwise judge prompt.
     *
     * @param query     the query
     * @param responseA the first response (may be empty)
     * @param responseB the second response (may be empty)
     * @return {@code judge query : <query> response A : <a> response B : <b> better :}
     */
    public static String pairwise(String query, String responseA, String responseB) {
        return join("judge query :", query, "response A :", responseA, "response B :", responseB, "better :");
    }

    /**
     * The pairwise label the oracle gives; a tie goes to A.
     *
     * @param task      the task
     * @param responseA the first response
     * @param responseB the second response
     * @return {@link #ANSWER_A} if A's scalar is at least B's, else {@link #ANSWER_B}
     */
    public static String pairwiseAnswer(Task task, String responseA, String responseB) {
        return Oracle.score(task, responseA).scalar() >= Oracle.score(task, responseB).scalar() ? ANSWER_A : ANSWER_B;
    }

    /**
     * The rubric prompt.
     *
     * @param query    the query
     * @param response the response (may be empty)
     * @return {@code rate query : <query> response : <response> score :}
     */
    public static String rubric(String query, String response) {
        return join("rate query :", query, "response :", response, "score :");
    }

    /**
     * The rubric answer the oracle gives.
     *
     * @param task     the task
     * @param response the response
     * @return the number word of {@link Oracle#rubricScore} of the response's scalar, {@code "2"}..{@code "10"}
     */
    public static String rubricAnswer(Task task, String response) {
        return Integer.toString(Oracle.score(task, response).rubricScore());
    }

    /**
     * Reads the score back from a rubric answer token.
     *
     * @param answer a generated answer
     * @return the score 2..10, or -1 if the answer's first word is not one
     */
    public static int parseRubricAnswer(String answer) {
        var words = Texts.words(answer);
        if (words.isEmpty()) {
            return -1;
        }
        try {
            int s = Integer.parseInt(words.get(0));
            return s >= 2 && s <= 10 && Integer.toString(s).equals(words.get(0)) ? s : -1;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String join(String... parts) {
        StringBuilder text = new StringBuilder();
        for (String p : parts) {
            String trimmed = p.trim();
            if (!trimmed.isEmpty()) {
                if (text.length() > 0) {
                    text.append(' ');
                }
                text.append(trimmed);
            }
        }
        return text.toString();
    }
}
