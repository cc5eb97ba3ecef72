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
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import org.jboss.logging.Logger;
import org.jboss.logging.MDC;
import steer.align.BatchPlan;
import steer.align.EvalMetrics;
import steer.align.IterationPhase;
import steer.align.IterationRecord;
import steer.align.RoundExample;
import steer.align.RoundTokens;
import steer.align.RunProgress;
import steer.align.RunRecord;
import steer.align.RunSettings;
import steer.align.RunStateStore;
import steer.align.RunStatus;
import steer.align.RunWorld;
import steer.align.SamplingSettings;
import steer.align.Seeds;
import steer.method.AlignmentMethod;
import steer.method.RoundContext;
import steer.method.RoundExamples;
import steer.orchestrator.OrchestratorMetrics.Phase;
import steer.proto.v1.CheckpointEvent;
import steer.proto.v1.PairBatch;
import steer.proto.v1.RunEvent;
import steer.world.Task;
import steer.world.WorldEvaluation;

/**
 * Drives one run to its end on the calling thread: asks {@link RunProgress#next} what to do, does it, saves the
 * state, and repeats. The loop knows rounds, not methods: what a round samples, asks the judge and trains is the
 * run's {@link AlignmentMethod} ({@code steer.method}); the loop provides it the policy's and the judge's services,
 * publishes its examples, waits for the checkpoint, loads it and evaluates.
 *
 * <p>Each round has an OpenTelemetry span {@code orchestrator.iteration} (its attribute {@code steer.iteration} is
 * the round), open from the round's sampling until it finishes, and each action a child span
 * ({@code orchestrator.sample}, {@code .publish}, {@code .await_checkpoint}, {@code .load}, {@code .evaluate}); the
 * generator and judge calls and the pair batches' {@code traceparent} headers belong to the round's trace. With a
 * staleness bound of 1, round r+1's {@code orchestrator.sample} runs while the trainer's {@code trainer.step} spans
 * of round r do.
 */
final class RunLoop implements Runnable {

    private static final Logger LOG = Logger.getLogger(RunLoop.class);
    /** Threads of evaluations that overlap the next round's sampling; daemons, so they never hold the JVM up. */
    private static final java.util.concurrent.ExecutorService EVALUATIONS =
            java.util.concurrent.Executors.newCachedThreadPool(r -> {
                Thread t = new Thread(r, "run-evaluation");
                t.setDaemon(true);
                return t;
            });

    /** Services a loop uses, shared by all runs. */
    record Services(OrchestratorConfig config, RunStateStore store, PolicyClient policy, JudgeClient judge,
                    PairBatchPublisher publisher, CheckpointWatcher checkpoints, CheckpointEvaluator evaluator,
                    OrchestratorMetrics metrics, OpenTelemetry otel) {
    }

    private final Services s;
    private final Consumer<RunEvent> events;
    private final Consumer<RunRecord> ended;
    private final Tracer tracer;
    private final RunWorld world;
    private final AlignmentMethod method;
    /** Open round spans, by round: a round's actions interleave with the next round's when sampling runs ahead. */
    private final Map<Integer, Span> roundSpans = new HashMap<>();
    /** A round's evaluation running beside the next round's sampling (see {@link #evaluateWhileSamplingAhead}). */
    private final Map<Integer, CompletableFuture<Map<String, Double>>> evaluations = new HashMap<>();
    /** The SFT model's answers sampled again for a state that does not keep them ({@link #baselineAnswers}). */
    private List<String> resampledSftAnswers;
    /** The baseline's evaluation while it runs beside the first round's sampling. */
    private volatile CompletableFuture<WorldEvaluation.Evaluated> baselineEvaluation;
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
        this.method = run.settings().alignmentMethod();
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
        LOG.infof("run %s (%s): starting at %s", run.runId(), run.settings().algorithm(), RunProgress.next(run));
        try {
            while (true) {
                if (stopping()) {
                    throw new RunStopped();
                }
                RunProgress.Step step = RunProgress.next(run);
                switch (step.action()) {
                    case EVALUATE_BASELINE -> baselineWhileSamplingAhead();
                    case EVALUATE -> evaluateWhileSamplingAhead(step);
                    case FINISH -> {
                        finish(RunStatus.SUCCEEDED, "");
                        return;
                    }
                    default -> roundStep(step);
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
            evaluations.values().forEach(f -> f.cancel(true));
            evaluations.clear();
            CompletableFuture<WorldEvaluation.Evaluated> baseline = baselineEvaluation;
            if (baseline != null) {
                baseline.cancel(true);
            }
            roundSpans.values().forEach(Span::end);
            roundSpans.clear();
            s.metrics().phase(Phase.IDLE);
            MDC.remove("run_id");
            MDC.remove("iteration");
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

    /**
     * Evaluates round {@code step.iteration()}'s checkpoint while the next round samples from it, when the next round
     * samples from that version (it is loaded on the generators already) and has not begun: both run on the
     * generators (the evaluation's requests asked from its own thread here), which batch them together, so neither
     * waits for the other. Both are seeded, so their results are those of the two in sequence; the sampled round is
     * saved first, and a restart that finds it evaluates again (seeded) and goes on to publish.
     */
    private void evaluateWhileSamplingAhead(RunProgress.Step step) {
        int r = step.iteration();
        RunSettings st = run.settings();
        int next = r + 1;
        boolean ahead = next < st.totalRounds() && run.iteration(next).isEmpty()
                && method.samplingVersion(st, next) == RunProgress.checkpointVersion(r) && !stopping();
        if (ahead) {
            IterationRecord it = run.iteration(r).orElseThrow();
            Span round = roundSpans.computeIfAbsent(r, k -> tracer.spanBuilder("orchestrator.iteration")
                    .setAttribute("steer.run_id", run.runId()).setAttribute("steer.iteration", k).startSpan());
            evaluations.put(r, inBackground(r, Context.current().with(round), () -> evaluationMetrics(it)));
            event(r, "evaluating", "evaluating version " + it.checkpointVersion() + " on " + st.evalQueries() + " "
                    + st.evaluationSplit() + " queries, beside " + roundName(next) + "'s sampling", 0, false);
            try {
                roundStep(new RunProgress.Step(RunProgress.Action.SAMPLE, next));
            } catch (RunStopped stopped) {
                // a stop during the sampling ahead keeps the evaluation: the round ends evaluated
                roundStep(step);
                throw stopped;
            }
        }
        roundStep(step);
    }

    /** Runs an evaluation on its own thread, in an {@code orchestrator.evaluation} span under {@code parent}. */
    private <T> CompletableFuture<T> inBackground(int iteration, Context parent, java.util.function.Supplier<T> work) {
        String runId = run.runId();
        return CompletableFuture.supplyAsync(parent.wrapSupplier(() -> {
            Span span = tracer.spanBuilder("orchestrator.evaluation").setAttribute("steer.run_id", runId)
                    .setAttribute("steer.iteration", iteration).setAttribute("steer.overlapped", true).startSpan();
            try (Scope ignored = span.makeCurrent()) {
                return work.get();
            } finally {
                span.end();
            }
        }), EVALUATIONS);
    }

    /** The background evaluation's figures; its failure rethrown as it was thrown. */
    private static <T> T await(CompletableFuture<T> evaluation) {
        try {
            return evaluation.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException cause ? cause : e;
        }
    }

    /**
     * Evaluates the SFT model as the baseline while the first round samples from it (version 0, which the
     * generators serve from the start), as {@link #evaluateWhileSamplingAhead} does for a checkpoint.
     */
    private void baselineWhileSamplingAhead() {
        RunSettings st = run.settings();
        s.metrics().phase(Phase.EVALUATING);
        event(-1, "evaluating", "evaluating the SFT model as the baseline on " + st.evalQueries() + " "
                + st.evaluationSplit() + " queries", 0, false);
        WorldEvaluation.Evaluated e;
        RunStopped stopped = null;
        if (run.iteration(0).isEmpty() && method.samplingVersion(st, 0) == 0 && !stopping()) {
            CompletableFuture<WorldEvaluation.Evaluated> baseline = inBackground(-1, Context.current(),
                    () -> s.evaluator().evaluateBaseline(world.evaluationTasks(st), st.seed()));
            baselineEvaluation = baseline;
            try {
                roundStep(new RunProgress.Step(RunProgress.Action.SAMPLE, 0));
            } catch (RunStopped ex) {
                stopped = ex; // the baseline is still saved
            }
            try {
                e = await(baseline);
            } finally {
                baselineEvaluation = null;
            }
        } else {
            e = s.evaluator().evaluateBaseline(world.evaluationTasks(st), st.seed());
        }
        Map<String, Double> m = EvalMetrics.of(e.report());
        save(run.withBaseline(m, e.answers(), System.currentTimeMillis()));
        event(-1, "evaluating", "baseline mean_score " + m.get("mean_score"), 1, true);
        if (stopped != null) {
            throw stopped;
        }
    }

    /** One action of a round, in the round's span and a child span of its own. */
    private void roundStep(RunProgress.Step step) {
        int r = step.iteration();
        Span round = roundSpans.computeIfAbsent(r, k -> tracer.spanBuilder("orchestrator.iteration")
                .setAttribute("steer.run_id", run.runId()).setAttribute("steer.iteration", k).startSpan());
        MDC.put("iteration", Integer.toString(r));
        long mark = System.nanoTime();
        try (Scope ignored = round.makeCurrent()) {
            Span action = tracer.spanBuilder("orchestrator." + step.action().name().toLowerCase())
                    .setAttribute("steer.run_id", run.runId()).setAttribute("steer.iteration", r).startSpan();
            try (Scope inner = action.makeCurrent()) {
                switch (step.action()) {
                    case SAMPLE -> sample(r, mark);
                    case PUBLISH -> publish(r, mark);
                    case AWAIT_CHECKPOINT -> awaitCheckpoint(r, mark);
                    case LOAD -> load(r, mark);
                    case EVALUATE -> evaluate(r, mark);
                    default -> throw new IllegalStateException("unexpected step " + step);
                }
            } catch (RuntimeException e) {
                action.recordException(e);
                action.setStatus(StatusCode.ERROR, String.valueOf(e.getMessage()));
                round.setStatus(StatusCode.ERROR, String.valueOf(e.getMessage()));
                throw e;
            } finally {
                action.end();
            }
        }
        IterationRecord it = run.iteration(r).orElseThrow();
        if (RunProgress.finished(it, run.settings())) {
            roundSpans.remove(r).end();
            s.metrics().iterationFinished(Duration.ofNanos((long) (it.seconds() * 1e9)));
            event(r, "done", roundName(r) + " finished", 1, true);
        }
    }

    /** "iteration 2 of 3", or "round 5 of 48 (iteration 1 of 3)". */
    private String roundName(int r) {
        RunSettings st = run.settings();
        if (st.roundsPerSplit() == 1) {
            return "iteration " + (r + 1) + " of " + st.iterations();
        }
        return "round " + (r + 1) + " of " + st.totalRounds() + " (iteration " + (st.splitOf(r) + 1) + " of "
                + st.iterations() + ")";
    }

    private String baseModelDir() {
        return s.config().baseModel().map(p -> p.toAbsolutePath().toString()).orElse("");
    }

    private void sample(int r, long mark) {
        s.metrics().phase(Phase.SAMPLING);
        RunSettings st = run.settings();
        long version = RunProgress.samplingVersion(st, r);
        s.policy().ensurePolicy(version, RunProgress.versionLocation(run, version, baseModelDir()));
        RoundJudge judge = judgeFor(version);
        int split = st.splitOf(r);
        List<Task> tasks = world.iterationTasks(split, st.firstPromptOf(r), st.promptsInRound(r));
        // every policy sample's ids, so the examples built from the texts train on exactly what was sampled
        RoundTokens sampled = new RoundTokens();
        RoundContext.PolicySampling policy = (role, prompts, n, sampling) -> recorded(sampled, RoundTokens.POLICY,
                prompts, s.policy().sample(prompts, n, sampling, c -> Seeds.derive(st.seed(), role, r, c), version,
                        done -> progress(r, "sampling", "sampling " + role, done * n, prompts.size() * n),
                        this::stopping));
        RoundExamples built = method.buildRound(new RoundContext(st, r, split, tasks, version, policy,
                judge == null ? null : judge.judging(r), matrix(r, sampled)));
        if (built.examples().isEmpty()) {
            throw new RunFailure(roundName(r) + ": all " + (built.dropped()) + " candidate examples of " + tasks.size()
                    + " prompts were degenerate (the same response twice, or no preference); nothing to train on");
        }
        List<RoundExample> examples = sampled.attach(built.examples());
        int batches = BatchPlan.count(examples.size(), st.batchSize(), method.epochsPerRound(st));
        IterationRecord.RoundFacts facts = new IterationRecord.RoundFacts(split, built.samplesDrawn(),
                built.judgeComparisons(), method.reference().versionFor(version, r),
                judge == null ? "" : judge.model(), judge == null ? 0 : judge.version(),
                IterationRecord.RoundFacts.countSources(examples));
        save(run.with(IterationRecord.sampled(r, version, examples, built.dropped(), built.fallbacks(),
                batches, seconds(mark)).withFacts(facts), System.currentTimeMillis()));
        s.metrics().sampled(examples.size(), built.dropped(), built.fallbacks());
        LOG.infof("%s: %d responses carry their sampled token ids, %d are text only (not the policy's samples, or"
                + " one text sampled with different ids)", roundName(r), sampled.attached(), sampled.textOnly());
        event(r, "sampling", built.examples().size() + " examples kept, " + built.dropped() + " degenerate dropped"
                + (built.fallbacks() > 0 ? ", " + built.fallbacks() + " allocations fell back to the rule" : "")
                + (judge == null ? "" : "; judged by '" + judge.model() + "' version " + judge.version()), 1, false);
    }

    /**
     * Sampling from the run's other models (TSO's matrix): another size under its own name at version 0, or an
     * earlier version of the policy under {@code policy@<run>/v<N>}; each loaded on every generator replica when first
     * asked and kept beside the policy.
     */
    private RoundContext.ModelSampling matrix(int r, RoundTokens sampled) {
        RunSettings st = run.settings();
        return new RoundContext.ModelSampling() {
            @Override
            public List<List<String>> sampleModel(String name, String location, String role, List<String> prompts,
                                                  int n, SamplingSettings sampling) {
                s.policy().ensureModel(name, 0, location);
                // another model's tokenizer may differ from the policy's: its samples train from their text
                return PolicyClient.texts(sampleFrom(name, 0, role, prompts, n, sampling));
            }

            @Override
            public List<List<String>> samplePolicyVersion(long version, String role, List<String> prompts, int n,
                                                          SamplingSettings sampling) {
                String name = "policy@" + run.runId() + "/v" + version;
                s.policy().ensureModel(name, version, RunProgress.versionLocation(run, version, baseModelDir()));
                return recorded(sampled, RoundTokens.earlierVersion(version), prompts,
                        sampleFrom(name, version, role, prompts, n, sampling));
            }

            private List<List<PolicyClient.Sampled>> sampleFrom(String name, long version, String role, List<String> prompts, int n,
                                                  SamplingSettings sampling) {
                event(r, "sampling", "sampling " + role + " from '" + name + "'", 0, false);
                return s.policy().sample(name, prompts, n, sampling, c -> Seeds.derive(st.seed(), role, r, c), version,
                        done -> progress(r, "sampling", "sampling " + role, done * n, prompts.size() * n),
                        RunLoop.this::stopping);
            }
        };
    }

    /** Records each sample's ids under {@code source} and gives the methods the texts. */
    private static List<List<String>> recorded(RoundTokens sampled, String source, List<String> prompts,
                                               List<List<PolicyClient.Sampled>> samples) {
        for (int p = 0; p < prompts.size(); p++) {
            for (PolicyClient.Sampled one : samples.get(p)) {
                if (one.tokens() != null) {
                    sampled.record(source, prompts.get(p), one.text(), one.tokens());
                }
            }
        }
        return PolicyClient.texts(samples);
    }

    /** The judge model a round sampled by {@code version} asks, made ready on every judge replica; null if none. */
    private RoundJudge judgeFor(long version) {
        AlignmentMethod.JudgeChoice choice = method.judge();
        String sft = s.config().judgeSftModel();
        switch (choice.kind()) {
            case NONE:
                return null;
            case PINNED: {
                String location = choice.location().isEmpty() ? baseModelDir() : choice.location();
                s.judge().ensure(choice.model(), 0, location, true);
                return new RoundJudge(choice.model(), 0);
            }
            default: {
                // the policy judges itself: version 0 is the SFT model, later versions the run's checkpoints
                if (version == 0) {
                    s.judge().ensure(sft, 0, baseModelDir(), true);
                    return new RoundJudge(sft, 0);
                }
                String name = "policy@" + run.runId();
                s.judge().ensure(name, version, RunProgress.versionLocation(run, version, baseModelDir()), false);
                return new RoundJudge(name, version);
            }
        }
    }

    /** A round's judge: a model name and the version every answer must come from. */
    private final class RoundJudge {
        private final String model;
        private final long version;

        RoundJudge(String model, long version) {
            this.model = model;
            this.version = version;
        }

        String model() {
            return model;
        }

        long version() {
            return version;
        }

        RoundContext.Judging judging(int r) {
            return new RoundContext.Judging() {
                @Override
                public List<Double> againstEmpty(List<String> prompts, List<String> responses) {
                    event(r, "sampling", "judging " + prompts.size() + " samples against the empty response", 0,
                            false);
                    return s.judge().againstEmpty(model, version, prompts, responses);
                }

                @Override
                public List<Double> compare(List<String> prompts, List<String> a, List<String> b) {
                    event(r, "sampling", "judging the strength of " + prompts.size() + " pairs", 0, false);
                    return s.judge().compare(model, version, prompts, a, b);
                }

                @Override
                public List<Double> rubric(List<String> prompts, List<String> responses) {
                    event(r, "sampling", "scoring " + prompts.size() + " samples with the rubric", 0, false);
                    return s.judge().rubric(model, version, prompts, responses);
                }
            };
        }
    }

    private void publish(int r, long mark) {
        s.metrics().phase(Phase.PUBLISHING);
        RunSettings st = run.settings();
        IterationRecord it = run.iteration(r).orElseThrow();
        BatchPlan plan = BatchPlan.plan(st.runId(), r, it.exampleCount(), st.batchSize(), method.epochsPerRound(st),
                st.seed());
        Set<String> recorded = new LinkedHashSet<>(it.publishedBatchIds());
        Set<String> onTopic = recorded.containsAll(plan.ids()) ? Set.of() : s.publisher().committedIds(plan.ids());
        List<BatchPlan.PlannedBatch> todo = plan.unpublished(recorded, onTopic);
        event(r, "publishing", todo.size() + " of " + plan.batches().size() + " pair batches to publish"
                + (onTopic.isEmpty() ? "" : " (" + onTopic.size() + " found already committed)"), 0, false);
        List<PairBatch> records = new ArrayList<>(todo.size());
        for (BatchPlan.PlannedBatch b : todo) {
            List<RoundExample> examples = new ArrayList<>(b.examples().size());
            for (int idx : b.examples()) {
                examples.add(it.examples().get(idx));
            }
            records.add(RunMessages.pairBatch(st, r, it.policyVersion(), it.facts().referenceVersion(),
                    RunProgress.staleness(st), b.id(), b.index(), plan.batches().size(), examples));
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
        event(r, "publishing", plan.batches().size() + " pair batches committed to "
                + s.config().pairBatchesTopic(), 1, false);
    }

    private void awaitCheckpoint(int r, long mark) {
        s.metrics().phase(Phase.TRAINING);
        long expected = RunProgress.checkpointVersion(r);
        event(r, "training", "waiting for checkpoint version " + expected + " on " + s.config().checkpointsTopic(),
                0, false);
        CheckpointEvent e = s.checkpoints().await(run.runId(), r, s.config().checkpointWaitTimeout(),
                waited -> event(r, "training", "waiting for checkpoint version " + expected + " for "
                        + waited / 1000 + " s", 0, false), this::stopping);
        if (e.getVersion() != expected) {
            throw new RunFailure("the trainer's checkpoint for round " + r + " has version " + e.getVersion()
                    + ", expected " + expected + " (version 0 is the SFT model; round r writes r + 1)");
        }
        IterationRecord it = run.iteration(r).orElseThrow();
        save(run.with(it.trained(e.getVersion(), e.getLocation(), e.getStep(), e.getMetricsMap())
                .plusSeconds(seconds(mark)), System.currentTimeMillis()));
        event(r, "training", "checkpoint version " + e.getVersion() + " at " + e.getLocation() + ", loss "
                + e.getMetricsMap().get("loss"), 1, false);
    }

    private void load(int r, long mark) {
        s.metrics().phase(Phase.LOADING);
        IterationRecord it = run.iteration(r).orElseThrow();
        event(r, "loading", "loading version " + it.checkpointVersion() + " as '" + s.config().policyModel() + "'",
                0, false);
        // a policy-following judge loads a version when a round first asks it (judgeFor); a pinned one never
        int generators = s.policy().loadOnGenerator(it.checkpointVersion(), it.checkpointLocation());
        save(run.with(it.withPhase(IterationPhase.LOADED).plusSeconds(seconds(mark)), System.currentTimeMillis()));
        event(r, "loading", replicas(generators, "generator") + (generators == 1 ? " serves" : " serve") + " version "
                + it.checkpointVersion(), 1, false);
    }

    private void evaluate(int r, long mark) {
        s.metrics().phase(Phase.EVALUATING);
        RunSettings st = run.settings();
        IterationRecord it = run.iteration(r).orElseThrow();
        CompletableFuture<Map<String, Double>> started = evaluations.remove(r);
        Map<String, Double> m;
        if (started == null) {
            event(r, "evaluating", "evaluating version " + it.checkpointVersion() + " on " + st.evalQueries() + " "
                    + st.evaluationSplit() + " queries", 0, false);
            m = evaluationMetrics(it);
        } else {
            m = await(started);
        }
        // the round's seconds count only what it waited here: an overlapped evaluation's time is the next round's
        save(run.with(it.evaluated(m).plusSeconds(seconds(mark)), System.currentTimeMillis()));
        event(r, "evaluating", "mean_score " + m.get("mean_score") + ", win_rate " + m.get("win_rate"), 1, false);
    }

    /** A checkpoint's figures in the oracle world, with the accuracy of the judge the method uses. */
    private Map<String, Double> evaluationMetrics(IterationRecord it) {
        RunSettings st = run.settings();
        List<Task> queries = world.evaluationTasks(st);
        Map<String, Double> m = new LinkedHashMap<>(s.evaluator().evaluate(it.checkpointVersion(),
                it.checkpointLocation(), baselineAnswers(queries), queries, st.seed()));
        usedJudgeAccuracy(m, queries).ifPresent(a -> m.put("used_judge_accuracy", a));
        return m;
    }

    /**
     * The SFT model's answers that the win rate compares with: kept in the run's state by the baseline evaluation,
     * or (for a state written before they were kept) sampled again, once per process. Not saved then: this may run
     * on an evaluation's thread, and only the loop's thread writes the state.
     */
    private synchronized List<String> baselineAnswers(List<Task> queries) {
        if (run.baselineAnswers().size() == queries.size()) {
            return run.baselineAnswers();
        }
        if (resampledSftAnswers == null) {
            resampledSftAnswers = s.evaluator().sftAnswers(run.runId(), queries, run.settings().seed());
        }
        return resampledSftAnswers;
    }

    /**
     * The judge accuracy of the judge the method uses: a pinned SFT judge's is the baseline's, a pinned augmented
     * judge's is measured on the same pairs, a policy-following judge's is the evaluated checkpoint's (the judge of
     * the next round).
     */
    private java.util.Optional<Double> usedJudgeAccuracy(Map<String, Double> m, List<Task> queries) {
        AlignmentMethod.JudgeChoice choice = method.judge();
        return switch (choice.kind()) {
            case NONE -> java.util.Optional.empty();
            case FOLLOWS_POLICY -> java.util.Optional.ofNullable(m.get("judge_accuracy"));
            case PINNED -> choice.location().isEmpty()
                    ? java.util.Optional.ofNullable(run.baselineMetrics().get("judge_accuracy"))
                    : java.util.Optional.of(pinnedJudgeAccuracy(choice, queries));
        };
    }

    /** A pinned judge's accuracy, asked of the judge service that serves it (made to serve it first, as a round does). */
    private double pinnedJudgeAccuracy(AlignmentMethod.JudgeChoice choice, List<Task> queries) {
        s.judge().ensure(choice.model(), 0, choice.location(), true);
        return s.evaluator().judgeAccuracy(choice.model(), queries, run.settings().seed());
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

    private void progress(int r, String phase, String what, int done, int total) {
        event(r, phase, what + ": " + done + " of " + total + " samples", total == 0 ? 1 : (double) done / total, false);
    }

    private void event(int round, String phase, String message, double fraction, boolean snapshot) {
        RunEvent.Builder b = RunEvent.newBuilder().setRunId(run.runId()).setIteration(round).setPhase(phase)
                .setMessage(message).setFraction(fraction).setUnixMs(System.currentTimeMillis());
        if (snapshot) {
            b.setRun(RunMessages.run(run));
        }
        events.accept(b.build());
    }
}
