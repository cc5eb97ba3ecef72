package steer.judge.api;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;

/**
 * Caller authentication for the public Judge API: when {@code steer.judge.api-keys} is set, every call must send
 * {@code authorization: Bearer <key>} with one of the keys, or it ends UNAUTHENTICATED before any work. Runs
 * before every other interceptor (highest priority).
 */
@GlobalInterceptor
@ApplicationScoped
@Priority(Integer.MAX_VALUE)
public class ApiKeys implements ServerInterceptor {

    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final String BEARER = "Bearer ";

    private final List<byte[]> keys;

    ApiKeys(JudgeConfig config) {
        this.keys = config.apiKeys().orElse(List.of()).stream().filter(k -> !k.isBlank())
                .map(k -> k.getBytes(StandardCharsets.UTF_8)).toList();
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        if (keys.isEmpty()) {
            return next.startCall(call, headers);
        }
        String header = headers.get(AUTHORIZATION);
        if (header == null || !header.startsWith(BEARER)) {
            return reject(call, "authorization: missing; send 'authorization: Bearer <api key>'");
        }
        byte[] given = header.substring(BEARER.length()).trim().getBytes(StandardCharsets.UTF_8);
        for (byte[] key : keys) {
            // constant-time comparison, so response timing does not reveal how much of a key matched
            if (MessageDigest.isEqual(key, given)) {
                return next.startCall(call, headers);
            }
        }
        return reject(call, "authorization: the API key is not accepted");
    }

    private static <Q, R> ServerCall.Listener<Q> reject(ServerCall<Q, R> call, String why) {
        call.close(Status.UNAUTHENTICATED.withDescription(why), new Metadata());
        return new ServerCall.Listener<>() {
        };
    }
}
