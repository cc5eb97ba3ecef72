package steer.align;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BatchPlanTest {

    @Test
    void tenExamplesInBatchesOfFourOverTwoEpochs() {
        BatchPlan plan = BatchPlan.plan("r1", 2, 10, 4, 2, 9);
        // ⌈10/4⌉ = 3 batches per epoch (4, 4, 2), numbered 0..5 across epochs
        assertEquals(List.of("r1-it2-b0", "r1-it2-b1", "r1-it2-b2", "r1-it2-b3", "r1-it2-b4", "r1-it2-b5"), plan.ids());
        assertEquals(6, BatchPlan.count(10, 4, 2));
        int[] sizes = plan.batches().stream().mapToInt(b -> b.examples().size()).toArray();
        assertEquals(List.of(4, 4, 2, 4, 4, 2), List.of(sizes[0], sizes[1], sizes[2], sizes[3], sizes[4], sizes[5]));
        for (int epoch = 0; epoch < 2; epoch++) {
            List<Integer> seen = new ArrayList<>();
            for (BatchPlan.PlannedBatch b : plan.batches()) {
                assertEquals(b.index(), plan.batches().indexOf(b));
                if (b.epoch() == epoch) {
                    seen.addAll(b.examples());
                }
            }
            assertEquals(10, seen.size());
            assertEquals(10, new HashSet<>(seen).size(), "every example exactly once per epoch");
        }
        List<Integer> first = new ArrayList<>();
        List<Integer> second = new ArrayList<>();
        plan.batches().forEach(b -> (b.epoch() == 0 ? first : second).addAll(b.examples()));
        assertNotEquals(first, second, "each epoch shuffles anew");
    }

    @Test
    void samePlanForTheSameArgumentsOtherOrderForAnotherSeedOrIteration() {
        assertEquals(BatchPlan.plan("r", 0, 100, 8, 1, 3), BatchPlan.plan("r", 0, 100, 8, 1, 3));
        assertNotEquals(BatchPlan.plan("r", 0, 100, 8, 1, 3).batches().get(0).examples(),
                BatchPlan.plan("r", 0, 100, 8, 1, 4).batches().get(0).examples());
        assertNotEquals(BatchPlan.plan("r", 0, 100, 8, 1, 3).batches().get(0).examples(),
                BatchPlan.plan("r", 1, 100, 8, 1, 3).batches().get(0).examples());
    }

    @Test
    void idsAreDistinctAcrossIterationsOfARun() {
        Set<String> ids = new HashSet<>();
        for (int it = 0; it < 12; it++) {
            ids.addAll(BatchPlan.plan("run", it, 30, 4, 2, 1).ids());
        }
        assertEquals(12 * BatchPlan.count(30, 4, 2), ids.size());
    }

    @Test
    void noExamplesNoBatches() {
        assertTrue(BatchPlan.plan("r", 0, 0, 4, 3, 1).batches().isEmpty());
        assertEquals(0, BatchPlan.count(0, 4, 3));
    }

    @Test
    void unpublishedSkipsRecordedAndCommittedBatchesInPlanOrder() {
        BatchPlan plan = BatchPlan.plan("r", 1, 20, 4, 1, 1); // b0..b4
        List<BatchPlan.PlannedBatch> rest = plan.unpublished(List.of("r-it1-b0"), Set.of("r-it1-b1", "r-it1-b3",
                "r-it0-b2"));
        assertEquals(List.of("r-it1-b2", "r-it1-b4"), rest.stream().map(BatchPlan.PlannedBatch::id).toList());
        assertEquals(plan.batches(), plan.unpublished(List.of(), List.of()));
        assertTrue(plan.unpublished(plan.ids(), List.of()).isEmpty());
    }
}
