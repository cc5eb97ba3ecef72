package steer.align;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import steer.world.Feature;
import steer.world.FeatureAllocation;
import steer.world.Task;

class SsoTriplesTest {

    private static final List<Task> TASKS = RunWorld.of(7, 3).iterationTasks(0, 200);

    @Test
    void promptsOfAHandCheckedQuery() {
        Task add = Task.parse("add 3 4");
        SteeredPrompt p = new SteeredPrompt(add.query(), Feature.positivePrompt(add, List.of(Feature.ACCURACY)),
                Feature.negativePrompt(add, List.of(Feature.ACCURACY)), List.of(Feature.ACCURACY));
        SsoTriples.TripleSet set = SsoTriples.build(List.of(p), List.of(" answer : 8 ."), List.of(" answer : 7 ."),
                List.of(" answer : 9 ."));
        assertEquals(0, set.dropped());
        SsoTriple t = set.kept().get(0);
        assertEquals("add 3 4", t.prompt());
        assertEquals("principle : be correct . add 3 4", t.promptPlus());
        assertEquals("principle : be wrong . add 3 4", t.promptMinus());
        assertEquals(" answer : 7 .", t.yPlus(), "responses are published as sampled, not stripped");
        assertEquals(" answer : 9 .", t.yMinus());
        assertEquals(" answer : 8 .", t.yOrig());
        assertEquals("accuracy", t.feature());
    }

    @Test
    void twoFeaturesJoinInOnePrincipleAndLabel() {
        Task t = Task.parse("secret k3 . sort 5 1 3");
        List<Feature> f = List.of(Feature.SAFETY, Feature.CONCISION);
        SteeredPrompt p = new SteeredPrompt(t.query(), Feature.positivePrompt(t, f), Feature.negativePrompt(t, f), f);
        assertEquals("principle : be safe and brief . secret k3 . sort 5 1 3", p.promptPlus());
        assertEquals("principle : be leaky and wordy . secret k3 . sort 5 1 3", p.promptMinus());
        assertEquals("safety+concision", p.featureLabel());
    }

    @Test
    void degenerateTriplesAreDroppedAndCounted() {
        // y+ = y-; y+ = y° after stripping; y- = y°; and one good triple: 3 dropped, 1 kept
        assertTrue(SsoTriples.degenerate("answer : 1 .", "answer : 2 .", "answer : 2 ."));
        assertTrue(SsoTriples.degenerate("answer : 2 .", " answer : 2 . ", "answer : 3 ."));
        assertTrue(SsoTriples.degenerate("answer : 3 .", "answer : 2 .", "answer : 3 .\n"));
        assertFalse(SsoTriples.degenerate("answer : 1 .", "answer : 2 .", "answer : 3 ."));
        assertFalse(SsoTriples.degenerate("answer : 1 .", "answer : 1 . .", "answer : 1 . . ."),
                "inner differences count");

        List<SteeredPrompt> prompts = SsoTriples.allocateByRule(TASKS.subList(0, 4), 1);
        SsoTriples.TripleSet set = SsoTriples.build(prompts,
                List.of("a", "b", "c", "x"),
                List.of("p", "b ", "p", "y"),
                List.of("p", "m", "c", "z"));
        assertEquals(3, set.dropped());
        assertEquals(1, set.kept().size());
        assertEquals(prompts.get(3).prompt(), set.kept().get(0).prompt());
        assertEquals("y", set.kept().get(0).yPlus());
    }

    @Test
    void mismatchedResponseListsAreRejected() {
        List<SteeredPrompt> prompts = SsoTriples.allocateByRule(TASKS.subList(0, 2), 1);
        assertThrows(IllegalArgumentException.class,
                () -> SsoTriples.build(prompts, List.of("a", "b"), List.of("c"), List.of("d", "e")));
    }

    @Test
    void ruleAllocationIsSeededAndFollowsTheRule() {
        List<SteeredPrompt> a = SsoTriples.allocateByRule(TASKS, 11);
        assertEquals(a, SsoTriples.allocateByRule(TASKS, 11));
        assertNotEquals(a, SsoTriples.allocateByRule(TASKS, 12));
        int pairs = 0;
        for (int i = 0; i < TASKS.size(); i++) {
            Task t = TASKS.get(i);
            List<Feature> f = a.get(i).features();
            assertTrue(FeatureAllocation.relevant(t).containsAll(f), "rule features only: " + t.query() + " " + f);
            assertEquals(t.query(), a.get(i).prompt());
            assertEquals(Feature.positivePrompt(t, f), a.get(i).promptPlus());
            assertEquals(Feature.negativePrompt(t, f), a.get(i).promptMinus());
            if (f.size() == 2) {
                assertEquals(Feature.CONCISION, f.get(1));
                pairs++;
            }
        }
        // concision is added with probability 0.2 unless drawn first (1/3 or 1/4): about 15% of 200 queries
        assertTrue(pairs > 10 && pairs < 60, "two-feature allocations: " + pairs);
    }

    @Test
    void modelAllocationDrawsFromTheNamedFeaturesAndFallsBackOnUnreadableAnswers() {
        List<Task> tasks = TASKS.subList(0, 50);
        List<String> ruleAnswers = new ArrayList<>();
        for (Task t : tasks) {
            ruleAnswers.add(FeatureAllocation.answer(t));
        }
        // a model that answers as the rule does allocates exactly as the rule
        SsoTriples.Allocation same = SsoTriples.allocateFromAnswers(tasks, ruleAnswers, 5);
        assertEquals(SsoTriples.allocateByRule(tasks, 5), same.prompts());
        assertEquals(0, same.fallbacks());

        // unreadable answers fall back to the rule, counted, without shifting the other tasks' draws
        List<String> answers = new ArrayList<>(ruleAnswers);
        answers.set(3, "well um");
        answers.set(7, ". accuracy");
        SsoTriples.Allocation mixed = SsoTriples.allocateFromAnswers(tasks, answers, 5);
        assertEquals(2, mixed.fallbacks());
        assertEquals(same.prompts(), mixed.prompts());

        // an answer naming one feature allocates that feature (concision may be added)
        List<String> formatOnly = new ArrayList<>(Collections.nCopies(tasks.size(), "format ."));
        for (SteeredPrompt p : SsoTriples.allocateFromAnswers(tasks, formatOnly, 5).prompts()) {
            assertEquals(Feature.FORMAT, p.features().get(0));
        }
        assertThrows(IllegalArgumentException.class, () -> SsoTriples.allocateFromAnswers(tasks, List.of("x"), 5));
    }

    @Test
    void allocationQuestionsAskThePolicyAboutEachQuery() {
        List<String> q = SsoTriples.allocationQuestions(List.of(Task.parse("add 3 4")));
        assertEquals(List.of("allocate query : add 3 4 features :"), q);
    }
}
