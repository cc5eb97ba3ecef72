package steer.orchestrator;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The packaged orchestrator's surroundings for the API tests: a fresh state directory, and a generator and Kafka
 * address where nothing listens (a port taken from the OS and released), so a run that starts fails on its first
 * call to the generator, as it would in production, with no generator stand-in.
 */
public class OrchestratorTestEnvironment implements QuarkusTestResourceLifecycleManager {

    static final String DEAD_GENERATOR_PORT_PROPERTY = "steer.test.dead-generator-port";

    @Override
    public Map<String, String> start() {
        try {
            Path state = Files.createTempDirectory("steer-orchestrator-it");
            int deadPort = freePort();
            System.setProperty(DEAD_GENERATOR_PORT_PROPERTY, Integer.toString(deadPort));
            return Map.of(
                    "steer.orchestrator.state-dir", state.toString(),
                    "steer.orchestrator.generator-address", "localhost:" + deadPort,
                    "steer.orchestrator.load-deadline", "PT10S",
                    // a generator that never comes back: retried for 3 s (0.5 + 1 + 2), then the run fails
                    "steer.orchestrator.call-retry-window", "PT3S",
                    "kafka.bootstrap.servers", "localhost:" + freePort(),
                    "quarkus.otel.sdk.disabled", "true");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Override
    public void stop() {
    }
}
