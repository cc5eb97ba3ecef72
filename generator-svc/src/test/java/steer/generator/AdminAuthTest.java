package steer.generator;

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
import steer.proto.v1.GeneratorGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.ListModelsResponse;
import steer.proto.v1.LoadModelRequest;
import steer.proto.v1.LoadModelResponse;
import steer.proto.v1.ModelInfo;

/** With steer.generator.admin-key set, LoadModel needs it and ListModels stays open. */
class AdminAuthTest {

    @Test
    void loadModelNeedsTheKeyWhenOneIsSet() throws Exception {
        AdminAuth auth = new AdminAuth();
        auth.config = (GeneratorConfig) Proxy.newProxyInstance(GeneratorConfig.class.getClassLoader(),
                new Class<?>[] {GeneratorConfig.class}, (proxy, method, args) -> {
                    if (method.getName().equals("adminKey")) {
                        return Optional.of("k3y");
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
        GeneratorGrpc.GeneratorImplBase generator = new GeneratorGrpc.GeneratorImplBase() {
            @Override
            public void loadModel(LoadModelRequest request, StreamObserver<LoadModelResponse> response) {
                response.onNext(LoadModelResponse.newBuilder().setModel(ModelInfo.newBuilder().setName("loaded")).build());
                response.onCompleted();
            }

            @Override
            public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> response) {
                response.onNext(ListModelsResponse.getDefaultInstance());
                response.onCompleted();
            }
        };
        Server server = NettyServerBuilder.forAddress(new InetSocketAddress("localhost", 0))
                .addService(ServerInterceptors.intercept(generator, auth)).build().start();
        ManagedChannel channel = NettyChannelBuilder.forAddress("localhost", server.getPort()).usePlaintext().build();
        try {
            GeneratorGrpc.GeneratorBlockingStub api = GeneratorGrpc.newBlockingStub(channel);
            StatusRuntimeException none = assertThrows(StatusRuntimeException.class,
                    () -> api.loadModel(LoadModelRequest.getDefaultInstance()));
            assertEquals(Status.Code.UNAUTHENTICATED, none.getStatus().getCode());
            assertTrue(none.getStatus().getDescription().contains("steer.generator.admin-key"));
            Metadata wrong = new Metadata();
            wrong.put(AdminAuth.AUTHORIZATION, "Bearer nope");
            assertEquals(Status.Code.PERMISSION_DENIED, assertThrows(StatusRuntimeException.class,
                    () -> api.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(wrong))
                            .loadModel(LoadModelRequest.getDefaultInstance())).getStatus().getCode());
            Metadata right = new Metadata();
            right.put(AdminAuth.AUTHORIZATION, "Bearer k3y");
            assertEquals("loaded", api.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(right))
                    .loadModel(LoadModelRequest.getDefaultInstance()).getModel().getName());
            api.listModels(ListModelsRequest.getDefaultInstance()); // open
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
