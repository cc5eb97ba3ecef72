package steer.trainer;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import steer.proto.v1.TrainerGrpc;

/** The packaged trainer (target/quarkus-app/quarkus-run.jar) running as its own process, as it is deployed. */
final class TrainerProcess implements AutoCloseable {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    final Process process;
    final int port;
    final Path log;
    private final ManagedChannel channel;

    private TrainerProcess(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
        this.channel = ManagedChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    }

    /** Starts the trainer with {@code steer.trainer.*} and Quarkus settings as system properties; waits until ready. */
    static TrainerProcess start(Map<String, String> properties, Path log) throws IOException, InterruptedException {
        TrainerProcess t = launch(properties, log);
        Process p = t.process;
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new IllegalStateException("the trainer exited with " + p.exitValue() + ":\n" + t.logText());
            }
            HttpResponse<String> ready = t.httpGet("/q/health/ready");
            if (ready != null && ready.statusCode() == 200) {
                return t;
            }
            Thread.sleep(100);
        }
        t.close();
        throw new IllegalStateException("the trainer did not become ready in 90 s:\n" + t.logText());
    }

    /** Starts the trainer and returns at once, ready or not. */
    static TrainerProcess launch(Map<String, String> properties, Path log) throws IOException {
        int port = freePort();
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx512m");
        command.add("-Dai.djl.offline=true");
        command.add("-Dai.djl.pytorch.num_threads=1");
        command.add("-Dquarkus.http.port=" + port);
        properties.forEach((k, v) -> command.add("-D" + k + "=" + v));
        command.add("-jar");
        command.add(System.getProperty("steer.app.jar"));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        // MKL's strict reproducibility, as steer.launch.ServiceProcess gives every service: a restarted trainer
        // must compute what the halted one would have, bit for bit
        builder.environment().putIfAbsent("MKL_CBWR", "AUTO,STRICT");
        Process p = builder.start();
        return new TrainerProcess(p, port, log);
    }

    /** A stub that sends {@code authorization: Bearer <key>}. */
    TrainerGrpc.TrainerBlockingStub stub(String adminKey) {
        io.grpc.Metadata headers = new io.grpc.Metadata();
        headers.put(io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER),
                "Bearer " + adminKey);
        return stub().withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    TrainerGrpc.TrainerBlockingStub stub() {
        return TrainerGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    /** The response to a GET, or null when the server does not answer (yet). */
    HttpResponse<String> httpGet(String path) throws InterruptedException {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            return null;
        }
    }

    String logText() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Kills the process as a crash would: no shutdown hooks, no clean close. */
    void kill() throws InterruptedException {
        channel.shutdownNow();
        process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow();
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }
}
