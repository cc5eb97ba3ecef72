package steer.launch;

import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * One Steer service (a packaged Quarkus app) running as its own process on loopback: started with its
 * configuration as system properties, ready when its readiness endpoint says so, stopped with SIGTERM. Its own
 * process because DJL's JNI library loads in one classloader per JVM, and each service (or test) needs its own
 * models and limits.
 *
 * <p>Plaintext by default. A service whose configuration sets {@code quarkus.http.insecure-requests=disabled} (TLS
 * on, through Quarkus's TLS registry, and no plaintext port) is started with its HTTPS port
 * ({@code quarkus.http.ssl-port}) on {@link #port()}, and the launcher's own HTTP calls ({@link #awaitReady},
 * {@link #get}, {@link #metric}) go over https to 127.0.0.1 trusting whatever certificate it presents: they only
 * read health and metrics from a process this launcher started, on loopback. gRPC clients must verify the
 * certificate themselves.
 */
public final class ServiceProcess implements AutoCloseable {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    /** For a TLS-only service's health and metrics on loopback: any certificate, no hostname check. */
    private static final HttpClient HTTPS_ANY_CERTIFICATE = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(2)).sslContext(trustAll()).build();

    /**
     * MKL's conditional numerical reproducibility (MKL is linked into libtorch_cpu): {@code AUTO,STRICT} gives the
     * same results whatever the buffers' alignment, so a service restarted from its saved state computes bit for bit
     * what the one before it would have; without it a restart can differ in the last bits, which training amplifies.
     */
    public static final String MKL_CBWR = "MKL_CBWR";
    /** The value every service gets unless the environment sets another. */
    public static final String REPRODUCIBLE_MKL = "AUTO,STRICT";

    private final String name;
    private final Path jar;
    private final Map<String, String> properties;
    private final Path log;
    private final int port;
    private final boolean tls;
    private volatile Process process;

    /**
     * @param name       the service's name in messages and the log file's name
     * @param jar        {@code target/quarkus-app/quarkus-run.jar} of the service module
     * @param port       its HTTP port (gRPC, health and metrics share it); its HTTPS port if the properties set
     *                   {@code quarkus.http.insecure-requests=disabled}
     * @param properties its configuration, passed as {@code -Dkey=value}
     * @param logDir     where its standard output and error go, as {@code NAME.log}
     */
    public ServiceProcess(String name, Path jar, int port, Map<String, String> properties, Path logDir) {
        this.name = name;
        this.jar = jar;
        this.port = port;
        this.properties = Map.copyOf(properties);
        this.tls = "disabled".equals(properties.get("quarkus.http.insecure-requests"));
        this.log = logDir.resolve(name + ".log");
    }

    /**
     * Starts the packaged app of the module under test as its integration tests run it, and waits up to 90 s for
     * it to be ready: the jar named by the system property {@code steer.app.jar} (set by failsafe), a free port,
     * OpenTelemetry off (no collector listens) and the log kept in {@code target/service-logs/NAME.log}, next to
     * the failsafe reports.
     *
     * @param name       the test's name for its service, naming the log
     * @param properties the service's configuration; may override the OpenTelemetry setting
     */
    public static ServiceProcess startUnderTest(String name, Map<String, String> properties) {
        String jar = System.getProperty("steer.app.jar");
        if (jar == null) {
            throw new IllegalStateException("system property steer.app.jar is not set: run the test through failsafe");
        }
        Map<String, String> config = new LinkedHashMap<>();
        config.put("quarkus.otel.sdk.disabled", "true");
        config.putAll(properties);
        return new ServiceProcess(name, Path.of(jar), FreePorts.next(), config, Path.of("target", "service-logs")).start()
                .awaitReady(Duration.ofSeconds(90));
    }

    public String name() {
        return name;
    }

    public int port() {
        return port;
    }

    /** Whether the service serves TLS only on {@link #port()} ({@code quarkus.http.insecure-requests=disabled}). */
    public boolean tls() {
        return tls;
    }

    /** {@code 127.0.0.1:PORT}, the gRPC target. */
    public String address() {
        return "127.0.0.1:" + port;
    }

    public Path log() {
        return log;
    }

    /** Starts the process (appending to its log, so a restart keeps the earlier run's lines). */
    public synchronized ServiceProcess start() {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException(name + " is already running");
        }
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(name + ": " + jar + " does not exist; build the services first (./mvnw -DskipTests package)");
        }
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xss4m");
        command.add("-Dai.djl.offline=true");
        command.add("-Dai.djl.pytorch.num_threads=" + System.getProperty("ai.djl.pytorch.num_threads", "1"));
        // TLS only: no plaintext port opens, so PORT is the HTTPS one
        command.add((tls ? "-Dquarkus.http.ssl-port=" : "-Dquarkus.http.port=") + port);
        command.add("-Dquarkus.http.host=127.0.0.1");
        // the generation engine and its settings travel to the services (-Dsteer.generation.engine=vector through
        // STEER_JAVA_OPTS: generator-svc's batches then decode on it), with the module that engine needs
        System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith("steer.generation.")).sorted()
                .filter(k -> !properties.containsKey(k))
                .forEach(k -> command.add("-D" + k + "=" + System.getProperty(k)));
        String engine = properties.getOrDefault("steer.generation.engine", System.getProperty("steer.generation.engine"));
        if (engine != null && engine.trim().equalsIgnoreCase("vector")) {
            command.add(1, "--add-modules=jdk.incubator.vector");
        }
        properties.forEach((k, v) -> command.add("-D" + k + "=" + v));
        command.add("-jar");
        command.add(jar.toString());
        try {
            Files.createDirectories(log.getParent());
            ProcessBuilder builder = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            builder.environment().putIfAbsent(MKL_CBWR, REPRODUCIBLE_MKL);
            process = builder.start();
        } catch (IOException e) {
            throw new IllegalStateException("could not start " + name + ": " + e.getMessage(), e);
        }
        return this;
    }

    /**
     * Waits until {@code /q/health/ready} answers 200 (over https if {@link #tls()}), failing early (with the log's
     * tail) if the process dies.
     */
    public ServiceProcess awaitReady(Duration timeout) {
        HttpRequest ready = HttpRequest.newBuilder(uri("/q/health/ready"))
                .timeout(Duration.ofSeconds(5)).GET().build();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException(name + " exited with code " + process.exitValue() + " before it was ready; "
                        + "last lines of " + log + ":\n" + tail(30));
            }
            try {
                if (http().send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return this;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for " + name, e);
            }
            sleep(200);
        }
        throw new IllegalStateException(name + " was not ready within " + timeout.toSeconds() + " s; last lines of " + log
                + ":\n" + tail(30));
    }

    /** "STATUS body" of an HTTP GET on the service's port, e.g. {@code get("/q/health/ready")}. */
    public String get(String path) throws IOException, InterruptedException {
        HttpResponse<String> r = http().send(HttpRequest.newBuilder(uri(path))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        return r.statusCode() + " " + r.body();
    }

    /** The value of the first Prometheus sample at {@code /q/metrics} whose name is {@code name}, or 0 if absent. */
    public double metric(String name) throws IOException, InterruptedException {
        for (String line : get("/q/metrics").split("\n")) {
            if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return 0;
    }

    public synchronized boolean isAlive() {
        return process != null && process.isAlive();
    }

    /**
     * The exit code if the process was started and has exited; empty while it runs or before it started. A process
     * killed by SIGKILL exits with 137.
     */
    public synchronized java.util.OptionalInt exitCode() {
        return process == null || process.isAlive() ? java.util.OptionalInt.empty()
                : java.util.OptionalInt.of(process.exitValue());
    }

    /** Starts the process again if it was started and has exited since; returns whether it did. */
    public synchronized boolean restartIfExited() {
        if (process == null || process.isAlive()) {
            return false;
        }
        start();
        return true;
    }

    /** The operating system's id of the running process, for sending it signals. */
    public synchronized long pid() {
        if (process == null || !process.isAlive()) {
            throw new IllegalStateException(name + " is not running");
        }
        return process.pid();
    }

    /** Kills the process at once (SIGKILL), as a crash would: for fault tests. */
    public synchronized void kill() {
        if (process != null) {
            process.destroyForcibly();
            waitFor(Duration.ofSeconds(30));
        }
    }

    /** SIGTERM, then SIGKILL if it has not stopped within 20 seconds. */
    @Override
    public synchronized void close() {
        if (process == null || !process.isAlive()) {
            return;
        }
        process.destroy();
        if (!waitFor(Duration.ofSeconds(20))) {
            process.destroyForcibly();
            waitFor(Duration.ofSeconds(10));
        }
    }

    /** The last lines of the log, for error messages. */
    public String tail(int lines) {
        try {
            List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    private URI uri(String path) {
        return URI.create((tls ? "https" : "http") + "://127.0.0.1:" + port + path);
    }

    private HttpClient http() {
        return tls ? HTTPS_ANY_CERTIFICATE : HTTP;
    }

    private static SSLContext trustAll() {
        // an extended trust manager, so that the JDK adds no hostname check of its own around it
        TrustManager any = new X509ExtendedTrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {any}, new SecureRandom());
            return context;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("no TLS in this JVM: " + e.getMessage(), e);
        }
    }

    private boolean waitFor(Duration timeout) {
        try {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
