package steer.align;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import steer.world.Task;
import steer.world.WorldSplits;

class RunWorldTest {

    @Test
    void theFirstThreeIterationsAndHeldOutAreTheWorldsDefaultSplits() {
        WorldSplits defaults = WorldSplits.of(5);
        RunWorld world = RunWorld.of(5, 3);
        for (int i = 0; i < 3; i++) {
            assertEquals(defaults.iteration(i + 1), world.iterationTasks(i, 500));
        }
        assertEquals(defaults.heldOut(), world.heldOut(500));
        assertEquals(defaults.heldOut().subList(0, 10), world.heldOut(10));
        assertEquals(defaults.iteration(2).subList(0, 7), world.iterationTasks(1, 7));
    }

    @Test
    void aLongRunGetsFreshDisjointPromptSets() {
        RunWorld world = RunWorld.of(5, RunSettings.MAX_ITERATIONS);
        assertEquals(WorldSplits.of(5).iteration(3), world.iterationTasks(2, 500));
        Set<String> bodies = new HashSet<>();
        for (Task t : world.heldOut(500)) {
            bodies.add(t.body());
        }
        for (int i = 0; i < RunSettings.MAX_ITERATIONS; i++) {
            List<Task> tasks = world.iterationTasks(i, 500);
            assertEquals(500, tasks.size());
            for (Task t : tasks) {
                bodies.add(t.body());
            }
        }
        assertEquals(500 * (RunSettings.MAX_ITERATIONS + 1), bodies.size());
    }
}
