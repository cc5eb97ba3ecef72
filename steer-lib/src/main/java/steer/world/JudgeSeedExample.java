package steer.world;

/**
 * One labelled judge example of the seed set, standing in for a human annotation: two responses to a query
 * and which is better. A flipped example carries the wrong label, as a careless annotator would; its rubric
 * labels are swapped too (the annotator mixed the two responses up), so both judge forms see the same noise.
 *
 * @param task        the task
 * @param responseA   the first response
 * @param responseB   the second response, with a different oracle scalar
 * @param oracleLabel the oracle's label, {@code A} or {@code B}
 * @param label       the annotated label: the oracle's, or the other one if flipped
 * @param flipped     whether the label was flipped
 */
public record JudgeSeedExample(Task task, String responseA, String responseB, String oracleLabel, String label,
        boolean flipped) {

    /**
     * The pairwise prompt in the stored order.
     *
     * @return {@link JudgeInstructions#pairwise} of (query, A, B); answered by {@link #label()}
     */
    public String pairwisePrompt() {
        return JudgeInstructions.pairwise(task.query(), responseA, responseB);
    }

    /**
     * The pairwise prompt with the responses swapped, for training both orders.
     *
     * @return {@link JudgeInstructions#pairwise} of (query, B, A); answered by {@link #swappedLabel()}
     */
    public String swappedPrompt() {
        return JudgeInstructions.pairwise(task.query(), responseB, responseA);
    }

    /**
     * The annotated label of {@link #swappedPrompt()}.
     *
     * @return {@code B} if the label is {@code A}, else {@code A}
     */
    public String swappedLabel() {
        return label.equals(JudgeInstructions.ANSWER_A) ? JudgeInstructions.ANSWER_B : JudgeInstructions.ANSWER_A;
    }

    /**
     * The annotated rubric score of response A: its oracle score, or B's if flipped.
     *
     * @return an integer 2..10
     */
    public int rubricLabelA() {
        return Oracle.score(task, flipped ? responseB : responseA).rubricScore();
    }

    /**
     * The annotated rubric score of response B: its oracle score, or A's if flipped.
     *
     * @return an integer 2..10
     */
    public int rubricLabelB() {
        return Oracle.score(task, flipped ? responseA : responseB).rubricScore();
    }
}
