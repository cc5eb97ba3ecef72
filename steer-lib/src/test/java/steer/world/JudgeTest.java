package steer.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

class JudgeTest {

    @Test
    void pairwiseAndRubricPromptsReadAsWritten() {
        Task t = Task.parse("add 3 4");
        assertEquals("judge query : add 3 4 response A : answer : 7 . response B : answer : 8 . better :",
                JudgeInstructions.pairwise(t.query(), "answer : 7 .", "answer : 8 ."));
        assertEquals("judge query : add 3 4 response A : answer : 7 . response B : better :",
                JudgeInstructions.pairwise(t.query(), "answer : 7 .", ""));
        assertEquals("A", JudgeInstructions.pairwiseAnswer(t, "answer : 7 .", "answer : 8 ."));
        assertEquals("B", JudgeInstructions.pairwiseAnswer(t, "answer : 8 .", "answer : 7 ."));
        assertEquals("rate query : add 3 4 response : answer : 7 . score :",
                JudgeInstructions.rubric(t.query(), "answer : 7 ."));
        assertEquals("10", JudgeInstructions.rubricAnswer(t, "answer : 7 ."));
        assertEquals("8", JudgeInstructions.rubricAnswer(t, "answer : 8 .")); // 0.725: 2 + round(5.8)
        assertEquals(8, JudgeInstructions.parseRubricAnswer("8 ."));
        assertEquals(-1, JudgeInstructions.parseRubricAnswer("11"));
        assertEquals(-1, JudgeInstructions.parseRubricAnswer("A"));
    }

    @Test
    void seedSetFlipsFifteenPercentOfLabels() {
        List<Task> tasks = WorldSplits.of(1, new SplitSizes(500, 1, 0, 0), TaskGenerator.defaults()).sft();
        List<JudgeSeedExample> seed = JudgeSeedSet.generate(tasks, 1000, 11);
        int flipped = 0;
        for (JudgeSeedExample e : seed) {
            double a = Oracle.score(e.task(), e.responseA()).scalar();
            double b = Oracle.score(e.task(), e.responseB()).scalar();
            assertNotEquals(a, b, "pairs have distinct oracle scores");
            assertEquals(a > b ? "A" : "B", e.oracleLabel());
            assertEquals(e.flipped(), !e.label().equals(e.oracleLabel()));
            assertNotEquals(e.label(), e.swappedLabel());
            assertEquals(JudgeInstructions.pairwise(e.task().query(), e.responseB(), e.responseA()), e.swappedPrompt());
            int ra = Oracle.score(e.task(), e.responseA()).rubricScore();
            int rb = Oracle.score(e.task(), e.responseB()).rubricScore();
            assertEquals(e.flipped() ? rb : ra, e.rubricLabelA());
            assertEquals(e.flipped() ? ra : rb, e.rubricLabelB());
            flipped += e.flipped() ? 1 : 0;
        }
        assertEquals(150, flipped);
        assertEquals(seed, JudgeSeedSet.generate(tasks, 1000, 11));
        assertNotEquals(seed, JudgeSeedSet.generate(tasks, 1000, 12));
        long aLabels = seed.stream().filter(e -> e.oracleLabel().equals("A")).count();
        assertTrue(aLabels > 400 && aLabels < 600, "oracle labels are balanced between positions: " + aLabels);
    }
}
