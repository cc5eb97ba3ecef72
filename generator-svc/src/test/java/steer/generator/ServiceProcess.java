package steer.generator;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The packaged service (target/quarkus-app/quarkus-run.jar) in its own JVM on a free port, with a plaintext
 * gRPC channel to it. Its own process because DJL's JNI library loads in one classloader per JVM, and each
 * test class needs its own model directory and limits.
 */
final class ServiceProcess implements AutoCloseable {

    private final Process process;
    private final int port;
    private final Path log;
    private final ManagedChannel channel;

    private ServiceProcess(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
        this.channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    }

    /** Starts the app with these system properties and waits until /q/health/ready says UP. */
    static ServiceProcess start(Path workDir, Map<String, String> properties) throws IOException, InterruptedException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xss4m", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1", "-Dquarkus.http.port=" + port,
                "-Dquarkus.otel.sdk.disabled=true"));
        properties.forEach((k, v) -> command.add("-D" + k + "=" + v));
        command.addAll(List.of("-jar", System.getProperty("steer.app.jar")));
        Path log = Files.createTempFile(workDir, "service", ".log");
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        ServiceProcess service = new ServiceProcess(p, port, log);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < until) {
            if (!p.isAlive()) {
                throw new IllegalStateException("the service exited: " + Files.readString(log));
            }
            try {
                if (service.get("/q/health/ready").startsWith("200 ")) {
                    return service;
                }
            } catch (IOException notYet) {
                // the HTTP server is not listening yet
            }
            Thread.sleep(100);
        }
        service.close();
        throw new IllegalStateException("the service did not become ready in 90 s: " + Files.readString(log));
    }

    ManagedChannel channel() {
        return channel;
    }

    /** "STATUS body" of an HTTP GET. */
    String get(String path) throws IOException, InterruptedException {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        return r.statusCode() + " " + r.body();
    }

    /** The value of a Prometheus sample line starting with {@code name}, or 0 if absent. */
    double metric(String name) throws IOException, InterruptedException {
        for (String line : get("/q/metrics").split("\n")) {
            if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return 0;
    }

    String log() throws IOException {
        return Files.readString(log);
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
        try {
            // keep the service's log next to the failsafe reports
            Path kept = Path.of("target", "service-logs");
            Files.createDirectories(kept);
            Files.copy(log, kept.resolve(log.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            System.err.println("could not keep the service log: " + e);
        }
    }
}
