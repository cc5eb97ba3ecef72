package steer.trainer;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Set;

/**
 * The admin credential of the trainer's state-changing RPCs: with {@code steer.trainer.admin-key} set, a call to one
 * of {@link #GUARDED} must send {@code authorization: Bearer <key>} (else UNAUTHENTICATED) with that key (else
 * PERMISSION_DENIED), before any work; read-only ones (Status) and the standard health and reflection services stay
 * open. The same header as judge-svc's callers ({@code CallerAuth} there), so one client setup serves both.
 */
@GlobalInterceptor
@ApplicationScoped
@Priority(Integer.MAX_VALUE)
public class AdminAuth implements ServerInterceptor {

    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final String BEARER = "Bearer ";
    /** Every RPC that changes what the trainer holds or writes. */
    static final Set<String> GUARDED = Set.of("steer.v1.Trainer/RequestCheckpoint");

    @Inject
    TrainerConfig config;

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        String key = config.adminKey().filter(k -> !k.isEmpty()).orElse(null);
        if (key == null || !GUARDED.contains(call.getMethodDescriptor().getFullMethodName())) {
            return next.startCall(call, headers);
        }
        String header = headers.get(AUTHORIZATION);
        if (header == null || !header.startsWith(BEARER)) {
            return reject(call, Status.UNAUTHENTICATED, "authorization: missing; "
                    + call.getMethodDescriptor().getBareMethodName() + " needs 'authorization: Bearer <admin key>'"
                    + " (steer.trainer.admin-key)");
        }
        // constant time: the comparison must not tell how much of a guess was right
        if (!MessageDigest.isEqual(key.getBytes(StandardCharsets.UTF_8),
                header.substring(BEARER.length()).getBytes(StandardCharsets.UTF_8))) {
            return reject(call, Status.PERMISSION_DENIED, "authorization: the key is not the trainer's admin key; "
                    + call.getMethodDescriptor().getBareMethodName() + " needs it");
        }
        return next.startCall(call, headers);
    }

    private static <Q, R> ServerCall.Listener<Q> reject(ServerCall<Q, R> call, Status status, String why) {
        call.close(status.withDescription(why), new Metadata());
        return new ServerCall.Listener<>() {
        };
    }
}
