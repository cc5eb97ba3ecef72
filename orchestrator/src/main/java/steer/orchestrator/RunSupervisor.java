package steer.orchestrator;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.opentelemetry.api.OpenTelemetry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.common.annotation.Identifier;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;
import steer.align.RunRecord;
import steer.align.InvalidSettingException;
import steer.align.RunSettings;
import steer.method.AlignmentMethod;
import steer.align.RunStateStore;
import steer.align.RunStatus;
import steer.proto.v1.Run;
import steer.proto.v1.RunConfig;
import steer.proto.v1.RunEvent;

/**
 * Owns the runs: starts or resumes one run at a time on a single background thread, answers for persisted runs,
 * and fans progress events out to watchers. A second run while one is active is refused with FAILED_PRECONDITION
 * (a queue would hide from the caller that its run is not running).
 */
@ApplicationScoped
public class RunSupervisor {

    private static final Logger LOG = Logger.getLogger(RunSupervisor.class);

    @Inject
    OrchestratorConfig config;

    @Inject
    OpenTelemetry otel;

    @Inject
    OrchestratorMetrics metrics;

    @Inject
    @Identifier("default-kafka-broker")
    Map<String, Object> kafka;

    private RunStateStore store;
    private RunLoop.Services services;
    // one thread: one run at a time, and the loop's blocking calls never hold a gRPC or event-loop thread
    private final ExecutorService runner = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "steer-run");
        t.setDaemon(true);
        return t;
    });
    private RunLoop active;
    private final List<Watcher> watchers = new CopyOnWriteArrayList<>();

    private record Watcher(String runId, ServerCallStreamObserver<RunEvent> observer) {
    }

    void onStart(@Observes StartupEvent ignored) {
        // DJL (the tokenizer evaluation reads) must never reach for its download server
        System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
        store = new RunStateStore(config.stateDir());
        PolicyClient policy = new PolicyClient(config, otel);
        JudgeClient judge = new JudgeClient(config, otel);
        services = new RunLoop.Services(config, store, policy, judge,
                new PairBatchPublisher(kafka, config.pairBatchesTopic(), config.kafkaTimeout(),
                        config.maxMessageBytes()),
                new CheckpointWatcher(kafka, config.checkpointsTopic(), config.deadLetterTopic(), config.kafkaTimeout()),
                new CheckpointEvaluator(config.baseModel().orElse(null), policy, judge, config.policyModel()), metrics,
                otel);
        LOG.infof("run states in %s; generator %s; judge %s; topics %s -> %s", store.dir(), config.generatorAddress(),
                config.judgeAddress().orElse("none"), config.pairBatchesTopic(), config.checkpointsTopic());
        if (config.resumeOnStart()) {
            resumeInterrupted();
        }
    }

    /** Resumes the most recently updated run the last orchestrator left running. */
    private void resumeInterrupted() {
        List<RunRecord> running;
        try {
            running = store.list().stream().filter(r -> r.status() == RunStatus.RUNNING)
                    .sorted(Comparator.comparingLong(RunRecord::updatedUnixMs).reversed()).toList();
        } catch (RuntimeException e) {
            LOG.errorf(e, "cannot read the run states in %s; no run resumed", store.dir());
            return;
        }
        for (int k = 0; k < running.size(); k++) {
            RunRecord r = running.get(k);
            if (k == 0) {
                LOG.infof("resuming run %s, interrupted by the last shutdown", r.runId());
                synchronized (this) {
                    launch(r);
                }
            } else {
                store.save(r.withStatus(RunStatus.FAILED, "interrupted while run " + running.get(0).runId()
                        + " was resumed; StartRun with this run id resumes it", System.currentTimeMillis()));
            }
        }
    }

    void onStop(@Observes ShutdownEvent ignored) {
        synchronized (this) {
            if (active != null) {
                active.abandon();
            }
        }
        runner.shutdownNow();
        try {
            runner.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        services.policy().close();
        services.judge().close();
        services.evaluator().close();
    }

    /**
     * Starts a run, or resumes the run with the config's id.
     *
     * @throws io.grpc.StatusRuntimeException INVALID_ARGUMENT for a bad config, FAILED_PRECONDITION if another run
     *                                        is active or evaluation lacks the SFT model
     */
    synchronized Run start(RunConfig requested) {
        String runId = requested.getRunId().isEmpty() ? newRunId() : requested.getRunId();
        RunSettings settings = RunMessages.settings(requested, runId); // InvalidSettingException: the caller maps it
        if (active != null && active.state().runId().equals(runId)) {
            return RunMessages.run(active.state());
        }
        Optional<RunRecord> existing = read(runId);
        if (existing.isPresent() && existing.get().status() == RunStatus.SUCCEEDED) {
            return RunMessages.run(existing.get());
        }
        if (active != null) {
            throw Status.FAILED_PRECONDITION.withDescription("run " + active.state().runId() + " is running; this"
                    + " orchestrator runs one run at a time: stop it or wait for it to end").asRuntimeException();
        }
        // a resumed run keeps the settings it started with: its samples and batches were made with them
        RunSettings effective = existing.map(RunRecord::settings).orElse(settings);
        if (!effective.skipEvaluation()) {
            if (config.baseModel().isEmpty()) {
                throw Status.FAILED_PRECONDITION.withDescription("evaluation needs the SFT model, and"
                        + " steer.orchestrator.base-model is not set (or start the run with config.skip_evaluation)")
                        .asRuntimeException();
            }
            if (!Files.isRegularFile(config.baseModel().get().resolve("config.json"))) {
                throw Status.FAILED_PRECONDITION.withDescription("steer.orchestrator.base-model "
                        + config.baseModel().get() + " is not a model directory (no config.json)").asRuntimeException();
            }
        }
        checkJudge(effective);
        long now = System.currentTimeMillis();
        RunRecord run = existing.map(r -> r.withStatus(RunStatus.RUNNING, "", now))
                .orElseGet(() -> RunRecord.start(settings, now));
        store.save(run);
        launch(run);
        return RunMessages.run(run);
    }

    /**
     * A method that asks a judge needs one: FAILED_PRECONDITION without a judge address; a pinned judge named without
     * a checkpoint to load must be one the judge serves (INVALID_ARGUMENT naming the field and what is served).
     */
    private void checkJudge(RunSettings settings) {
        AlignmentMethod.JudgeChoice judge = settings.alignmentMethod().judge();
        if (judge.kind() == AlignmentMethod.JudgeChoice.Kind.NONE) {
            return;
        }
        if (!services.judge().configured()) {
            throw Status.FAILED_PRECONDITION.withDescription(settings.algorithm() + " asks a judge, and"
                    + " steer.orchestrator.judge-address is not set").asRuntimeException();
        }
        if (judge.kind() == AlignmentMethod.JudgeChoice.Kind.PINNED && judge.location().isEmpty()) {
            List<String> served;
            try {
                served = services.judge().servedNames();
            } catch (RunFailure e) {
                throw Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException();
            }
            if (!served.contains(judge.model())) {
                throw new InvalidSettingException("config.osp.judge_model", "'" + judge.model() + "' is not served by"
                        + " the judge, which serves " + served + "; name one of those, or set config.osp.judge_location"
                        + " to a checkpoint to load under that name");
            }
        }
    }

    private void launch(RunRecord run) {
        RunLoop loop = new RunLoop(run, services, this::publish, this::ended);
        active = loop;
        runner.execute(loop);
    }

    private synchronized void ended(RunRecord run) {
        if (active != null && active.state().runId().equals(run.runId())) {
            active = null;
        }
        for (Watcher w : watchers) {
            if (w.runId().equals(run.runId())) {
                watchers.remove(w);
                complete(w.observer());
            }
        }
    }

    /** @throws io.grpc.StatusRuntimeException NOT_FOUND for an unknown run */
    synchronized Run get(String runId) {
        return RunMessages.run(current(runId));
    }

    /** Stops the active run with this id; a run that is not active is returned as it is. */
    synchronized Run stop(String runId) {
        RunRecord r = current(runId);
        if (active != null && active.state().runId().equals(runId)) {
            active.requestStop();
        }
        return RunMessages.run(r);
    }

    /**
     * Sends the run's current state, then its events until it ends; a run that is not active gets its state and
     * the end of the stream at once.
     */
    synchronized void watch(String runId, ServerCallStreamObserver<RunEvent> observer) {
        RunRecord r = current(runId);
        boolean running = active != null && active.state().runId().equals(runId);
        send(observer, RunEvent.newBuilder().setRunId(runId).setIteration(r.completedIterations())
                .setPhase(running ? "running" : r.status().name().toLowerCase()).setMessage("current state")
                .setFraction(0).setRun(RunMessages.run(r)).setUnixMs(System.currentTimeMillis()).build());
        if (!running) {
            complete(observer);
            return;
        }
        Watcher w = new Watcher(runId, observer);
        watchers.add(w);
        observer.setOnCancelHandler(() -> watchers.remove(w));
    }

    private void publish(RunEvent e) {
        for (Watcher w : watchers) {
            if (w.runId().equals(e.getRunId()) && !send(w.observer(), e)) {
                watchers.remove(w);
            }
        }
    }

    private static boolean send(ServerCallStreamObserver<RunEvent> o, RunEvent e) {
        synchronized (o) {
            if (o.isCancelled()) {
                return false;
            }
            try {
                o.onNext(e);
                return true;
            } catch (RuntimeException ex) {
                return false;
            }
        }
    }

    private static void complete(ServerCallStreamObserver<RunEvent> o) {
        synchronized (o) {
            if (!o.isCancelled()) {
                try {
                    o.onCompleted();
                } catch (RuntimeException ignored) {
                    // the client went away
                }
            }
        }
    }

    private RunRecord current(String runId) {
        if (active != null && active.state().runId().equals(runId)) {
            return active.state();
        }
        return read(runId).orElseThrow(() -> Status.NOT_FOUND.withDescription("no run with run_id '" + runId + "'")
                .asRuntimeException());
    }

    private Optional<RunRecord> read(String runId) {
        if (!runId.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
            return Optional.empty(); // cannot name a state file, so no such run
        }
        try {
            return store.load(runId);
        } catch (RuntimeException e) {
            throw Status.INTERNAL.withDescription("the state of run " + runId + " cannot be read: " + e.getMessage())
                    .asRuntimeException();
        }
    }

    private static String newRunId() {
        return "run-" + ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + "-"
                + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0x10000));
    }
}
