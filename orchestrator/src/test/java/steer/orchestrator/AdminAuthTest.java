package steer.orchestrator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import steer.proto.v1.GetRunRequest;
import steer.proto.v1.OrchestratorGrpc;
import steer.proto.v1.Run;
import steer.proto.v1.StartRunRequest;
import steer.proto.v1.StopRunRequest;

/** With an admin key set, StartRun and StopRun need it; GetRun stays open; without one, everything is open. */
class AdminAuthTest {

    private static AdminAuth auth(Optional<String> key) {
        AdminAuth a = new AdminAuth();
        a.config = (OrchestratorConfig) Proxy.newProxyInstance(OrchestratorConfig.class.getClassLoader(),
                new Class<?>[] {OrchestratorConfig.class}, (proxy, method, args) -> {
                    if (method.getName().equals("adminKey")) {
                        return key;
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
        return a;
    }

    private static final OrchestratorGrpc.OrchestratorImplBase RUNS = new OrchestratorGrpc.OrchestratorImplBase() {
        @Override
        public void startRun(StartRunRequest request, StreamObserver<Run> response) {
            response.onNext(Run.newBuilder().setRunId("started").build());
            response.onCompleted();
        }

        @Override
        public void stopRun(StopRunRequest request, StreamObserver<Run> response) {
            response.onNext(Run.newBuilder().setRunId("stopped").build());
            response.onCompleted();
        }

        @Override
        public void getRun(GetRunRequest request, StreamObserver<Run> response) {
            response.onNext(Run.newBuilder().setRunId("got").build());
            response.onCompleted();
        }
    };

    private static OrchestratorGrpc.OrchestratorBlockingStub withKey(OrchestratorGrpc.OrchestratorBlockingStub stub,
                                                                     String value) {
        Metadata m = new Metadata();
        m.put(AdminAuth.AUTHORIZATION, value);
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
    }

    @Test
    void stateChangingCallsNeedTheKeyWhenOneIsSet() throws Exception {
        Server server = NettyServerBuilder.forAddress(new InetSocketAddress("localhost", 0))
                .addService(ServerInterceptors.intercept(RUNS, auth(Optional.of("s3cret")))).build().start();
        ManagedChannel channel = NettyChannelBuilder.forAddress("localhost", server.getPort()).usePlaintext().build();
        try {
            OrchestratorGrpc.OrchestratorBlockingStub api = OrchestratorGrpc.newBlockingStub(channel);
            StatusRuntimeException none = assertThrows(StatusRuntimeException.class,
                    () -> api.startRun(StartRunRequest.getDefaultInstance()));
            assertEquals(Status.Code.UNAUTHENTICATED, none.getStatus().getCode());
            assertTrue(none.getStatus().getDescription().contains("steer.orchestrator.admin-key"));
            StatusRuntimeException wrong = assertThrows(StatusRuntimeException.class,
                    () -> withKey(api, "Bearer guess").stopRun(StopRunRequest.getDefaultInstance()));
            assertEquals(Status.Code.PERMISSION_DENIED, wrong.getStatus().getCode());
            assertEquals("started", withKey(api, "Bearer s3cret").startRun(StartRunRequest.getDefaultInstance())
                    .getRunId());
            assertEquals("stopped", withKey(api, "Bearer s3cret").stopRun(StopRunRequest.getDefaultInstance())
                    .getRunId());
            assertEquals("got", api.getRun(GetRunRequest.getDefaultInstance()).getRunId(), "reading stays open");
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void withoutAKeyEverythingIsOpen() throws Exception {
        Server server = NettyServerBuilder.forAddress(new InetSocketAddress("localhost", 0))
                .addService(ServerInterceptors.intercept(RUNS, auth(Optional.empty()))).build().start();
        ManagedChannel channel = NettyChannelBuilder.forAddress("localhost", server.getPort()).usePlaintext().build();
        try {
            assertEquals("started", OrchestratorGrpc.newBlockingStub(channel)
                    .startRun(StartRunRequest.getDefaultInstance()).getRunId());
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
