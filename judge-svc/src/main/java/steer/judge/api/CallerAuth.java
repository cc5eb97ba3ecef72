package steer.judge.api;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Set;

/**
 * Who is calling, and may they: when callers are configured, every Judge call must send
 * {@code authorization: Bearer <key>} with a caller's key (else UNAUTHENTICATED) and that caller must hold the role
 * the RPC needs (else PERMISSION_DENIED naming it; see {@link Role}), all before any work. The caller then rides in
 * the call's gRPC Context ({@link Callers#CALLER}) for the logs and metrics, and its limits ({@link CallerLimits})
 * are applied here, inside that context. The standard health and
 * reflection services need no key, so load balancers, Kubernetes' gRPC probes and grpcurl work as they are. Runs
 * before every other interceptor (highest priority).
 */
@GlobalInterceptor
@ApplicationScoped
@Priority(Integer.MAX_VALUE)
public class CallerAuth implements ServerInterceptor {

    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final String BEARER = "Bearer ";
    /** Services any client may call: they tell only whether the service is up and what it serves. */
    static final Set<String> OPEN_SERVICES = Set.of("grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection");

    private final Callers callers;
    private final MeterRegistry meters;
    private final CallerLimits limits;

    CallerAuth(Callers callers, MeterRegistry meters, CallerLimits limits) {
        this.callers = callers;
        this.meters = meters;
        this.limits = limits;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        if (callers.open() || OPEN_SERVICES.contains(call.getMethodDescriptor().getServiceName())) {
            return next.startCall(call, headers);
        }
        String header = headers.get(AUTHORIZATION);
        if (header == null || !header.startsWith(BEARER)) {
            return reject(call, "unknown", "unauthenticated", Status.UNAUTHENTICATED,
                    "authorization: missing; send 'authorization: Bearer <api key>'");
        }
        Caller caller = callers.authenticate(header.substring(BEARER.length()));
        if (caller == null) {
            return reject(call, "unknown", "unauthenticated", Status.UNAUTHENTICATED,
                    "authorization: the API key is not accepted");
        }
        Role needed = Role.requiredFor(call.getMethodDescriptor().getFullMethodName());
        if (!caller.roles().contains(needed)) {
            return reject(call, caller.name(), "permission", Status.PERMISSION_DENIED, "authorization: "
                    + call.getMethodDescriptor().getBareMethodName() + " needs the role '" + needed.id() + "'; caller '"
                    + caller.name() + "' has " + caller.roles().stream().map(Role::id).sorted().toList());
        }
        // the caller's limits apply inside its context, in this interceptor rather than a second global one, whose
        // order relative to this one Quarkus does not guarantee
        return Contexts.interceptCall(Context.current().withValue(Callers.CALLER, caller), call, headers,
                (c, h) -> limits.limit(c, h, next));
    }

    private <Q, R> ServerCall.Listener<Q> reject(ServerCall<Q, R> call, String caller, String reason, Status status,
                                                 String why) {
        rejected(meters, caller, reason).increment();
        call.close(status.withDescription(why), new Metadata());
        return new ServerCall.Listener<>() {
        };
    }

    /** Calls refused before any work, by caller ({@code unknown} before authentication) and reason. */
    static Counter rejected(MeterRegistry meters, String caller, String reason) {
        return Counter.builder("steer.judge.caller.rejected").description("calls refused before any work")
                .tag("caller", caller).tag("reason", reason).register(meters);
    }
}
