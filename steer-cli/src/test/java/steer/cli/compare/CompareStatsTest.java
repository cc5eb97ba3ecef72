package steer.cli.compare;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class CompareStatsTest {

    private static final double EPS = 1e-9;

    @Test
    void meanAndSampleSdUseNMinusOne() {
        // 1, 2, 3, 4: mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; / (4 − 1) = 5/3; sd = √(5/3) = 1.2909944487
        Stats.Summary s = Stats.summary(List.of(1.0, 2.0, 3.0, 4.0));
        assertEquals(2.5, s.mean(), EPS);
        assertEquals(1.2909944487358056, s.sd(), EPS);
        assertEquals(4, s.n());
        assertEquals(2.5, Stats.mean(List.of(1.0, 2.0, 3.0, 4.0)), EPS);
        assertEquals(1.2909944487358056, Stats.sd(List.of(1.0, 2.0, 3.0, 4.0)), EPS);
    }

    @Test
    void missingValuesAreLeftOutAndOneValueHasNoSd() {
        Stats.Summary s = Stats.summary(Arrays.asList(0.7, Double.NaN, null, 0.9));
        assertEquals(0.8, s.mean(), EPS);
        assertEquals(2, s.n());
        // (0.1² + 0.1²) / 1 = 0.02; √0.02 = 0.1414213562
        assertEquals(0.14142135623730953, s.sd(), EPS);
        Stats.Summary one = Stats.summary(List.of(0.3));
        assertEquals(0.3, one.mean(), EPS);
        assertTrue(Double.isNaN(one.sd()));
        assertTrue(Stats.summary(List.of()).isEmpty());
        assertTrue(Double.isNaN(Stats.summary(List.of(Double.NaN)).mean()));
    }

    @Test
    void tQuantilesMatchTheTable() {
        // Student's t, two-sided 95%: df 1 → 12.706, 2 → 4.303, 4 → 2.776, 9 → 2.262, 29 → 2.045
        assertEquals(12.706204736174698, Stats.t975(1), 1e-6);
        assertEquals(4.302652729749464, Stats.t975(2), 1e-6);
        assertEquals(2.7764451051977934, Stats.t975(4), 1e-6);
        assertEquals(2.262157162798205, Stats.t975(9), 1e-6);
        assertEquals(2.045229642132703, Stats.t975(29), 1e-6);
        assertThrows(IllegalArgumentException.class, () -> Stats.t975(0));
    }

    @Test
    void pairedIntervalOfFiveDifferences() {
        // d = 0.02, 0.01, 0.03, −0.01, 0.05: sum 0.10, mean 0.02;
        // deviations 0, −0.01, 0.01, −0.03, 0.03 → squares sum 0.0020; / 4 = 0.0005; sd = √0.0005 = 0.0223606798;
        // sd/√5 = 0.01 exactly; t(0.975, 4) = 2.7764451052 → half-width 0.0277644511;
        // interval [0.02 − 0.0277644511, 0.02 + 0.0277644511] = [−0.0077644511, 0.0477644511]: contains 0
        Stats.PairedInterval p = Stats.paired(List.of(0.02, 0.01, 0.03, -0.01, 0.05));
        assertEquals(0.02, p.meanDifference(), EPS);
        assertEquals(0.022360679774997897, p.sd(), EPS);
        assertEquals(5, p.n());
        assertEquals(2.7764451051977934, p.t(), 1e-6);
        assertEquals(-0.0077644511, p.low(), 1e-8);
        assertEquals(0.0477644511, p.high(), 1e-8);
        assertFalse(p.excludesZero());
    }

    @Test
    void aClearDifferenceExcludesZeroAndOnePairHasNoInterval() {
        // 0.10, 0.12, 0.08: mean 0.10, sd = √((0 + 0.0004 + 0.0004) / 2) = 0.02; t(0.975, 2) = 4.3026527297;
        // half-width 4.3026527297 · 0.02 / √3 = 0.0496827; interval [0.0503173, 0.1496827]
        Stats.PairedInterval p = Stats.paired(List.of(0.10, 0.12, 0.08));
        assertEquals(0.0503173, p.low(), 1e-6);
        assertEquals(0.1496827, p.high(), 1e-6);
        assertTrue(p.excludesZero());
        Stats.PairedInterval one = Stats.paired(List.of(0.05));
        assertEquals(0.05, one.meanDifference(), EPS);
        assertEquals(1, one.n());
        assertTrue(Double.isNaN(one.low()) && Double.isNaN(one.high()) && Double.isNaN(one.t()));
        assertFalse(one.excludesZero());
    }
}
