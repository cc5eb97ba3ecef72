package steer.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

class WorldSplitsTest {

    private static List<String> queries(List<Task> tasks) {
        List<String> out = new ArrayList<>();
        for (Task t : tasks) {
            out.add(t.query());
        }
        return out;
    }

    @Test
    void defaultSplitsHaveTheirSizesAndAreDisjointByBody() {
        WorldSplits splits = WorldSplits.of(42);
        assertEquals(4000, splits.sft().size());
        assertEquals(3, splits.iterations().size());
        for (List<Task> it : splits.iterations()) {
            assertEquals(500, it.size());
        }
        assertEquals(500, splits.heldOut().size());
        List<Task> all = new ArrayList<>(splits.sft());
        splits.iterations().forEach(all::addAll);
        all.addAll(splits.heldOut());
        Set<String> bodies = new HashSet<>();
        Set<String> texts = new HashSet<>();
        for (Task t : all) {
            bodies.add(t.body());
            texts.add(t.query());
        }
        assertEquals(all.size(), bodies.size(), "no body appears twice across or within splits");
        assertEquals(all.size(), texts.size(), "no query text appears twice");
        assertEquals(splits.iterations().get(1), splits.iteration(2));
    }

    @Test
    void sameSeedSameSplitsOtherSeedOtherSplits() {
        SplitSizes sizes = new SplitSizes(300, 3, 100, 100);
        WorldSplits a = WorldSplits.of(5, sizes, TaskGenerator.defaults());
        WorldSplits b = WorldSplits.of(5, sizes, TaskGenerator.defaults());
        WorldSplits c = WorldSplits.of(6, sizes, TaskGenerator.defaults());
        assertEquals(a, b);
        assertNotEquals(queries(a.heldOut()), queries(c.heldOut()));
        assertNotEquals(queries(a.sft()), queries(c.sft()));
    }

    @Test
    void evaluationSetsDoNotDependOnTheSftSize() {
        WorldSplits small = WorldSplits.of(5, new SplitSizes(10, 3, 100, 100), TaskGenerator.defaults());
        WorldSplits large = WorldSplits.of(5, new SplitSizes(1000, 3, 100, 100), TaskGenerator.defaults());
        assertEquals(small.heldOut(), large.heldOut());
        assertEquals(small.iterations(), large.iterations());
    }

    @Test
    void badSizesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new SplitSizes(-1, 3, 500, 500));
        assertThrows(IllegalArgumentException.class, () -> new SplitSizes(10, 0, 500, 500));
    }
}
