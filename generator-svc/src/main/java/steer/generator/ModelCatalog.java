package steer.generator;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.Optional;
import org.jboss.logging.Logger;
import steer.serving.BatchedGenerator;
import steer.serving.BatchedScorer;
import steer.serving.MicroBatcher;
import steer.serving.ModelRegistry;

/**
 * The served models and the batchers in front of them, built once from {@link GeneratorConfig}. The start
 * model loads on its own thread so the HTTP server (health, metrics) is up at once; readiness waits for it.
 */
@ApplicationScoped
public class ModelCatalog {

    private static final Logger LOG = Logger.getLogger(ModelCatalog.class);

    private final GeneratorConfig config;
    private final ModelRegistry registry;
    private final BatchedGenerator generator;
    private final BatchedScorer scorer;
    private final Counter droppedRequests;
    private volatile String startFailure;

    ModelCatalog(GeneratorConfig config, MeterRegistry meters) {
        this.config = config;
        this.registry = new ModelRegistry(config.allowedRoot());
        this.droppedRequests = Counter.builder("steer.generator.requests.dropped")
                .description("requests dropped unrun: deadline passed or cancelled while queued").register(meters);
        this.generator = new BatchedGenerator(registry, config.batching(), listener(DistributionSummary
                .builder("steer.generator.batch.size").description("sequences per generation batch")
                .baseUnit("sequences").register(meters)));
        this.scorer = new BatchedScorer(registry, config.batching(), listener(DistributionSummary
                .builder("steer.generator.score.batch.size").description("pairs per scoring batch")
                .baseUnit("pairs").register(meters)));
        Gauge.builder("steer.generator.queue.depth", this, c -> c.generator.queueDepth() + c.scorer.queueDepth())
                .description("requests waiting for a batch").register(meters);
    }

    private MicroBatcher.Listener listener(DistributionSummary sizes) {
        return new MicroBatcher.Listener() {
            @Override
            public void batchRan(int requests, int size, long runNanos) {
                sizes.record(size);
            }

            @Override
            public void requestDropped() {
                droppedRequests.increment();
            }
        };
    }

    void start(@Observes StartupEvent event) {
        Optional<java.nio.file.Path> location = config.modelLocation();
        if (location.isEmpty()) {
            startFailure = "steer.generator.model-location is not set";
            LOG.warn(startFailure + "; serving nothing until LoadModel");
            return;
        }
        Thread loader = new Thread(() -> {
            try {
                var loaded = registry.loadConfigured(config.modelName(), config.modelVersion(), location.get());
                LOG.infof("serving %s version %d from %s (%d parameters)", loaded.model().name(), loaded.model().version(),
                        loaded.model().location(), loaded.model().parameters());
            } catch (RuntimeException e) {
                startFailure = e.getMessage();
                LOG.error("cannot load the start model", e);
            }
        }, "start-model-loader");
        loader.setDaemon(true);
        loader.start();
    }

    void stop(@Observes ShutdownEvent event) {
        generator.close();
        scorer.close();
        registry.close();
    }

    GeneratorConfig config() {
        return config;
    }

    ModelRegistry registry() {
        return registry;
    }

    BatchedGenerator generator() {
        return generator;
    }

    BatchedScorer scorer() {
        return scorer;
    }

    Counter droppedRequests() {
        return droppedRequests;
    }

    /** Whether the start model is served. */
    boolean ready() {
        return registry.find(config.modelName()).isPresent();
    }

    /** Why the start model is not served, if loading it failed. */
    Optional<String> startFailure() {
        return Optional.ofNullable(startFailure);
    }
}
