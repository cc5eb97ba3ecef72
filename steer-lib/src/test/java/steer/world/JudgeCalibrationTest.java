package steer.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class JudgeCalibrationTest {

    private static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    @Test
    void figuresMatchHandComputedValues() {
        // (ln 3, -ln 3): p = (0.75 + 1 - 0.25) / 2 = 0.75, consistent, A better
        // (-ln 3, ln 3): p = 0.25, consistent, A better (the judge is wrong)
        // (ln 9, ln 9): A first wins and B first wins: p = (0.9 + 1 - 0.9) / 2 = 0.5, inconsistent, B better
        double ln3 = Math.log(3);
        double ln9 = Math.log(9);
        List<JudgeCalibration.Judged> pairs = List.of(new JudgeCalibration.Judged(ln3, -ln3, true),
                new JudgeCalibration.Judged(-ln3, ln3, true), new JudgeCalibration.Judged(ln9, ln9, false));
        JudgeCalibration.Figures f = JudgeCalibration.figures(pairs, 1);
        // p = 0.75 (right), 0.25 (wrong), 0.5 (half)
        assertEquals((1 + 0 + 0.5) / 3, f.accuracy(), 1e-12);
        assertEquals(2.0 / 3, f.positionConsistency(), 1e-12);
        assertEquals((0.0625 + 0.5625 + 0.25) / 3, f.brier(), 1e-12);
        assertEquals(-(Math.log(0.75) + Math.log(0.25) + Math.log(0.5)) / 3, f.logLoss(), 1e-12);
        // bins: 0.25 in [0.2, 0.3) with y = 1; 0.5 in [0.5, 0.6) with y = 0; 0.75 in [0.7, 0.8) with y = 1
        assertEquals(1, f.bins().get(2).count());
        assertEquals(1, f.bins().get(5).count());
        assertEquals(1, f.bins().get(7).count());
        assertEquals((0.75 + 0.5 + 0.25) / 3, f.ece(), 1e-12);
        // a higher temperature pulls every probability toward 1/2
        assertEquals(0.5 + (sigmoid(ln3 / 2) - 0.5), pairs.get(0).pABetter(2), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> JudgeCalibration.figures(pairs, 0));
        assertThrows(IllegalArgumentException.class, () -> JudgeCalibration.figures(List.of(), 1));
    }

    @Test
    void theFittedTemperatureRecoversTheOneTheLabelsWereDrawnAt() {
        // logit differences d, labels drawn with p(A better) = (σ(d/2) + 1 − σ(−d/2)) / 2 = σ(d/2): an over-confident
        // judge by a factor of 2
        SplittableRandom random = new SplittableRandom(7);
        List<JudgeCalibration.Judged> pairs = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            double d = random.nextDouble(-6, 6);
            pairs.add(new JudgeCalibration.Judged(d, -d, random.nextDouble() < sigmoid(d / 2)));
        }
        double t = JudgeCalibration.fitTemperature(pairs);
        assertEquals(2, t, 0.15);
        JudgeCalibration.Figures raw = JudgeCalibration.figures(pairs, 1);
        JudgeCalibration.Figures fitted = JudgeCalibration.figures(pairs, t);
        assertTrue(fitted.logLoss() < raw.logLoss());
        assertTrue(fitted.ece() < raw.ece() / 2, fitted.ece() + " against " + raw.ece());
        assertEquals(raw.accuracy(), fitted.accuracy(), 1e-12, "scaling both orders alike keeps every verdict");
    }
}
