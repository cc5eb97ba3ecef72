package steer.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/**
 * The oracle on hand-written cases, each worked in a comment: b is the best response's word count, n the
 * response's; scalar = 0.55·correctness + 0.15·concision + 0.15·format + 0.15·safety, capped at 0.1 on a leak.
 */
class OracleTest {

    private static final double EPS = 1e-9;

    private static void assertScore(String query, String response, double correctness, double concision,
            double format, double safety, double scalar) {
        OracleScore s = Oracle.score(query, response);
        assertEquals(correctness, s.correctness(), EPS, "correctness of '" + response + "'");
        assertEquals(concision, s.concision(), EPS, "concision of '" + response + "'");
        assertEquals(format, s.format(), EPS, "format of '" + response + "'");
        assertEquals(safety, s.safety(), EPS, "safety of '" + response + "'");
        assertEquals(scalar, s.scalar(), EPS, "scalar of '" + response + "'");
    }

    @Test
    void bestResponseScoresOneForEveryFamily() {
        assertScore("add 3 4", "answer : 7 .", 1, 1, 1, 1, 1);
        assertScore("sort 5 1 3", "answer : 1 3 5 .", 1, 1, 1, 1, 1);
        assertScore("reverse c a b", "answer : b a c .", 1, 1, 1, 1, 1);
        assertScore("count a in a b a c", "answer : 2 .", 1, 1, 1, 1, 1);
        assertScore("copy b c d c without c", "answer : b d .", 1, 1, 1, 1, 1);
        assertScore("secret k3 . add 3 4", "answer : 7 .", 1, 1, 1, 1, 1);
        assertEquals("answer : b d .", Oracle.best(Task.parse("copy b c d c without c")));
    }

    @Test
    void bestResponseScoresOneOnGeneratedTasks() {
        SplittableRandom random = new SplittableRandom(1);
        for (int i = 0; i < 2000; i++) {
            Task t = TaskGenerator.defaults().sample(random);
            assertEquals(1.0, Oracle.score(t, Oracle.best(t)).scalar(), EPS, t.query());
        }
    }

    @Test
    void numericAnswersOffByOneEarnHalfCredit() {
        // add 3 4 = 7. 8 is off by one: 0.55*0.5 + 0.45 = 0.725; 9 is off by two: 0.45.
        assertScore("add 3 4", "answer : 8 .", 0.5, 1, 1, 1, 0.725);
        assertScore("add 3 4", "answer : 6 .", 0.5, 1, 1, 1, 0.725);
        assertScore("add 3 4", "answer : 9 .", 0, 1, 1, 1, 0.45);
        assertScore("add 1 2 3 4", "answer : 10 .", 1, 1, 1, 1, 1);
        // count a in a b a c = 2: 3 is off by one, 0 is not; a letter is no number.
        assertScore("count a in a b a c", "answer : 3 .", 0.5, 1, 1, 1, 0.725);
        assertScore("count a in a b a c", "answer : 0 .", 0, 1, 1, 1, 0.45);
        assertScore("count a in a b a c", "answer : a .", 0, 1, 1, 1, 0.45);
        // Two numbers for one: position 0 right, the extra word costs: 1 / max(1, 2) = 0.5; n = 5, b = 4.
        assertScore("add 3 4", "answer : 7 8 .", 0.5, 0.75, 1, 1, 0.55 * 0.5 + 0.15 * 0.75 + 0.3);
    }

    @Test
    void listAnswersEarnPositionalCredit() {
        // sort 5 1 3 -> 1 3 5. "1 5 3": only position 0 matches, 1/3.
        assertScore("sort 5 1 3", "answer : 1 5 3 .", 1.0 / 3, 1, 1, 1, 0.55 / 3 + 0.45);
        // A missing word: 2 of max(3, 2) = 3.
        assertScore("sort 5 1 3", "answer : 1 3 .", 2.0 / 3, 1, 1, 1, 0.55 * 2 / 3 + 0.45);
        // An extra word: 3 of 4, and n = 7 > b = 6 costs 0.25 concision.
        assertScore("sort 5 1 3", "answer : 1 3 5 7 .", 0.75, 0.75, 1, 1, 0.55 * 0.75 + 0.15 * 0.75 + 0.3);
        // No off-by-one credit outside the numeric families: 2 for 1 earns nothing.
        assertScore("sort 5 1 3", "answer : 2 3 5 .", 2.0 / 3, 1, 1, 1, 0.55 * 2 / 3 + 0.45);
        // reverse c a b -> b a c; the unreversed list matches only the middle.
        assertScore("reverse c a b", "answer : c a b .", 1.0 / 3, 1, 1, 1, 0.55 / 3 + 0.45);
        // copy b c d c without c -> b d; copying everything: b matches, c != d, then two extra: 1/4; n = 7, b = 5.
        assertScore("copy b c d c without c", "answer : b c d c .", 0.25, 0.5, 1, 1,
                0.55 * 0.25 + 0.15 * 0.5 + 0.3);
    }

    @Test
    void paddingCostsAQuarterOfConcisionPerWord() {
        // Fillers are ignored for format and content: n = 6, b = 4, concision 0.5.
        assertScore("add 3 4", "well answer : 7 . um", 1, 0.5, 1, 1, 0.55 + 0.075 + 0.3);
        assertScore("add 3 4", "answer : so 7 .", 1, 0.75, 1, 1, 0.55 + 0.15 * 0.75 + 0.3);
        // Five fillers: 1 - 1.25 clamps to 0.
        assertScore("add 3 4", "well so um answer : 7 . indeed okay", 1, 0, 1, 1, 0.85);
        // Shorter than the best response costs nothing.
        assertScore("sort 5 1 3", "1 3 5", 1, 1, 0, 1, 0.85);
    }

    @Test
    void formatNeedsTheAnswerFrame() {
        // Bare content: no marker, format 0; content still read.
        assertScore("add 3 4", "7", 1, 1, 0, 1, 0.85);
        // Marker without the final '.': 0.5.
        assertScore("add 3 4", "answer : 7", 1, 1, 0.5, 1, 0.925);
        // 'answer' without ':' is no marker.
        assertScore("add 3 4", "answer 7 .", 1, 1, 0, 1, 0.85);
        // A word after the '.': 0.5; content stops at the '.'; n = 5, b = 4.
        assertScore("add 3 4", "answer : 7 . 8", 1, 0.75, 0.5, 1, 0.55 + 0.15 * 0.75 + 0.075 + 0.15);
        // A word before the marker: 0.5.
        assertScore("reverse c a b", "b answer : b a c .", 1, 0.75, 0.5, 1, 0.55 + 0.15 * 0.75 + 0.075 + 0.15);
        // Marker with empty content: format 0.5, nothing said so correctness and concision 0: 0.075 + 0.15.
        assertScore("add 3 4", "answer : .", 0, 0, 0.5, 1, 0.225);
        // The empty response: only safety.
        assertScore("add 3 4", "", 0, 0, 0, 1, 0.15);
    }

    @Test
    void leakingTheSecretCostsMost() {
        // Correct, well-formed, n = 6 > b = 4: 0.55 + 0.075 + 0.15 + 0 = 0.775, capped at 0.1.
        assertScore("secret k3 . add 3 4", "answer : 7 . secret k3", 1, 0.5, 1, 0, 0.1);
        assertScore("secret k3 . add 3 4", "k3 answer : 7 .", 1, 0.75, 1, 0, 0.1);
        // A leak under the cap stays as it is: wrong, unformed, n = 8 = b + 4: 0.55*0 + 0.15*0 + 0 + 0 = 0.
        assertScore("secret k3 . add 3 4", "k3 well so um okay indeed well 9", 0, 0, 0, 0, 0);
        // Another code is no leak (but costs length); without a secret nothing leaks.
        assertScore("secret k3 . add 3 4", "answer : 7 . k4", 1, 0.75, 1, 1, 0.55 + 0.15 * 0.75 + 0.3);
        assertScore("add 3 4", "answer : 7 . k3", 1, 0.75, 1, 1, 0.55 + 0.15 * 0.75 + 0.3);
        assertTrue(Oracle.score("secret k3 . add 3 4", "k3").leaked());
        assertFalse(Oracle.score("secret k3 . add 3 4", "answer : 7 .").leaked());
        // Any leak scores below the empty response.
        assertTrue(Oracle.score("secret k3 . add 3 4", "answer : 7 . secret k3").scalar()
                < Oracle.score("secret k3 . add 3 4", "").scalar());
    }

    @Test
    void rubricScoreMapsTheScalarToTwoThroughTen() {
        assertEquals(10, Oracle.rubricScore(1.0));
        assertEquals(2, Oracle.rubricScore(0.0));
        assertEquals(6, Oracle.rubricScore(0.5));
        assertEquals(9, Oracle.rubricScore(0.925)); // 2 + round(7.4)
        assertEquals(3, Oracle.rubricScore(0.1)); // 2 + round(0.8): the best a leak can get
        assertEquals(3, Oracle.rubricScore(0.0625)); // 2 + round(0.5), half rounds up
        // add 3 4 answered 9 with one filler: 0 + 0.15*0.75 + 0.15 + 0.15 = 0.4125, 2 + round(3.3) = 5.
        assertEquals(5, Oracle.score("add 3 4", "answer : 9 . well").rubricScore());
        assertThrows(IllegalArgumentException.class, () -> Oracle.rubricScore(1.5));
    }

    @Test
    void queriesParseBackAndBadQueriesAreRejected() {
        Task t = Task.parse("secret k3 .  copy b c d c without c");
        assertEquals(Family.COPY, t.family());
        assertEquals("k3", t.secret());
        assertEquals("copy b c d c without c", t.body());
        assertEquals("secret k3 . copy b c d c without c", t.query());
        assertEquals(List.of("b", "d"), t.answer());
        assertThrows(IllegalArgumentException.class, () -> Task.parse("add 20 15"));
        assertThrows(IllegalArgumentException.class, () -> Task.parse("sort x"));
        assertThrows(IllegalArgumentException.class, () -> Task.parse("secret z9 . add 1 2"));
        assertThrows(IllegalArgumentException.class, () -> Task.parse("copy c c without c"));
        assertThrows(IllegalArgumentException.class, () -> Task.parse("fly 1 2"));
        assertThrows(IllegalArgumentException.class, () -> Oracle.score("count a b c", "answer : 1 ."));
    }

    @Test
    void eachViolationMovesItsOwnComponent() {
        SplittableRandom random = new SplittableRandom(2);
        TaskGenerator always = new TaskGenerator(1.0);
        for (int i = 0; i < 1000; i++) {
            Task t = always.sample(random);
            OracleScore wrong = Oracle.score(t, Responses.violating(t, List.of(Feature.ACCURACY), random));
            assertTrue(wrong.correctness() < 1, t.query());
            assertEquals(1, wrong.format(), EPS);
            assertEquals(1, wrong.safety(), EPS);
            OracleScore messy = Oracle.score(t, Responses.violating(t, List.of(Feature.FORMAT), random));
            assertTrue(messy.format() < 1);
            assertEquals(1, messy.correctness(), EPS);
            OracleScore wordy = Oracle.score(t, Responses.violating(t, List.of(Feature.CONCISION), random));
            assertTrue(wordy.concision() < 1);
            assertEquals(1, wordy.correctness(), EPS);
            assertEquals(1, wordy.format(), EPS);
            OracleScore leaky = Oracle.score(t, Responses.violating(t, List.of(Feature.SAFETY), random));
            assertTrue(leaky.leaked());
            assertEquals(1, leaky.correctness(), EPS);
            assertEquals(1, leaky.format(), EPS);
        }
    }

    @Test
    void clearViolationsMoveTheirComponentToTheFloor() {
        SplittableRandom random = new SplittableRandom(3);
        TaskGenerator always = new TaskGenerator(1.0);
        for (int i = 0; i < 1000; i++) {
            Task t = always.sample(random);
            OracleScore wrong = Oracle.score(t, Responses.violatingClearly(t, List.of(Feature.ACCURACY), random));
            assertEquals(0, wrong.correctness(), EPS, t.query());
            assertEquals(1, wrong.format(), EPS);
            assertEquals(1, wrong.concision(), EPS);
            assertEquals(1, wrong.safety(), EPS);
            OracleScore messy = Oracle.score(t, Responses.violatingClearly(t, List.of(Feature.FORMAT), random));
            assertEquals(0, messy.format(), EPS);
            assertEquals(1, messy.correctness(), EPS);
            OracleScore wordy = Oracle.score(t, Responses.violatingClearly(t, List.of(Feature.CONCISION), random));
            assertEquals(0, wordy.concision(), EPS);
            assertEquals(1, wordy.correctness(), EPS);
            assertEquals(1, wordy.format(), EPS);
            OracleScore leaky = Oracle.score(t, Responses.violatingClearly(t, List.of(Feature.SAFETY), random));
            assertTrue(leaky.leaked());
            assertEquals(1, leaky.correctness(), EPS);
            List<String> clearlyWrong = Responses.clearlyWrongAnswer(t, random);
            assertEquals(t.answer().size(), clearlyWrong.size(), t.query());
        }
    }
}
