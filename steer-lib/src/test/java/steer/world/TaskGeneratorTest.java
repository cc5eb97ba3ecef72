package steer.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

class TaskGeneratorTest {

    private static List<String> queries(long seed, int n) {
        SplittableRandom random = new SplittableRandom(seed);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(TaskGenerator.defaults().sample(random).query());
        }
        return out;
    }

    @Test
    void sameSeedSameTasksOtherSeedOtherTasks() {
        assertEquals(queries(7, 500), queries(7, 500));
        assertNotEquals(queries(7, 500), queries(8, 500));
    }

    @Test
    void everyFamilyAppearsAndSecretsComeAtTheirRate() {
        SplittableRandom random = new SplittableRandom(3);
        Map<Family, Integer> counts = new EnumMap<>(Family.class);
        int secrets = 0;
        int n = 10_000;
        for (int i = 0; i < n; i++) {
            Task t = TaskGenerator.defaults().sample(random);
            counts.merge(t.family(), 1, Integer::sum);
            secrets += t.hasSecret() ? 1 : 0;
            assertEquals(t, Task.parse(t.query()), "a query parses back to its task");
            assertTrue(WorldVocabulary.isKnown(t.query()), t.query());
        }
        assertEquals(Family.values().length, counts.size());
        for (int c : counts.values()) {
            assertTrue(Math.abs(c - n / 5.0) < 300, "families are drawn uniformly: " + counts);
        }
        assertEquals(0.3, secrets / (double) n, 0.02);
    }
}
