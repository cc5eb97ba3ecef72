package steer.judge.api;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.file.Path;
import java.util.Optional;
import org.jboss.logging.Logger;
import steer.judge.JudgeTemplates;
import steer.serving.BatchedJudge;
import steer.serving.MicroBatcher;
import steer.serving.ModelRegistry;

/**
 * The served judge models, the templates and the batchers, built once from {@link JudgeConfig}. The start model
 * loads on its own thread; readiness waits for it.
 */
@ApplicationScoped
public class ModelCatalog {

    private static final Logger LOG = Logger.getLogger(ModelCatalog.class);

    private final JudgeConfig config;
    private final ModelRegistry registry;
    private final BatchedJudge judge;
    private final JudgeTemplates templates = JudgeTemplates.world();
    private final Counter droppedRequests;
    private volatile String startFailure;

    ModelCatalog(JudgeConfig config, MeterRegistry meters) {
        this.config = config;
        this.registry = new ModelRegistry(config.allowedRoot());
        this.droppedRequests = Counter.builder("steer.judge.requests.dropped")
                .description("requests dropped unrun: deadline passed or cancelled while queued").register(meters);
        DistributionSummary sizes = DistributionSummary.builder("steer.judge.batch.size")
                .description("comparisons or ratings per forward batch").baseUnit("items").register(meters);
        this.judge = new BatchedJudge(registry, config.batching(), new MicroBatcher.Listener() {
            @Override
            public void batchRan(int requests, int size, long runNanos) {
                sizes.record(size);
            }

            @Override
            public void requestDropped() {
                droppedRequests.increment();
            }
        });
        Gauge.builder("steer.judge.queue.depth", judge, BatchedJudge::queueDepth)
                .description("requests waiting for a batch").register(meters);
    }

    void start(@Observes StartupEvent event) {
        Optional<Path> location = config.modelLocation();
        if (location.isEmpty()) {
            startFailure = "steer.judge.model-location is not set";
            LOG.warn(startFailure + "; serving nothing until LoadModel");
            return;
        }
        Thread loader = new Thread(() -> {
            try {
                var loaded = registry.loadConfigured(config.modelName(), config.modelVersion(), location.get());
                LOG.infof("judging with %s version %d from %s (%d parameters)", loaded.model().name(),
                        loaded.model().version(), loaded.model().location(), loaded.model().parameters());
            } catch (RuntimeException e) {
                startFailure = e.getMessage();
                LOG.error("cannot load the start model", e);
            }
        }, "start-model-loader");
        loader.setDaemon(true);
        loader.start();
    }

    void stop(@Observes ShutdownEvent event) {
        judge.close();
        registry.close();
    }

    JudgeConfig config() {
        return config;
    }

    ModelRegistry registry() {
        return registry;
    }

    BatchedJudge judge() {
        return judge;
    }

    JudgeTemplates templates() {
        return templates;
    }

    boolean ready() {
        return registry.find(config.modelName()).isPresent();
    }

    Optional<String> startFailure() {
        return Optional.ofNullable(startFailure);
    }
}
