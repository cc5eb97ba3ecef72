package steer.judge.api;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Produces;
import steer.judge.JudgeTemplates;
import steer.serving.BatchedJudge;
import steer.serving.grpc.BatchMeters;
import steer.serving.grpc.ServedModels;

/** The served judge models, the templates and the batchers, built once from {@link JudgeConfig}. */
@ApplicationScoped
public class ModelCatalog {

    private final JudgeConfig config;
    private final ServedModels models;
    private final BatchedJudge judge;
    private final JudgeTemplates templates;

    ModelCatalog(JudgeConfig config, MeterRegistry meters) {
        this.config = config;
        this.templates = JudgeTemplates.load(config.templates().orElse(java.util.List.of()));
        this.models = new ServedModels(config, "steer.judge");
        this.judge = new BatchedJudge(models.registry(), config.batching(), new BatchMeters(meters, "steer.judge")
                .listener("batch.size", "comparisons or ratings per forward batch", "items"));
        Gauge.builder("steer.judge.queue.depth", judge, BatchedJudge::queueDepth)
                .description("requests waiting for a batch").register(meters);
    }

    void start(@Observes StartupEvent event) {
        models.loadStartModel();
        logUnusableTemplates();
    }

    /** Says at start which templates the start model cannot judge with (ListTemplates reports the same). */
    private void logUnusableTemplates() {
        try (steer.serving.ModelRegistry.Lease lease = models.registry().acquire(config.modelName())) {
            for (String id : templates.ids()) {
                templates.unusable(lease.model().tokenizer(), id).ifPresent(reason -> org.jboss.logging.Logger
                        .getLogger(ModelCatalog.class).warnf("judge template '%s' is unusable with model '%s': %s", id,
                                config.modelName(), reason));
            }
        } catch (RuntimeException e) {
            org.jboss.logging.Logger.getLogger(ModelCatalog.class).debugf("no start model to check templates: %s", e.getMessage());
        }
    }

    void stop(@Observes ShutdownEvent event) {
        judge.close();
        models.close();
    }

    JudgeConfig config() {
        return config;
    }

    /** Also a bean, for the start-model readiness check. */
    @Produces
    ServedModels models() {
        return models;
    }

    BatchedJudge judge() {
        return judge;
    }

    JudgeTemplates templates() {
        return templates;
    }
}
