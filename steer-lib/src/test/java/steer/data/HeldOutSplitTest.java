package steer.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Test;

class HeldOutSplitTest {

    private static final List<Integer> NUMBERS = IntStream.range(0, 100).boxed().collect(Collectors.toList());

    @Test
    void sameSeedGivesTheSameSplit() {
        assertEquals(HeldOutSplit.of(NUMBERS, 0.2, 7), HeldOutSplit.of(new ArrayList<>(NUMBERS), 0.2, 7));
    }

    @Test
    void differentSeedsGiveDifferentSplits() {
        assertNotEquals(HeldOutSplit.of(NUMBERS, 0.2, 7).heldOut(), HeldOutSplit.of(NUMBERS, 0.2, 8).heldOut());
    }

    @Test
    void partsAreDisjointCoverEverythingAndKeepTheOriginalOrder() {
        HeldOutSplit<Integer> split = HeldOutSplit.of(NUMBERS, 0.2, 7);
        assertEquals(20, split.heldOut().size());
        assertEquals(80, split.train().size());
        Set<Integer> all = new HashSet<>(split.train());
        all.addAll(split.heldOut());
        assertEquals(new HashSet<>(NUMBERS), all);
        assertTrue(isSorted(split.train()) && isSorted(split.heldOut()), split.toString());
        // A seeded shuffle, not the first or last fifth.
        assertNotEquals(NUMBERS.subList(0, 20), split.heldOut());
        assertNotEquals(NUMBERS.subList(80, 100), split.heldOut());
    }

    @Test
    void heldOutCountIsRoundedAndZeroFractionHoldsNothingOut() {
        assertEquals(2, HeldOutSplit.of(NUMBERS.subList(0, 7), 0.25, 1).heldOut().size());
        assertEquals(NUMBERS, HeldOutSplit.of(NUMBERS, 0, 1).train());
        assertEquals(List.of(), HeldOutSplit.of(List.of(), 0.5, 1).heldOut());
    }

    @Test
    void fractionOutsideZeroToOneIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> HeldOutSplit.of(NUMBERS, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> HeldOutSplit.of(NUMBERS, -0.1, 1));
        assertThrows(IllegalArgumentException.class, () -> HeldOutSplit.of(NUMBERS, Double.NaN, 1));
    }

    private static boolean isSorted(List<Integer> list) {
        List<Integer> sorted = new ArrayList<>(list);
        Collections.sort(sorted);
        return sorted.equals(list);
    }
}
