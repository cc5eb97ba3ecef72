package steer.orchestrator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.api.OpenTelemetry;
import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import steer.proto.v1.JudgeGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.ListModelsResponse;
import steer.proto.v1.ModelInfo;

/** The orchestrator sends {@code steer.orchestrator.judge-api-key} to the judge, and nothing when it is absent. */
class JudgeClientTest {

    /** The settings JudgeClient reads; every other method of the mapping is unused here. */
    private static OrchestratorConfig config(int port, Optional<String> key) {
        return (OrchestratorConfig) Proxy.newProxyInstance(OrchestratorConfig.class.getClassLoader(),
                new Class<?>[] {OrchestratorConfig.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "judgeAddress" -> Optional.of("localhost:" + port);
                    case "judgeApiKey" -> key;
                    case "loadDeadline" -> Duration.ofSeconds(30);
                    case "callRetryWindow" -> Duration.ZERO;
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    @Test
    void theJudgeKeyIsSentAsABearerTokenOnEveryCall() throws Exception {
        List<String> seen = new ArrayList<>();
        Metadata.Key<String> authorization = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
        ServerInterceptor record = new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                                ServerCallHandler<Q, R> next) {
                synchronized (seen) {
                    seen.add(String.valueOf(headers.get(authorization)));
                }
                return next.startCall(call, headers);
            }
        };
        JudgeGrpc.JudgeImplBase judge = new JudgeGrpc.JudgeImplBase() {
            @Override
            public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> response) {
                response.onNext(ListModelsResponse.newBuilder().addModels(ModelInfo.newBuilder().setName("sft")).build());
                response.onCompleted();
            }
        };
        Server server = NettyServerBuilder.forAddress(new InetSocketAddress("localhost", 0))
                .addService(ServerInterceptors.intercept(judge, record)).build().start();
        try {
            try (JudgeClient client = new JudgeClient(config(server.getPort(), Optional.of(" judge-key ")), OpenTelemetry.noop())) {
                assertEquals(List.of("sft"), client.servedNames());
            }
            try (JudgeClient client = new JudgeClient(config(server.getPort(), Optional.empty()), OpenTelemetry.noop())) {
                assertEquals(List.of("sft"), client.servedNames());
            }
            assertEquals(List.of("Bearer judge-key", "null"), seen);
        } finally {
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
