package steer.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class LearningRateScheduleTest {

    @Test
    void warmUpThenCosineToTheFloor() {
        // warm-up 10 of 110 updates, floor ρ = 0.1
        LearningRateSchedule s = new LearningRateSchedule(10, 110, 0.1);
        assertEquals(0.1, s.multiplier(1), 1e-12);            // warm-up start: 1/10
        assertEquals(0.5, s.multiplier(5), 1e-12);
        assertEquals(1.0, s.multiplier(10), 1e-12);           // warm-up end
        // mid-cosine, t = 60: progress 0.5, cos(π/2) = 0: 0.1 + 0.9·0.5 = 0.55
        assertEquals(0.55, s.multiplier(60), 1e-12);
        // a quarter in, t = 35: 0.1 + 0.9·(1 + cos(π/4))/2 = 0.1 + 0.9·0.8535533906 = 0.8681980515
        assertEquals(0.8681980515339464, s.multiplier(35), 1e-12);
        assertEquals(0.1, s.multiplier(110), 1e-12);          // end
        assertEquals(0.1, s.multiplier(500), 1e-12);          // after the end
        assertEquals(3e-6 * 0.55, s.lr(3e-6, 60), 1e-18);
    }

    @Test
    void noWarmUpStartsNearThePeak() {
        LearningRateSchedule s = new LearningRateSchedule(0, 100, 0);
        assertEquals(0.5 * (1 + Math.cos(Math.PI / 100)), s.multiplier(1), 1e-12);
        assertEquals(0, s.multiplier(100), 1e-12);
        assertEquals(new LearningRateSchedule(100, 1000, 0), LearningRateSchedule.forSteps(1000));
    }

    @Test
    void rejectsBadValues() {
        assertThrows(IllegalArgumentException.class, () -> new LearningRateSchedule(20, 10, 0));
        assertThrows(IllegalArgumentException.class, () -> new LearningRateSchedule(0, 10, 1.5));
        assertThrows(IllegalArgumentException.class, () -> new LearningRateSchedule(0, 10, 0).multiplier(0));
    }
}
