package steer.cli.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The busy share of a run is a union of intervals: overlapping work counts once, other runs' spans not at all. */
class PhaseSharesTest {

    private static final long S = 1_000_000_000L;

    private static TraceCollector.CollectedSpan span(String service, String trace, String name, double from, double to,
                                                     Map<String, String> attributes) {
        return new TraceCollector.CollectedSpan(service, trace, name + from, "", name, (long) (from * S),
                (long) (to * S), attributes);
    }

    @Test
    void overlappingWorkCountsOnceAndOtherPhasesAreTheirOwnUnions() {
        Map<String, String> run = Map.of("steer.run_id", "r1");
        List<TraceCollector.CollectedSpan> spans = List.of(
                span("steer-orchestrator", "t1", "orchestrator.iteration", 0, 10, run),
                span("steer-orchestrator", "t1", "orchestrator.sample", 0, 4, run),
                span("steer-orchestrator", "t1", "orchestrator.evaluate", 8, 10, run),
                // two generator calls at once (two replicas), then the judge, overlapping the second call
                span("steer-generator-svc", "t1", "steer.v1.Generator/Generate", 0, 3, Map.of()),
                span("steer-generator-svc", "t1", "steer.v1.Generator/Generate", 1, 2, Map.of()),
                span("steer-judge-svc", "t1", "steer.v1.Judge/CompareBatch", 2.5, 4, Map.of()),
                span("steer-trainer-svc", "t1", "trainer.step", 5, 7, Map.of()),
                // an evaluation's Score on the generator is work; a ListModels is not; a span of another run's
                // trace is not this run's
                span("steer-generator-svc", "t1", "steer.v1.Generator/Score", 8, 9, Map.of()),
                span("steer-generator-svc", "t1", "steer.v1.Generator/ListModels", 7, 8, Map.of()),
                span("steer-trainer-svc", "t2", "trainer.step", 0, 10, Map.of()),
                span("steer-orchestrator", "t2", "orchestrator.iteration", 20, 30, Map.of("steer.run_id", "r2")));
        List<PhaseShares.RunShares> runs = PhaseShares.of(spans);
        assertEquals(2, runs.size());
        PhaseShares.RunShares r1 = runs.get(0);
        assertEquals("r1", r1.runId());
        assertEquals(10, r1.wallSeconds(), 1e-9);
        assertEquals(4, r1.work().get(PhaseShares.Work.GENERATING), 1e-9);
        assertEquals(1.5, r1.work().get(PhaseShares.Work.JUDGING), 1e-9);
        assertEquals(2, r1.work().get(PhaseShares.Work.TRAINING), 1e-9);
        assertEquals(7, r1.busySeconds(), 1e-9, "[0, 4), [5, 7) and [8, 9)");
        assertEquals(0.7, r1.busyShare(), 1e-9);
        assertEquals(Map.of("evaluate", 2.0, "sample", 4.0), r1.phases());
        // run 2's trace holds a trainer step that starts before its first phase: clipped to the run's span
        assertEquals(0, runs.get(1).busySeconds(), 1e-9);
    }

    @Test
    void unionOfIntervals() {
        assertEquals(0, PhaseShares.union(List.of()));
        assertEquals(5, PhaseShares.union(List.of(new long[] {0, 2}, new long[] {1, 3}, new long[] {4, 6})));
        assertEquals(4, PhaseShares.union(List.of(new long[] {0, 4}, new long[] {1, 2}, new long[] {3, 3})));
    }
}
