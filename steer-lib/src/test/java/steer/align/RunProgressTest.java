package steer.align;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import steer.align.RunProgress.Action;
import steer.align.RunProgress.Step;

class RunProgressTest {

    private static RunSettings settings(boolean skipEvaluation) {
        return new RunSettings("r", "sso", 2, 1, 1, 10, 4, 0, 1, null, Map.of(), "rule", 10, skipEvaluation);
    }

    private static final SsoTriple T = new SsoTriple("x", "x+", "x-", "p", "m", "o", "accuracy");

    @Test
    void aFreshRunEvaluatesTheBaselineFirstThenSamples() {
        RunRecord run = RunRecord.start(settings(false), 0);
        assertEquals(new Step(Action.EVALUATE_BASELINE, -1), RunProgress.next(run));
        run = run.withBaseline(Map.of("mean_score", 0.4), List.of(), 1);
        assertEquals(new Step(Action.SAMPLE, 0), RunProgress.next(run));
        assertEquals(new Step(Action.SAMPLE, 0), RunProgress.next(RunRecord.start(settings(true), 0)),
                "no baseline without evaluation");
    }

    @Test
    void eachSavedPhaseContinuesWithTheNextAction() {
        RunRecord run = RunRecord.start(settings(false), 0).withBaseline(Map.of("mean_score", 0.4), List.of(), 1);
        IterationRecord it = IterationRecord.sampled(0, 0, List.of(T), 0, 0, 1, 1);
        assertEquals(new Step(Action.PUBLISH, 0), RunProgress.next(run.with(it, 2)));
        it = it.withPublished(List.of("r-it0-b0"));
        assertEquals(new Step(Action.PUBLISH, 0), RunProgress.next(run.with(it, 2)),
                "ids recorded mid-publishing: publish the rest");
        it = it.withPhase(IterationPhase.PUBLISHED);
        assertEquals(new Step(Action.AWAIT_CHECKPOINT, 0), RunProgress.next(run.with(it, 2)));
        it = it.trained(1, "/c/r/v000001", 1, Map.of("loss", 0.6));
        assertEquals(new Step(Action.LOAD, 0), RunProgress.next(run.with(it, 2)));
        it = it.withPhase(IterationPhase.LOADED);
        assertEquals(new Step(Action.EVALUATE, 0), RunProgress.next(run.with(it, 2)));
        it = it.evaluated(Map.of("mean_score", 0.5));
        run = run.with(it, 3);
        assertEquals(1, run.completedIterations());
        assertEquals(new Step(Action.SAMPLE, 1), RunProgress.next(run));
        IterationRecord last = IterationRecord.sampled(1, 1, List.of(T), 0, 0, 1, 1)
                .withPhase(IterationPhase.PUBLISHED).trained(2, "/c/r/v000002", 2, Map.of())
                .withPhase(IterationPhase.LOADED).evaluated(Map.of());
        assertEquals(new Step(Action.FINISH, 2), RunProgress.next(run.with(last, 4)));
    }

    @Test
    void withoutEvaluationALoadedIterationIsFinished() {
        RunRecord run = RunRecord.start(settings(true), 0);
        IterationRecord it = IterationRecord.sampled(0, 0, List.of(T), 0, 0, 1, 1)
                .withPhase(IterationPhase.PUBLISHED).trained(1, "/c/r/v000001", 1, Map.of())
                .withPhase(IterationPhase.LOADED);
        assertEquals(new Step(Action.SAMPLE, 1), RunProgress.next(run.with(it, 1)));
    }

    @Test
    void thePolicyOfAnIterationIsThePreviousCheckpoint() {
        assertEquals(0, RunProgress.policyVersion(0));
        assertEquals(1, RunProgress.checkpointVersion(0));
        assertEquals(2, RunProgress.policyVersion(2));
        RunRecord run = RunRecord.start(settings(true), 0);
        assertEquals("/models/sft", RunProgress.policyLocation(run, 0, "/models/sft"));
        assertThrows(IllegalStateException.class, () -> RunProgress.policyLocation(run, 1, "/models/sft"));
        IterationRecord it = IterationRecord.sampled(0, 0, List.of(T), 0, 0, 1, 1).trained(1, "/c/r/v000001", 1,
                Map.of());
        assertEquals("/c/r/v000001", RunProgress.policyLocation(run.with(it, 1), 1, "/models/sft"));
    }

    @Test
    void iterationsMustBeRecordedInOrder() {
        RunRecord run = RunRecord.start(settings(true), 0);
        assertThrows(IllegalArgumentException.class,
                () -> run.with(IterationRecord.sampled(1, 1, List.of(T), 0, 0, 1, 1), 1));
    }

    private static final JudgedPair P = new JudgedPair("x", "a", "b", 0.7);

    /** Drives a run's persisted phases as the loop would, recording each action, with a staleness bound. */
    private static List<Step> drive(int staleness) {
        RunSettings st = new RunSettings("r", "osp", 1, 1, 1, 3, 4, 0, 1, null, Map.of(), "", 10, false, "",
                new steer.method.OspMethod.Settings(0, 1, staleness, "", "", 0, "", ""));
        return drive(st, staleness);
    }

    private static List<Step> drive(RunSettings st, int staleness) {
        RunRecord run = RunRecord.start(st, 0).withBaseline(Map.of("mean_score", 0.4), List.of(), 1);
        List<Step> steps = new java.util.ArrayList<>();
        for (int guard = 0; guard < 100; guard++) {
            Step step = RunProgress.next(run);
            steps.add(step);
            int r = step.iteration();
            switch (step.action()) {
                case FINISH -> {
                    return steps;
                }
                case SAMPLE -> {
                    long version = RunProgress.samplingVersion(st, r);
                    assertTrue(version <= run.completedIterations(), "round " + r + " samples from version " + version
                            + ", which is loaded");
                    if (st.alignmentMethod().family().equals("osp")) {
                        assertEquals(Math.max(0, r - staleness), version);
                    }
                    run = run.with(IterationRecord.sampled(r, version, List.of(P), 0, 0, 1, 0), 2);
                }
                case PUBLISH -> run = run.with(run.iteration(r).orElseThrow().withPhase(IterationPhase.PUBLISHED), 2);
                case AWAIT_CHECKPOINT -> run = run.with(run.iteration(r).orElseThrow().trained(r + 1, "/c/v" + (r + 1),
                        r + 1, Map.of()), 2);
                case LOAD -> run = run.with(run.iteration(r).orElseThrow().withPhase(IterationPhase.LOADED), 2);
                case EVALUATE -> run = run.with(run.iteration(r).orElseThrow().evaluated(Map.of()), 2);
                default -> throw new AssertionError(step);
            }
        }
        throw new AssertionError("no finish: " + steps);
    }

    @Test
    void synchronousRoundsEachTrainBeforeTheNextSamples() {
        // three rounds of one prompt; only the split's last round (2) is evaluated
        assertEquals(List.of(new Step(Action.SAMPLE, 0), new Step(Action.PUBLISH, 0), new Step(Action.AWAIT_CHECKPOINT, 0),
                new Step(Action.LOAD, 0), new Step(Action.SAMPLE, 1), new Step(Action.PUBLISH, 1),
                new Step(Action.AWAIT_CHECKPOINT, 1), new Step(Action.LOAD, 1), new Step(Action.SAMPLE, 2),
                new Step(Action.PUBLISH, 2), new Step(Action.AWAIT_CHECKPOINT, 2), new Step(Action.LOAD, 2),
                new Step(Action.EVALUATE, 2), new Step(Action.FINISH, 3)), drive(0));
    }

    @Test
    void tsoSamplesAWholeIterationFromItsFirstVersionWhileItsFirstMiniBatchTrains() {
        // two iterations of three mini-batches: rounds 1 and 2 are sampled (from version 0) before round 0's
        // checkpoint; round 3 (the next iteration, from version 3) waits until round 2 is loaded
        RunSettings st = new RunSettings("r", "tso", 2, 1, 1, 3, 4, 0, 1, null, Map.of(), "", 10, false, "",
                new steer.method.TsoMethod.Settings(0, 0, "", 0, "", 0, Map.of("large", "/l"), Map.of("small", "/s"),
                        Map.of(), Map.of(), "", "/e"));
        assertEquals(List.of(new Step(Action.SAMPLE, 0), new Step(Action.PUBLISH, 0), new Step(Action.SAMPLE, 1),
                new Step(Action.PUBLISH, 1), new Step(Action.SAMPLE, 2), new Step(Action.PUBLISH, 2),
                new Step(Action.AWAIT_CHECKPOINT, 0), new Step(Action.LOAD, 0), new Step(Action.AWAIT_CHECKPOINT, 1),
                new Step(Action.LOAD, 1), new Step(Action.AWAIT_CHECKPOINT, 2), new Step(Action.LOAD, 2),
                new Step(Action.EVALUATE, 2), new Step(Action.SAMPLE, 3), new Step(Action.PUBLISH, 3),
                new Step(Action.SAMPLE, 4), new Step(Action.PUBLISH, 4), new Step(Action.SAMPLE, 5),
                new Step(Action.PUBLISH, 5), new Step(Action.AWAIT_CHECKPOINT, 3), new Step(Action.LOAD, 3),
                new Step(Action.AWAIT_CHECKPOINT, 4), new Step(Action.LOAD, 4), new Step(Action.AWAIT_CHECKPOINT, 5),
                new Step(Action.LOAD, 5), new Step(Action.EVALUATE, 5), new Step(Action.FINISH, 6)), drive(st, 2));
    }

    @Test
    void withStalenessOneTheNextRoundSamplesWhileThisOneTrains() {
        // round r + 1 is sampled (from version r) and published before round r's checkpoint is awaited
        assertEquals(List.of(new Step(Action.SAMPLE, 0), new Step(Action.PUBLISH, 0), new Step(Action.SAMPLE, 1),
                new Step(Action.PUBLISH, 1), new Step(Action.AWAIT_CHECKPOINT, 0), new Step(Action.LOAD, 0),
                new Step(Action.SAMPLE, 2), new Step(Action.PUBLISH, 2), new Step(Action.AWAIT_CHECKPOINT, 1),
                new Step(Action.LOAD, 1), new Step(Action.AWAIT_CHECKPOINT, 2), new Step(Action.LOAD, 2),
                new Step(Action.EVALUATE, 2), new Step(Action.FINISH, 3)), drive(1));
    }

    @Test
    void versionsAreFoundWhereTheirRoundWroteThem() {
        RunRecord run = RunRecord.start(settings(false), 0).with(IterationRecord.sampled(0, 0, List.of(T), 0, 0, 1, 1)
                .trained(1, "/c/r/v000001", 1, Map.of()), 1);
        assertEquals("/base", RunProgress.versionLocation(run, 0, "/base"));
        assertEquals("/c/r/v000001", RunProgress.versionLocation(run, 1, "/base"));
        assertThrows(IllegalStateException.class, () -> RunProgress.versionLocation(run, 2, "/base"));
    }
}
