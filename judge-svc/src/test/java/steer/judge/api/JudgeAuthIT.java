package steer.judge.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.launch.ServiceProcess;
import steer.proto.v1.CompareRequest;
import steer.proto.v1.JudgeGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.world.TinyWorldModel;

/** The judge with API keys configured: only callers that send one of them get an answer. */
class JudgeAuthIT {

    @TempDir
    static Path dir;

    static ServiceProcess service;
    static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        Path model = TinyWorldModel.write(dir.resolve("judge"), 41);
        service = ServiceProcess.startUnderTest("JudgeAuthIT", Map.of("steer.judge.model-location", model.toString(),
                "steer.judge.api-keys", "alpha-key,beta-key"));
        channel = NettyChannelBuilder.forTarget(service.address()).usePlaintext().build();
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        service.close();
    }

    private static JudgeGrpc.JudgeBlockingStub stub(String authorization) {
        JudgeGrpc.JudgeBlockingStub s = JudgeGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
        if (authorization == null) {
            return s;
        }
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), authorization);
        return s.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    private static final CompareRequest REQUEST = CompareRequest.newBuilder().setPrompt("add 1 2").setResponseA("answer : 3 .")
            .setResponseB("answer : 4 .").build();

    @Test
    void callsWithoutAnAcceptedKeyAreUnauthenticated() throws Exception {
        for (String bad : new String[] {null, "Bearer gamma-key", "alpha-key", "Bearer alpha-ke", "Basic alpha-key"}) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub(bad).compare(REQUEST));
            assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode(), bad);
            assertTrue(e.getStatus().getDescription().startsWith("authorization: "), e.getStatus().getDescription());
            assertThrows(StatusRuntimeException.class, () -> stub(bad).listModels(ListModelsRequest.getDefaultInstance()));
        }
        assertEquals("judge", stub("Bearer alpha-key").compare(REQUEST).getModel());
        assertEquals(1, stub("Bearer beta-key").listModels(ListModelsRequest.getDefaultInstance()).getModelsCount());
        assertTrue(service.get("/q/health/ready").startsWith("200 "), "health stays open for the orchestrator's probes");
    }
}
