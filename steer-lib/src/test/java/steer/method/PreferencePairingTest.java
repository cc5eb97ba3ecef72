package steer.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import steer.method.PreferencePairing.Pair;

class PreferencePairingTest {

    @Test
    void rankingIsBestFirstAndEqualScoresKeepSampleOrder() {
        assertArrayEquals(new int[] {2, 0, 3, 1}, PreferencePairing.rank(List.of(0.5, 0.1, 0.9, 0.5)));
    }

    @Test
    void rankedPairingOfAnOddKPairsOutsideInAndLeavesTheMedianOut() {
        // K = 7, scores by index: ranking 3 (0.9), 0 (0.8), 5 (0.7), 1 (0.6), 6 (0.4), 2 (0.2), 4 (0.1)
        List<Double> scores = List.of(0.8, 0.6, 0.2, 0.9, 0.1, 0.7, 0.4);
        List<Pair> pairs = PreferencePairing.rankedOutsideIn(scores);
        // best with worst, second with second worst, third with third worst; the median (index 1, 0.6) unused
        assertEquals(List.of(new Pair(3, 4), new Pair(0, 2), new Pair(5, 6)), pairs);
    }

    @Test
    void rankedPairingOfAnEvenKUsesEverySample() {
        List<Double> scores = List.of(0.3, 0.9, 0.5, 0.1);
        assertEquals(List.of(new Pair(1, 3), new Pair(2, 0)), PreferencePairing.rankedOutsideIn(scores));
        assertEquals(List.of(new Pair(0, 1)), PreferencePairing.rankedOutsideIn(List.of(0.7, 0.2)), "K = 2");
    }

    @Test
    void rankedPairingWithTiesIsDeterministic() {
        // all equal: ranking is 0,1,2,3,4, pairs (0,4), (1,3); 2 unused
        assertEquals(List.of(new Pair(0, 4), new Pair(1, 3)),
                PreferencePairing.rankedOutsideIn(List.of(0.5, 0.5, 0.5, 0.5, 0.5)));
        // a tie at the top: the earlier sample ranks first
        assertEquals(List.of(new Pair(1, 2), new Pair(3, 0)),
                PreferencePairing.rankedOutsideIn(List.of(0.4, 0.9, 0.1, 0.9)));
    }

    @Test
    void randomPairingUsesEachSampleAtMostOnceOrientedByScoreAndIsSeeded() {
        List<Double> scores = List.of(0.8, 0.6, 0.2, 0.9, 0.1, 0.7, 0.4);
        List<Pair> pairs = PreferencePairing.random(scores, new SplittableRandom(7));
        assertEquals(3, pairs.size());
        Set<Integer> used = new HashSet<>();
        for (Pair p : pairs) {
            assertTrue(scores.get(p.high()) >= scores.get(p.low()), "oriented by score: " + p);
            assertTrue(used.add(p.high()) && used.add(p.low()), "each sample at most once");
        }
        assertEquals(pairs, PreferencePairing.random(scores, new SplittableRandom(7)), "the same seed pairs alike");
        boolean differs = false;
        for (long seed = 0; seed < 20 && !differs; seed++) {
            differs = !PreferencePairing.random(scores, new SplittableRandom(seed)).equals(pairs);
        }
        assertTrue(differs, "other seeds pair otherwise");
    }

    @Test
    void selfRewardingTakesTheBestAgainstTheWorst() {
        assertEquals(Optional.of(new Pair(3, 4)),
                PreferencePairing.bestAgainstWorst(List.of(0.8, 0.6, 0.2, 0.9, 0.1, 0.7, 0.4)));
        // ties: the earliest of the best, the latest of the worst
        assertEquals(Optional.of(new Pair(1, 2)), PreferencePairing.bestAgainstWorst(List.of(0.5, 0.9, 0.1, 0.9, 0.5)));
        assertEquals(Optional.of(new Pair(0, 3)), PreferencePairing.bestAgainstWorst(List.of(0.9, 0.2, 0.5, 0.2)));
        assertEquals(Optional.empty(), PreferencePairing.bestAgainstWorst(List.of(0.3, 0.3, 0.3)),
                "all equal: no preference");
    }
}
