package steer.cli.demo;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import steer.broker.EmbeddedKafkaBroker;
import steer.launch.FreePorts;
import steer.launch.ServiceProcess;
import steer.launch.Supervisor;

/**
 * The embedded default: a real Kafka broker (KRaft) and the four services, each its own process on loopback,
 * plus a trace collector. {@link #close()} stops everything it started, newest first.
 *
 * <p>A {@link Supervisor} watches the four services as Kubernetes would: one that dies is started again on its port,
 * its log and the progress say so, and the run goes on (each service resumes from its durable state).
 */
public final class LocalStack implements AutoCloseable {

    /**
     * @param repoRoot  the checkout (the services' packaged apps are under {@code MODULE/target/quarkus-app})
     * @param workDir   logs, the checkpoint store, trainer and orchestrator state, traces
     * @param baseModel the SFT model every run starts from (Hugging Face layout)
     * @param generators generator replicas, each its own process; the orchestrator loads every one and spreads
     *                   the sampling over them
     * @param allowedRoot where the generator and judge may LoadModel from; null = the checkpoint store. A stack that
     *                   runs several runs needs the SFT model under it: each run after the first has them load the SFT
     *                   model back by its location
     */
    public record Options(Path repoRoot, Path workDir, Path baseModel, int generators, Path allowedRoot,
                          steer.model.Placement placement) {
        public Options {
            if (generators < 1) {
                throw new IllegalArgumentException("generator replicas: " + generators + "; need at least 1");
            }
            if (placement == null) {
                throw new IllegalArgumentException("the stack's placement (device and precision) is required");
            }
        }

        /** Every model on the CPU in float32. */
        public Options(Path repoRoot, Path workDir, Path baseModel, int generators, Path allowedRoot) {
            this(repoRoot, workDir, baseModel, generators, allowedRoot, steer.model.Placement.CPU_F32);
        }

        /** The same stack with the generators', judge's and trainer's models on {@code at}. */
        public Options on(steer.model.Placement at) {
            return new Options(repoRoot, workDir, baseModel, generators, allowedRoot, at);
        }

        /** LoadModel only from the checkpoint store. */
        public Options(Path repoRoot, Path workDir, Path baseModel, int generators) {
            this(repoRoot, workDir, baseModel, generators, null);
        }

        /** One generator. */
        public Options(Path repoRoot, Path workDir, Path baseModel) {
            this(repoRoot, workDir, baseModel, 1);
        }
    }

    private static final Duration READY = Duration.ofMinutes(3);

    private final Options options;
    /** A broker started elsewhere (a Testcontainers broker image), or null to start the embedded one. */
    private final String externalKafka;
    private final List<AutoCloseable> started = new ArrayList<>();
    private TraceCollector traces;
    private EmbeddedKafkaBroker broker;
    private final List<ServiceProcess> generators = new ArrayList<>();
    private ServiceProcess judge;
    private ServiceProcess trainer;
    private ServiceProcess orchestrator;
    private Supervisor supervisor;

    private LocalStack(Options options, String externalKafka) {
        this.options = options;
        this.externalKafka = externalKafka;
    }

    /** Starts the collector, the broker and the services, reporting each step to {@code progress}. */
    public static LocalStack start(Options options, Consumer<String> progress) {
        return start(options, progress, null);
    }

    /**
     * Starts the collector and the services against the Kafka broker at {@code kafkaBootstrap} (a broker image
     * started by Testcontainers, say) instead of the embedded one; null starts the embedded broker.
     */
    public static LocalStack start(Options options, Consumer<String> progress, String kafkaBootstrap) {
        LocalStack stack = new LocalStack(options, kafkaBootstrap);
        try {
            stack.startAll(progress);
            return stack;
        } catch (RuntimeException e) {
            stack.close();
            throw e;
        }
    }

    private void startAll(Consumer<String> progress) {
        Path logs = options.workDir().resolve("logs");
        if (System.getProperty(EmbeddedKafkaBroker.LIB_PROPERTY) == null) {
            System.setProperty(EmbeddedKafkaBroker.LIB_PROPERTY,
                    options.repoRoot().resolve("kafka-broker/target/broker-lib").toString());
        }
        traces = track(new TraceCollector(options.workDir().resolve("traces.jsonl")));
        if (externalKafka == null) {
            progress.accept("starting Kafka (KRaft) ...");
            broker = track(EmbeddedKafkaBroker.start(options.workDir().resolve("kafka"), 0, false));
        }
        progress.accept("Kafka at " + bootstrapServers() + "; starting generator, judge and trainer ...");
        for (int g = 0; g < options.generators(); g++) {
            String name = options.generators() == 1 ? "generator" : "generator-" + g;
            generators.add(track(new ServiceProcess(name, app("generator-svc"), FreePorts.next(), generatorConfig(), logs))
                    .start());
        }
        judge = track(new ServiceProcess("judge", app("judge-svc"), FreePorts.next(), judgeConfig(), logs)).start();
        trainer = track(new ServiceProcess("trainer", app("trainer-svc"), FreePorts.next(), trainerConfig(), logs)).start();
        generators.forEach(g -> g.awaitReady(READY));
        judge.awaitReady(READY);
        trainer.awaitReady(READY);
        progress.accept("generator " + generatorAddresses() + ", judge " + judge.address() + ", trainer " + trainer.address()
                + " ready; starting the orchestrator ...");
        orchestrator = track(new ServiceProcess("orchestrator", app("orchestrator"), FreePorts.next(), orchestratorConfig(),
                logs)).start();
        orchestrator.awaitReady(READY);
        progress.accept("orchestrator " + orchestrator.address() + " ready");
        // tracked last, so it stops first: the services closed after it stay down
        supervisor = track(new Supervisor(progress));
        generators.forEach(supervisor::watch);
        supervisor.watch(judge);
        supervisor.watch(trainer);
        supervisor.watch(orchestrator);
    }

    /** Restarts by the supervisor so far of {@code service}. */
    public int restarts(ServiceProcess service) {
        return supervisor.restarts(service);
    }

    private Path app(String module) {
        return options.repoRoot().resolve(module).resolve("target/quarkus-app/quarkus-run.jar");
    }

    private Map<String, String> common() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("quarkus.otel.exporter.otlp.traces.endpoint", traces.endpoint());
        c.put("quarkus.otel.exporter.otlp.traces.protocol", "http/protobuf");
        c.put("quarkus.otel.bsp.schedule.delay", "200ms");
        c.put("kafka.bootstrap.servers", bootstrapServers());
        return c;
    }

    /** The device and precision keys of a service that runs models (prefix {@code steer.generator} and so on). */
    private void placement(Map<String, String> c, String prefix) {
        c.put(prefix + ".device", options.placement().deviceSetting());
        c.put(prefix + ".precision", options.placement().precision().spelling());
    }

    private Map<String, String> generatorConfig() {
        Map<String, String> c = common();
        c.put("steer.generator.model-location", options.baseModel().toString());
        c.put("steer.generator.allowed-root", allowedRoot().toString());
        placement(c, "steer.generator");
        return c;
    }

    private Map<String, String> judgeConfig() {
        Map<String, String> c = common();
        c.put("steer.judge.model-location", options.baseModel().toString());
        c.put("steer.judge.model-name", "sft");  // the SFT model, version 0: OSP pins it; Self-Rewarding starts from it
        c.put("steer.judge.allowed-root", allowedRoot().toString());
        placement(c, "steer.judge");
        return c;
    }

    private Map<String, String> trainerConfig() {
        Map<String, String> c = common();
        c.put("steer.trainer.base-model", options.baseModel().toString());
        c.put("steer.trainer.store-root", store().toString());
        c.put("steer.trainer.state-dir", options.workDir().resolve("trainer-state").toString());
        placement(c, "steer.trainer");
        return c;
    }

    private Map<String, String> orchestratorConfig() {
        Map<String, String> c = common();
        c.put("steer.orchestrator.generator-address", generatorAddresses());
        c.put("steer.orchestrator.judge-address", judge.address());
        c.put("steer.orchestrator.base-model", options.baseModel().toString());
        c.put("steer.orchestrator.state-dir", options.workDir().resolve("orchestrator-state").toString());
        return c;
    }

    private Path allowedRoot() {
        return options.allowedRoot() != null ? options.allowedRoot() : store();
    }

    /** The checkpoint store the trainer writes and the generator and judge read. */
    public Path store() {
        return options.workDir().resolve("checkpoints");
    }

    /** The embedded broker; null when the stack runs against an external one. */
    public EmbeddedKafkaBroker broker() {
        return broker;
    }

    /** The Kafka bootstrap servers every service uses. */
    public String bootstrapServers() {
        return externalKafka != null ? externalKafka : broker.bootstrapServers();
    }

    public TraceCollector traces() {
        return traces;
    }

    /** The first generator replica. */
    public ServiceProcess generator() {
        return generators.get(0);
    }

    /** Every generator replica. */
    public List<ServiceProcess> generators() {
        return List.copyOf(generators);
    }

    private String generatorAddresses() {
        return String.join(",", generators.stream().map(ServiceProcess::address).toList());
    }

    public ServiceProcess judge() {
        return judge;
    }

    public ServiceProcess trainer() {
        return trainer;
    }

    public ServiceProcess orchestrator() {
        return orchestrator;
    }

    /** Kills the trainer as a crash would and starts it again on the same state; returns when it is ready. */
    public void crashAndRestartTrainer() {
        crashAndRestart(trainer);
    }

    /**
     * Kills {@code service} with SIGKILL and returns when it is ready again (started here, or by the supervisor if
     * it came first).
     */
    public void crashAndRestart(ServiceProcess service) {
        service.kill();
        service.restartIfExited();
        service.awaitReady(READY);
    }

    /** Kills the orchestrator as a crash would and starts it again on the same state; returns when it is ready. */
    public void crashAndRestartOrchestrator() {
        crashAndRestart(orchestrator);
    }

    private <T extends AutoCloseable> T track(T resource) {
        started.add(resource);
        return resource;
    }

    @Override
    public void close() {
        for (int i = started.size() - 1; i >= 0; i--) {
            try {
                started.get(i).close();
            } catch (Exception e) {
                System.err.println("steer: stopping " + started.get(i) + ": " + e.getMessage());
            }
        }
        started.clear();
    }

    static boolean built(Path repoRoot) {
        for (String m : List.of("generator-svc", "judge-svc", "trainer-svc", "orchestrator")) {
            if (!Files.isRegularFile(repoRoot.resolve(m).resolve("target/quarkus-app/quarkus-run.jar"))) {
                return false;
            }
        }
        return true;
    }
}
