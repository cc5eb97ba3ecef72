package steer.broker;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real Apache Kafka broker in KRaft mode (one node, broker and controller combined) running in its own JVM,
 * started from the jars this module's build copies into {@code target/broker-lib}.
 *
 * <p>Its own JVM because the broker's jars (Scala, kafka-clients at the broker's version) must not meet the
 * caller's classpath, whose kafka-clients follow the Quarkus BOM. The launcher uses only the JDK.
 *
 * <p>Start: two free loopback ports (never 9092, so a developer's own Kafka is never touched), a fresh log
 * directory formatted with {@code kafka.tools.StorageTool format}, then {@code kafka.Kafka server.properties};
 * ready once the listener answers a Metadata request that lists the broker. Stop: SIGTERM, which Kafka handles
 * with a controlled shutdown, then a kill if it has not exited in time. A shutdown hook stops it too.
 *
 * <pre>
 *   try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start()) {
 *       String bootstrap = broker.bootstrapServers();   // "127.0.0.1:PORT"
 *   }
 * </pre>
 *
 * <p>By hand: {@code java -cp kafka-broker/target/classes steer.broker.EmbeddedKafkaBroker [PORT]} after
 * {@code ./mvnw -pl kafka-broker -am package}.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {

    /** System property naming the directory of broker jars; default {@code target/broker-lib} beside this class. */
    public static final String LIB_PROPERTY = "steer.kafka.broker.lib";

    /**
     * The broker's {@code message.max.bytes}, which every topic it auto-creates takes as its {@code max.message.bytes}:
     * the services' default {@code steer.kafka.max-message-bytes} ({@code steer.proto.RecordSizes}, which this module,
     * using only the JDK, cannot import). The trainer and the orchestrator check a topic's limit before they use it,
     * so the two cannot drift apart unnoticed.
     */
    public static final int DEFAULT_MAX_MESSAGE_BYTES = 16 << 20;

    private static final int AVOIDED_PORT = 9092;
    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

    private final Process process;
    private final Path workDir;
    private final boolean deleteWorkDir;
    private final int port;
    private final Path logFile;
    private final Thread shutdownHook;
    private volatile boolean stopped;

    private EmbeddedKafkaBroker(Process process, Path workDir, boolean deleteWorkDir, int port, Path logFile) {
        this.process = process;
        this.workDir = workDir;
        this.deleteWorkDir = deleteWorkDir;
        this.port = port;
        this.logFile = logFile;
        this.shutdownHook = new Thread(this::stopQuietly, "kafka-broker-stop");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /** Starts a broker on free ports in a fresh temporary directory, deleted again on {@link #close}. */
    public static EmbeddedKafkaBroker start() {
        try {
            return start(Files.createTempDirectory("steer-kafka-"), 0, true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a directory for the broker: " + e.getMessage(), e);
        }
    }

    /**
     * Starts a broker.
     *
     * @param workDir       where server.properties, the log directory ({@code data/}) and {@code broker.log} go;
     *                      its {@code data/} must not hold another cluster's logs
     * @param port          the client port, or 0 for a free one
     * @param deleteWorkDir whether {@link #close} deletes {@code workDir}
     * @throws IllegalStateException if the broker jars are missing, or the broker fails or times out starting
     */
    public static EmbeddedKafkaBroker start(Path workDir, int port, boolean deleteWorkDir) {
        return start(workDir, port, deleteWorkDir, DEFAULT_MAX_MESSAGE_BYTES);
    }

    /**
     * Starts a broker whose topics accept records of up to {@code maxMessageBytes}.
     *
     * @param maxMessageBytes the broker's {@code message.max.bytes}, at least 1
     * @see #start(Path, int, boolean)
     */
    public static EmbeddedKafkaBroker start(Path workDir, int port, boolean deleteWorkDir, int maxMessageBytes) {
        if (maxMessageBytes < 1) {
            throw new IllegalArgumentException("message.max.bytes must be at least 1, got " + maxMessageBytes);
        }
        Path lib = libDir();
        try {
            Files.createDirectories(workDir);
            int clientPort = port > 0 ? port : freePort();
            int controllerPort = freePort();
            while (controllerPort == clientPort) {
                controllerPort = freePort();
            }
            Path data = workDir.resolve("data");
            Path properties = workDir.resolve("server.properties");
            Files.writeString(properties, serverProperties(clientPort, controllerPort, data, maxMessageBytes),
                    StandardCharsets.UTF_8);
            Path logFile = workDir.resolve("broker.log");
            if (!Files.exists(data.resolve("meta.properties"))) {
                format(lib, properties, workDir.resolve("format.log"));
            }
            Process process = java(lib, "kafka.Kafka", properties.toString()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile())).start();
            EmbeddedKafkaBroker broker = new EmbeddedKafkaBroker(process, workDir, deleteWorkDir, clientPort, logFile);
            try {
                broker.awaitReady();
            } catch (RuntimeException e) {
                broker.close();
                throw e;
            }
            return broker;
        } catch (IOException e) {
            throw new UncheckedIOException("starting the Kafka broker in " + workDir + ": " + e.getMessage(), e);
        }
    }

    /** {@code host:port} for the clients' {@code bootstrap.servers}. */
    public String bootstrapServers() {
        return "127.0.0.1:" + port;
    }

    /** The client port. */
    public int port() {
        return port;
    }

    /** The broker's stdout and stderr. */
    public Path logFile() {
        return logFile;
    }

    /** The broker JVM's process id. */
    public long pid() {
        return process.pid();
    }

    /** Whether the broker process is running. */
    public boolean isAlive() {
        return process.isAlive();
    }

    /** Stops the broker (SIGTERM, then a kill after 30 s) and deletes its directory if it was asked to. */
    @Override
    public void close() {
        stopQuietly();
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // already shutting down: the hook is running or has run
        }
        if (deleteWorkDir) {
            deleteRecursively(workDir);
        }
    }

    private void stopQuietly() {
        if (stopped) {
            return;
        }
        stopped = true;
        process.destroy();
        try {
            if (!process.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private void awaitReady() {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        String last = "no answer yet";
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("the Kafka broker exited with code " + process.exitValue()
                        + " while starting; its log " + logFile + " ends with:\n" + tail(logFile));
            }
            try {
                int brokers = KafkaWireCheck.brokerCount("127.0.0.1", port, Duration.ofSeconds(2));
                if (brokers > 0) {
                    return;
                }
                last = "metadata lists no broker yet";
            } catch (IOException e) {
                last = e.toString();
            }
            sleep(100);
        }
        throw new IllegalStateException("the Kafka broker did not become ready within " + START_TIMEOUT.toSeconds()
                + " s (last: " + last + "); its log " + logFile + " ends with:\n" + tail(logFile));
    }

    /** The directory of broker jars; fails with the command that makes it when it is missing. */
    static Path libDir() {
        String configured = System.getProperty(LIB_PROPERTY);
        Path lib;
        if (configured != null && !configured.isBlank()) {
            lib = Path.of(configured);
        } else {
            // this class lives in target/classes or in target/steer-kafka-broker-*.jar: both sit beside broker-lib
            try {
                Path codeSource = Path.of(EmbeddedKafkaBroker.class.getProtectionDomain().getCodeSource()
                        .getLocation().toURI());
                lib = codeSource.toAbsolutePath().getParent().resolve("broker-lib");
            } catch (URISyntaxException | SecurityException | NullPointerException e) {
                throw new IllegalStateException("cannot locate this class's jar to find broker-lib; set -D"
                        + LIB_PROPERTY + "=DIR", e);
            }
        }
        boolean hasBroker;
        try (Stream<Path> jars = Files.isDirectory(lib) ? Files.list(lib) : Stream.empty()) {
            hasBroker = jars.anyMatch(p -> p.getFileName().toString().startsWith("kafka_2.13-"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (!hasBroker) {
            throw new IllegalStateException("no Kafka broker jars in " + lib + ": run ./mvnw -pl kafka-broker -am"
                    + " package (it copies them there), or point -D" + LIB_PROPERTY + " at a directory holding them");
        }
        return lib;
    }

    private static String serverProperties(int clientPort, int controllerPort, Path data, int maxMessageBytes) {
        return String.join("\n",
                "process.roles=broker,controller",
                "node.id=1",
                "controller.quorum.voters=1@127.0.0.1:" + controllerPort,
                "listeners=PLAINTEXT://127.0.0.1:" + clientPort + ",CONTROLLER://127.0.0.1:" + controllerPort,
                "advertised.listeners=PLAINTEXT://127.0.0.1:" + clientPort,
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "log.dirs=" + data.toAbsolutePath(),
                // auto-created topics get one partition: the trainer refuses a pair-batch topic with more, and the
                // Strimzi topics of k8s/optional/strimzi-topics.yaml have one too
                "num.partitions=1",
                "default.replication.factor=1",
                // one node: every internal topic with one replica, or creating it would wait forever
                "offsets.topic.replication.factor=1",
                // one partition instead of 50 makes the first consumer group start in milliseconds
                "offsets.topic.num.partitions=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
                // pair batches carry token ids: the limit the services' steer.kafka.max-message-bytes expects
                "message.max.bytes=" + maxMessageBytes,
                "") ;
    }

    private static void format(Path lib, Path properties, Path log) throws IOException {
        Process p = java(lib, "kafka.tools.StorageTool", "format", "-t", clusterId(), "-c", properties.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            if (!p.waitFor(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("formatting the Kafka log directory timed out; see " + log);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while formatting the Kafka log directory", e);
        }
        if (p.exitValue() != 0) {
            throw new IllegalStateException("kafka.tools.StorageTool format failed with code " + p.exitValue()
                    + ":\n" + tail(log));
        }
    }

    /**
     * A cluster id as {@code StorageTool random-uuid} prints it: 16 random bytes in URL-safe base64 without
     * padding, never starting with '-' (Kafka's own rule, so the id cannot be read as a command-line flag).
     * Made here rather than by the tool to save a JVM start.
     */
    static String clusterId() {
        SecureRandom random = new SecureRandom();
        byte[] bytes = new byte[16];
        String id;
        do {
            random.nextBytes(bytes);
            id = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
        } while (id.startsWith("-"));
        return id;
    }

    private static ProcessBuilder java(Path lib, String mainClass, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // a small heap and one GC thread: the broker shares two cores with the build and the services under test
        command.add("-Xms64m");
        command.add("-Xmx384m");
        command.add("-XX:+UseSerialGC");
        command.add("-XX:TieredStopAtLevel=1");
        command.add("-Djava.awt.headless=true");
        command.add("-Dorg.slf4j.simpleLogger.showDateTime=true");
        command.add("-cp");
        command.add(lib.toAbsolutePath() + "/*");
        command.add(mainClass);
        command.addAll(List.of(args));
        return new ProcessBuilder(command).directory(lib.toFile());
    }

    /** A free loopback port other than 9092. */
    static int freePort() throws IOException {
        while (true) {
            try (ServerSocket s = new ServerSocket()) {
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                if (s.getLocalPort() != AVOIDED_PORT) {
                    return s.getLocalPort();
                }
            }
        }
    }

    private static String tail(Path file) {
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e.getMessage() + ")";
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the Kafka broker", e);
        }
    }

    private static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // a leftover temporary directory is harmless; the broker itself has stopped
        }
    }

    /** Runs a broker until the JVM is stopped: {@code EmbeddedKafkaBroker [PORT [WORK_DIR]]}. */
    public static void main(String[] args) throws InterruptedException, IOException {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 0;
        Path dir = args.length > 1 ? Path.of(args[1]) : Files.createTempDirectory("steer-kafka-");
        EmbeddedKafkaBroker broker = start(dir, port, args.length <= 1);
        System.out.println("Kafka broker ready at " + broker.bootstrapServers() + " (pid " + broker.pid() + ", log "
                + broker.logFile() + "); Ctrl-C stops it");
        broker.process.waitFor();
    }
}
