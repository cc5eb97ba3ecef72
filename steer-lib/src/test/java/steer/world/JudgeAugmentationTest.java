package steer.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class JudgeAugmentationTest {

    static WorldSplits splits;
    static List<JudgeSeedExample> seedSet;

    @BeforeAll
    static void world() {
        splits = WorldSplits.of(0);
        seedSet = JudgeAugmentation.seedSet(splits, 0);
    }

    @Test
    void seedSetHasFifteenPercentNoisyLabelsAndNoHeldOutQuery() {
        assertEquals(JudgeAugmentation.SEED_SET_SIZE, seedSet.size());
        assertEquals(Math.round(0.15 * seedSet.size()), seedSet.stream().filter(JudgeSeedExample::flipped).count());
        Set<String> heldOut = new HashSet<>();
        for (Task t : splits.heldOut()) {
            heldOut.add(t.body());
        }
        for (JudgeSeedExample e : seedSet) {
            assertFalse(heldOut.contains(e.task().body()), e.task().query());
        }
        assertEquals(seedSet, JudgeAugmentation.seedSet(splits, 0), "the world seed fixes the seed set");
    }

    @Test
    void instructionsAreEveryDrawnPairInBothOrdersWithSwappedLabels() {
        List<JudgeSeedExample> pairs = JudgeAugmentation.draw(seedSet, 0.01, 7);
        assertEquals(200, pairs.size());
        assertEquals(200, identities(pairs), "drawn without replacement");

        List<JudgeAugmentation.Instruction> in = JudgeAugmentation.instructions(pairs);
        assertEquals(2 * pairs.size(), in.size());
        for (int i = 0; i < pairs.size(); i++) {
            JudgeSeedExample p = pairs.get(i);
            JudgeAugmentation.Instruction stored = in.get(2 * i);
            JudgeAugmentation.Instruction swapped = in.get(2 * i + 1);
            assertEquals(JudgeInstructions.pairwise(p.task().query(), p.responseA(), p.responseB()), stored.prompt());
            assertEquals(JudgeInstructions.pairwise(p.task().query(), p.responseB(), p.responseA()), swapped.prompt());
            assertTrue(stored.prompt().startsWith("judge query : ") && stored.prompt().endsWith(" better :"),
                    stored.prompt());
            assertEquals(p.label(), stored.answer(), "the seed label, noise included");
            assertNotEquals(stored.answer(), swapped.answer(), "the label follows the swapped responses");
            assertTrue(Set.of("A", "B").contains(swapped.answer()));
            assertFalse(stored.swapped());
            assertTrue(swapped.swapped());
            assertEquals(i, stored.pair());
            assertEquals(i, swapped.pair());
        }
    }

    @Test
    void theDrawIsDeterministicPerSeed() {
        List<JudgeAugmentation.Instruction> a = JudgeAugmentation.instructions(JudgeAugmentation.draw(seedSet, 0.01, 7));
        assertEquals(a, JudgeAugmentation.instructions(JudgeAugmentation.draw(seedSet, 0.01, 7)));
        assertNotEquals(a, JudgeAugmentation.instructions(JudgeAugmentation.draw(seedSet, 0.01, 8)));
        assertEquals(seedSet.size(), identities(JudgeAugmentation.draw(seedSet, 1.0, 3)), "the whole set at fraction 1");
    }

    private static int identities(List<JudgeSeedExample> pairs) {
        Set<JudgeSeedExample> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
        distinct.addAll(pairs);
        return distinct.size();
    }

    @Test
    void fractionsOutsideTheRangeOrSelectingNoPairAreRefused() {
        for (double f : new double[] {0, -0.1, 1.5, Double.NaN, 1e-5}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> JudgeAugmentation.draw(seedSet, f, 0));
            assertTrue(e.getMessage().contains("--seed-fraction"), e.getMessage());
        }
        assertEquals(1, JudgeAugmentation.pairCount(JudgeAugmentation.SEED_SET_SIZE, 1.0 / JudgeAugmentation.SEED_SET_SIZE));
        assertThrows(IllegalArgumentException.class, () -> new JudgeAugmentation.Settings(0.01, 0, 0, 0, 16, 1e-4));
        assertThrows(IllegalArgumentException.class, () -> new JudgeAugmentation.Settings(0.01, 0, 0, 1, 16, 0));
    }
}
