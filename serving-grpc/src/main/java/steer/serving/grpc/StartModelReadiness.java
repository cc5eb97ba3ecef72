package steer.serving.grpc;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready once the start model is served, so no request reaches a service that has nothing to run. Reads the
 * {@link ServedModels} bean the service produces.
 */
@Readiness
@ApplicationScoped
public class StartModelReadiness implements HealthCheck {

    private final ServedModels models;

    StartModelReadiness(ServedModels models) {
        this.models = models;
    }

    @Override
    public HealthCheckResponse call() {
        var response = HealthCheckResponse.named("start-model").status(models.ready())
                .withData("model", models.startModelName());
        models.startFailure().ifPresent(f -> response.withData("error", f));
        return response.build();
    }
}
