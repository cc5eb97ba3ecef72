package steer.proto;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Optional;
import java.util.Set;

/**
 * The admin credential of a service's state-changing RPCs, shared by the trainer, the orchestrator and the
 * generator: with an admin key configured, a call to one of {@link #guarded()} must send
 * {@code authorization: Bearer <key>} (else UNAUTHENTICATED) with that key (else PERMISSION_DENIED), before any work;
 * every other RPC, health and reflection stay open. The same header as judge-svc's callers, so one client setup
 * serves all of them. Each service subclasses it as its Quarkus {@code @GlobalInterceptor}.
 */
public abstract class AdminKeyInterceptor implements ServerInterceptor {

    /** The header the key travels in. */
    public static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization",
            Metadata.ASCII_STRING_MARSHALLER);
    private static final String BEARER = "Bearer ";

    /** The configured key; empty or blank = every RPC open. */
    protected abstract Optional<String> adminKey();

    /** Full method names ({@code steer.v1.Service/Method}) that need the key. */
    protected abstract Set<String> guarded();

    /** The setting that holds the key, named in refusals ({@code steer.trainer.admin-key}). */
    protected abstract String setting();

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        String key = adminKey().map(String::trim).filter(k -> !k.isEmpty()).orElse(null);
        if (key == null || !guarded().contains(call.getMethodDescriptor().getFullMethodName())) {
            return next.startCall(call, headers);
        }
        String header = headers.get(AUTHORIZATION);
        String method = call.getMethodDescriptor().getBareMethodName();
        if (header == null || !header.startsWith(BEARER)) {
            return reject(call, Status.UNAUTHENTICATED, "authorization: missing; " + method
                    + " needs 'authorization: Bearer <admin key>' (" + setting() + ")");
        }
        // constant time: the comparison must not tell how much of a guess was right
        if (!MessageDigest.isEqual(key.getBytes(StandardCharsets.UTF_8),
                header.substring(BEARER.length()).trim().getBytes(StandardCharsets.UTF_8))) {
            return reject(call, Status.PERMISSION_DENIED, "authorization: the key is not the admin key ("
                    + setting() + "); " + method + " needs it");
        }
        return next.startCall(call, headers);
    }

    private static <Q, R> ServerCall.Listener<Q> reject(ServerCall<Q, R> call, Status status, String why) {
        call.close(status.withDescription(why), new Metadata());
        return new ServerCall.Listener<>() {
        };
    }
}
