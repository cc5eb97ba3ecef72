package steer.orchestrator;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.jboss.logging.Logger;
import org.jboss.logging.MDC;
import steer.align.BatchPlan;
import steer.align.IterationPhase;
import steer.align.IterationRecord;
import steer.align.RunProgress;
import steer.align.RunRecord;
import steer.align.RunSettings;
import steer.align.RunStateStore;
import steer.align.RunStatus;
import steer.align.RunWorld;
import steer.align.SamplingSettings;
import steer.align.Seeds;
import steer.align.SsoTriple;
import steer.align.SsoTriples;
import steer.align.SteeredPrompt;
import steer.orchestrator.OrchestratorMetrics.Phase;
import steer.proto.v1.CheckpointEvent;
import steer.proto.v1.PairBatch;
import steer.proto.v1.RunEvent;
import steer.world.Task;

/**
 * Drives one run to its end on the calling thread: asks {@link RunProgress#next} what to do, does it, saves the
 * state, and repeats. Each iteration runs in an OpenTelemetry span {@code orchestrator.iteration}, so the
 * generator calls and the pair batches' {@code traceparent} headers belong to its trace.
 */
final class RunLoop implements Runnable {

    private static final Logger LOG = Logger.getLogger(RunLoop.class);

    /** Services a loop uses, shared by all runs. */
    record Services(OrchestratorConfig config, RunStateStore store, PolicyClient policy, PairBatchPublisher publisher,
                    CheckpointWatcher checkpoints, CheckpointEvaluator evaluator, OrchestratorMetrics metrics,
                    OpenTelemetry otel) {
    }

    private final Services s;
    private final Consumer<RunEvent> events;
    private final Consumer<RunRecord> ended;
    private final Tracer tracer;
    private final RunWorld world;
    private volatile RunRecord run;
    private volatile boolean stopRequested;
    private volatile boolean abandoned;

    /**
     * @param run    the run's state, status running, already saved
     * @param events receives progress events
     * @param ended  receives the final state once the loop is done (also after a failure)
     */
    RunLoop(RunRecord run, Services services, Consumer<RunEvent> events, Consumer<RunRecord> ended) {
        this.run = run;
        this.s = services;
        this.events = events;
        this.ended = ended;
        this.tracer = services.otel().getTracer("steer.orchestrator");
        this.world = RunWorld.of(run.settings().worldSeed(), run.settings().iterations());
    }

    /** The run's current state. */
    RunRecord state() {
        return run;
    }

    /** Asks the loop to stop at the next check; the run is saved as stopped. */
    void requestStop() {
        stopRequested = true;
    }

    /** Asks the loop to leave without changing the run's status (the orchestrator shuts down; it resumes later). */
    void abandon() {
        abandoned = true;
        stopRequested = true;
    }

    private boolean stopping() {
        return stopRequested || Thread.currentThread().isInterrupted();
    }

    @Override
    public void run() {
        MDC.put("run_id", run.runId());
        LOG.infof("run %s: starting at %s", run.runId(), RunProgress.next(run));
        try {
            while (true) {
                if (stopping()) {
                    throw new RunStopped();
                }
                RunProgress.Step step = RunProgress.next(run);
                switch (step.action()) {
                    case EVALUATE_BASELINE -> baseline();
                    case FINISH -> {
                        finish(RunStatus.SUCCEEDED, "");
                        return;
                    }
                    default -> iteration(step.iteration());
                }
            }
        } catch (RunStopped e) {
            if (abandoned) {
                LOG.infof("run %s: left at %s for a later resume", run.runId(), RunProgress.next(run));
            } else {
                finish(RunStatus.STOPPED, "");
            }
        } catch (RunFailure e) {
            // the message stands alone (it becomes the run's error); the stack only when debugging
            LOG.debugf(e, "run %s failed", run.runId());
            finish(RunStatus.FAILED, e.getMessage());
        } catch (RuntimeException e) {
            LOG.errorf(e, "run %s failed on an internal error", run.runId());
            finish(RunStatus.FAILED, "internal error: " + e);
        } finally {
            s.metrics().phase(Phase.IDLE);
            MDC.remove("run_id");
            ended.accept(run);
        }
    }

    private void finish(RunStatus status, String error) {
        run = run.withStatus(status, error, System.currentTimeMillis());
        s.store().save(run);
        s.metrics().runEnded(status.name().toLowerCase());
        LOG.infof("run %s: %s%s", run.runId(), status, error.isEmpty() ? "" : " (" + error + ")");
        event(-1, status.name().toLowerCase(), error, 1, true);
    }

    private void baseline() {
        s.metrics().phase(Phase.EVALUATING);
        event(-1, "evaluating", "evaluating the SFT model as the baseline", 0, false);
        RunSettings st = run.settings();
        Map<String, Double> m = s.evaluator().evaluateBaseline(world, st.evalQueries(), st.seed());
        save(run.withBaseline(m, System.currentTimeMillis()));
        event(-1, "evaluating", "baseline mean_score " + m.get("mean_score"), 1, true);
    }

    private void iteration(int i) {
        Span span = tracer.spanBuilder("orchestrator.iteration").setAttribute("steer.run_id", run.runId())
                .setAttribute("steer.iteration", i).startSpan();
        long start = System.nanoTime();
        MDC.put("iteration", Integer.toString(i));
        try (Scope ignored = span.makeCurrent()) {
            RunProgress.Step step;
            while ((step = RunProgress.next(run)).iteration() == i && step.action() != RunProgress.Action.FINISH) {
                if (stopping()) {
                    throw new RunStopped();
                }
                long mark = System.nanoTime();
                switch (step.action()) {
                    case SAMPLE -> sample(i, mark);
                    case PUBLISH -> publish(i, mark);
                    case AWAIT_CHECKPOINT -> awaitCheckpoint(i, mark);
                    case LOAD -> load(i, mark);
                    case EVALUATE -> evaluate(i, mark);
                    default -> throw new IllegalStateException("unexpected step " + step);
                }
            }
            s.metrics().iterationFinished(Duration.ofNanos(System.nanoTime() - start));
            event(i, "done", "iteration " + (i + 1) + " of " + run.settings().iterations() + " finished", 1, true);
        } catch (RuntimeException e) {
            span.recordException(e);
            span.setStatus(StatusCode.ERROR, String.valueOf(e.getMessage()));
            throw e;
        } finally {
            span.end();
            MDC.remove("iteration");
        }
    }

    private void sample(int i, long mark) {
        s.metrics().phase(Phase.SAMPLING);
        RunSettings st = run.settings();
        long version = RunProgress.policyVersion(i);
        String location = RunProgress.policyLocation(run, i,
                s.config().baseModel().map(p -> p.toAbsolutePath().toString()).orElse(""));
        s.policy().ensurePolicy(version, location);

        List<Task> tasks = world.iterationTasks(i, st.promptsPerIteration());
        int n = tasks.size();
        int rounds = st.allocatesByModel() ? 4 : 3;
        long allocationSeed = Seeds.derive(st.seed(), "allocation", i, 0);
        List<SteeredPrompt> prompts;
        int fallbacks = 0;
        if (st.allocatesByModel()) {
            // greedy: the allocation is the policy's best reading of the query, not a sample
            SamplingSettings greedy = new SamplingSettings(16, 0.0, 1.0, 0, List.of());
            List<String> answers = s.policy().sample(SsoTriples.allocationQuestions(tasks), greedy,
                    c -> Seeds.derive(st.seed(), "allocation-answers", i, c), version,
                    done -> progress(i, "sampling", "allocating features", done, n * rounds), this::stopping);
            SsoTriples.Allocation a = SsoTriples.allocateFromAnswers(tasks, answers, allocationSeed);
            prompts = a.prompts();
            fallbacks = a.fallbacks();
        } else {
            prompts = SsoTriples.allocateByRule(tasks, allocationSeed);
        }
        int offset = st.allocatesByModel() ? n : 0;
        List<String> x = new ArrayList<>(n);
        List<String> xPlus = new ArrayList<>(n);
        List<String> xMinus = new ArrayList<>(n);
        for (SteeredPrompt p : prompts) {
            x.add(p.prompt());
            xPlus.add(p.promptPlus());
            xMinus.add(p.promptMinus());
        }
        List<String> yOrig = roleSamples("y_orig", x, i, version, offset, n * rounds);
        List<String> yPlus = roleSamples("y_plus", xPlus, i, version, offset + n, n * rounds);
        List<String> yMinus = roleSamples("y_minus", xMinus, i, version, offset + 2 * n, n * rounds);
        SsoTriples.TripleSet set = SsoTriples.build(prompts, yOrig, yPlus, yMinus);
        if (set.kept().isEmpty()) {
            throw new RunFailure("iteration " + i + ": all " + n + " sampled triples were degenerate (y+ = y- or"
                    + " either = y°); nothing to train on");
        }
        int batches = BatchPlan.count(set.kept().size(), st.batchSize(), st.epochs());
        save(run.with(IterationRecord.sampled(i, version, set.kept(), set.dropped(), fallbacks, batches,
                seconds(mark)), System.currentTimeMillis()));
        s.metrics().sampled(set.kept().size(), set.dropped(), fallbacks);
        event(i, "sampling", set.kept().size() + " triples kept, " + set.dropped() + " degenerate dropped"
                + (st.allocatesByModel() ? ", " + fallbacks + " allocations fell back to the rule" : ""), 1, false);
    }

    private List<String> roleSamples(String role, List<String> prompts, int i, long version, int doneBefore,
                                     int total) {
        RunSettings st = run.settings();
        return s.policy().sample(prompts, st.sampling(), c -> Seeds.derive(st.seed(), role, i, c), version,
                done -> progress(i, "sampling", "sampling " + role, doneBefore + done, total), this::stopping);
    }

    private void publish(int i, long mark) {
        s.metrics().phase(Phase.PUBLISHING);
        RunSettings st = run.settings();
        IterationRecord it = run.iteration(i).orElseThrow();
        BatchPlan plan = BatchPlan.plan(st.runId(), i, it.exampleCount(), st.batchSize(), st.epochs(), st.seed());
        Set<String> recorded = new LinkedHashSet<>(it.publishedBatchIds());
        Set<String> onTopic = recorded.containsAll(plan.ids()) ? Set.of() : s.publisher().committedIds(plan.ids());
        List<BatchPlan.PlannedBatch> todo = plan.unpublished(recorded, onTopic);
        event(i, "publishing", todo.size() + " of " + plan.batches().size() + " pair batches to publish"
                + (onTopic.isEmpty() ? "" : " (" + onTopic.size() + " found already committed)"), 0, false);
        List<PairBatch> records = new ArrayList<>(todo.size());
        for (BatchPlan.PlannedBatch b : todo) {
            List<SsoTriple> examples = new ArrayList<>(b.examples().size());
            for (int idx : b.examples()) {
                examples.add(it.examples().get(idx));
            }
            records.add(RunMessages.pairBatch(st, i, it.policyVersion(), b.id(), b.index(), plan.batches().size(),
                    examples));
        }
        Context context = Context.current();
        s.publisher().publish(st.runId(), records, (headers, batch) ->
                s.otel().getPropagators().getTextMapPropagator().inject(context, headers, (h, key, value) -> {
                    h.remove(key);
                    h.add(key, value.getBytes(StandardCharsets.UTF_8));
                }));
        s.metrics().published(records.size());
        save(run.with(it.withPublished(plan.ids()).withPhase(IterationPhase.PUBLISHED).plusSeconds(seconds(mark)),
                System.currentTimeMillis()));
        event(i, "publishing", plan.batches().size() + " pair batches committed to "
                + s.config().pairBatchesTopic(), 1, false);
    }

    private void awaitCheckpoint(int i, long mark) {
        s.metrics().phase(Phase.TRAINING);
        long expected = RunProgress.checkpointVersion(i);
        event(i, "training", "waiting for checkpoint version " + expected + " on " + s.config().checkpointsTopic(),
                0, false);
        CheckpointEvent e = s.checkpoints().await(run.runId(), i, s.config().checkpointWaitTimeout(),
                waited -> event(i, "training", "waiting for checkpoint version " + expected + " for "
                        + waited / 1000 + " s", 0, false), this::stopping);
        if (e.getVersion() != expected) {
            throw new RunFailure("the trainer's checkpoint for iteration " + i + " has version " + e.getVersion()
                    + ", expected " + expected + " (version 0 is the SFT model; iteration i writes i + 1)");
        }
        IterationRecord it = run.iteration(i).orElseThrow();
        save(run.with(it.trained(e.getVersion(), e.getLocation(), e.getStep(), e.getMetricsMap())
                .plusSeconds(seconds(mark)), System.currentTimeMillis()));
        event(i, "training", "checkpoint version " + e.getVersion() + " at " + e.getLocation() + ", loss "
                + e.getMetricsMap().get("loss"), 1, false);
    }

    private void load(int i, long mark) {
        s.metrics().phase(Phase.LOADING);
        IterationRecord it = run.iteration(i).orElseThrow();
        event(i, "loading", "loading version " + it.checkpointVersion() + " as '" + s.config().policyModel() + "'",
                0, false);
        int generators = s.policy().loadOnGenerator(it.checkpointVersion(), it.checkpointLocation());
        int judges = s.policy().loadOnJudge(it.checkpointVersion(), it.checkpointLocation());
        save(run.with(it.withPhase(IterationPhase.LOADED).plusSeconds(seconds(mark)), System.currentTimeMillis()));
        event(i, "loading", replicas(generators, "generator") + (judges == 0 ? "" : " and " + replicas(judges, "judge"))
                + " serve version " + it.checkpointVersion(), 1, false);
    }

    private void evaluate(int i, long mark) {
        s.metrics().phase(Phase.EVALUATING);
        RunSettings st = run.settings();
        IterationRecord it = run.iteration(i).orElseThrow();
        event(i, "evaluating", "evaluating version " + it.checkpointVersion() + " on " + st.evalQueries()
                + " held-out queries", 0, false);
        Map<String, Double> m = s.evaluator().evaluate(it.checkpointLocation(), world, st.evalQueries(), st.seed());
        save(run.with(it.evaluated(m).plusSeconds(seconds(mark)), System.currentTimeMillis()));
        event(i, "evaluating", "mean_score " + m.get("mean_score") + ", win_rate " + m.get("win_rate"), 1, false);
    }

    /** "generator", or "2 generator replicas". */
    private static String replicas(int n, String service) {
        return n == 1 ? service : n + " " + service + " replicas";
    }

    private void save(RunRecord next) {
        s.store().save(next);
        run = next;
    }

    private static double seconds(long mark) {
        return (System.nanoTime() - mark) / 1e9;
    }

    private void progress(int i, String phase, String what, int done, int total) {
        event(i, phase, what + ": " + done + " of " + total + " samples", total == 0 ? 1 : (double) done / total, false);
    }

    private void event(int iteration, String phase, String message, double fraction, boolean snapshot) {
        RunEvent.Builder b = RunEvent.newBuilder().setRunId(run.runId()).setIteration(iteration).setPhase(phase)
                .setMessage(message).setFraction(fraction).setUnixMs(System.currentTimeMillis());
        if (snapshot) {
            b.setRun(RunMessages.run(run));
        }
        events.accept(b.build());
    }
}
