package steer.trainer;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready once the trainer state is read and the consumer has its partitions; down for good if the loop stopped. */
@Readiness
@ApplicationScoped
public class TrainerReadiness implements HealthCheck {

    @Inject
    TrainingLoop loop;

    @Override
    public HealthCheckResponse call() {
        var r = HealthCheckResponse.named("trainer").status(loop.ready());
        if (loop.failure() != null) {
            r.withData("failure", loop.failure());
        }
        var s = loop.status();
        if (s != null) {
            r.withData("step", s.step()).withData("checkpoint_version", s.checkpointVersion());
        }
        return r.build();
    }
}
