package steer.generator;

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
 * The admin credential of the generator's state-changing RPC: with {@code steer.generator.admin-key} set, LoadModel
 * (which replaces what a name serves) needs {@code authorization: Bearer <key>} (else UNAUTHENTICATED) with that key
 * (else PERMISSION_DENIED), before any work; Generate, Score, ListModels, health and reflection stay open. The same
 * header as the trainer's and the orchestrator's admin keys and judge-svc's callers.
 */
@GlobalInterceptor
@ApplicationScoped
@Priority(Integer.MAX_VALUE)
public class AdminAuth implements ServerInterceptor {

    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final String BEARER = "Bearer ";
    /** Every RPC that changes what the generator serves. */
    static final Set<String> GUARDED = Set.of("steer.v1.Generator/LoadModel");

    @Inject
    GeneratorConfig config;

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        String key = config.adminKey().map(String::trim).filter(k -> !k.isEmpty()).orElse(null);
        if (key == null || !GUARDED.contains(call.getMethodDescriptor().getFullMethodName())) {
            return next.startCall(call, headers);
        }
        String header = headers.get(AUTHORIZATION);
        String method = call.getMethodDescriptor().getBareMethodName();
        if (header == null || !header.startsWith(BEARER)) {
            return reject(call, Status.UNAUTHENTICATED, "authorization: missing; " + method
                    + " needs 'authorization: Bearer <admin key>' (steer.generator.admin-key)");
        }
        // constant time: the comparison must not tell how much of a guess was right
        if (!MessageDigest.isEqual(key.getBytes(StandardCharsets.UTF_8),
                header.substring(BEARER.length()).trim().getBytes(StandardCharsets.UTF_8))) {
            return reject(call, Status.PERMISSION_DENIED, "authorization: the key is not the generator's admin key;"
                    + " " + method + " needs it");
        }
        return next.startCall(call, headers);
    }

    private static <Q, R> ServerCall.Listener<Q> reject(ServerCall<Q, R> call, Status status, String why) {
        call.close(status.withDescription(why), new Metadata());
        return new ServerCall.Listener<>() {
        };
    }
}
