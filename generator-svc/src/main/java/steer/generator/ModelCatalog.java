package steer.generator;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Produces;
import steer.serving.BatchedGenerator;
import steer.serving.BatchedScorer;
import steer.serving.grpc.BatchMeters;
import steer.serving.grpc.ServedModels;

/** The served models and the batchers in front of them, built once from {@link GeneratorConfig}. */
@ApplicationScoped
public class ModelCatalog {

    private final GeneratorConfig config;
    private final ServedModels models;
    private final BatchedGenerator generator;
    private final BatchedScorer scorer;

    ModelCatalog(GeneratorConfig config, MeterRegistry meters) {
        this.config = config;
        this.models = new ServedModels(config, "steer.generator");
        BatchMeters batches = new BatchMeters(meters, "steer.generator");
        this.generator = new BatchedGenerator(models.registry(), config.batching(), config.scheduler(),
                config.resolvedDecodeThreads(), config.deviceSampling(), batches.listener("batch.size", "sequences per generation batch", "sequences"));
        this.scorer = new BatchedScorer(models.registry(), config.batching(),
                batches.listener("score.batch.size", "pairs per scoring batch", "pairs"));
        Gauge.builder("steer.generator.queue.depth", this, c -> c.generator.queueDepth() + c.scorer.queueDepth())
                .description("requests waiting for a batch").register(meters);
    }

    void start(@Observes StartupEvent event) {
        models.loadStartModel();
    }

    void stop(@Observes ShutdownEvent event) {
        generator.close();
        scorer.close();
        models.close();
    }

    GeneratorConfig config() {
        return config;
    }

    /** Also a bean, for the start-model readiness check. */
    @Produces
    ServedModels models() {
        return models;
    }

    BatchedGenerator generator() {
        return generator;
    }

    BatchedScorer scorer() {
        return scorer;
    }
}
