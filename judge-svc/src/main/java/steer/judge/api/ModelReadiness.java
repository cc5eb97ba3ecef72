package steer.judge.api;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready once the start model is served, so no request reaches a generator that has nothing to sample from. */
@Readiness
@ApplicationScoped
public class ModelReadiness implements HealthCheck {

    private final ModelCatalog catalog;

    ModelReadiness(ModelCatalog catalog) {
        this.catalog = catalog;
    }

    @Override
    public HealthCheckResponse call() {
        var response = HealthCheckResponse.named("start-model").status(catalog.ready())
                .withData("model", catalog.config().modelName());
        catalog.startFailure().ifPresent(f -> response.withData("error", f));
        return response.build();
    }
}
