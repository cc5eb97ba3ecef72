package steer.orchestrator;

import io.grpc.Metadata;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Optional;
import java.util.Set;
import steer.proto.AdminKeyInterceptor;

/** This service's admin credential ({@link AdminKeyInterceptor}): with {@code steer.orchestrator.admin-key} set, StartRun and StopRun need it; GetRun and WatchRun stay open. */
@GlobalInterceptor
@ApplicationScoped
@Priority(Integer.MAX_VALUE)
public class AdminAuth extends AdminKeyInterceptor {

    static final Metadata.Key<String> AUTHORIZATION = AdminKeyInterceptor.AUTHORIZATION;
    static final Set<String> GUARDED = Set.of("steer.v1.Orchestrator/StartRun", "steer.v1.Orchestrator/StopRun");

    @Inject
    OrchestratorConfig config;

    @Override
    protected Optional<String> adminKey() {
        return config.adminKey();
    }

    @Override
    protected Set<String> guarded() {
        return GUARDED;
    }

    @Override
    protected String setting() {
        return "steer.orchestrator.admin-key";
    }
}
