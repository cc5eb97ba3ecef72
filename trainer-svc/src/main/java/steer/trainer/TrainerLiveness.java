package steer.trainer;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;

/**
 * Live while the training loop's thread runs: a loop that stopped (any exception, a refused topic) turns this DOWN
 * with the reason, so Kubernetes restarts the pod and the new one resumes from the saved state, instead of a pod
 * that answers gRPC but trains nothing.
 */
@Liveness
@ApplicationScoped
public class TrainerLiveness implements HealthCheck {

    @Inject
    TrainingLoop loop;

    @Override
    public HealthCheckResponse call() {
        var r = HealthCheckResponse.named("trainer-loop").status(loop.alive());
        if (loop.failure() != null) {
            r.withData("failure", loop.failure());
        }
        return r.build();
    }
}
