package steer.judge.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.rpc.RetryInfo;
import grpc.health.v1.HealthGrpc;
import grpc.health.v1.HealthOuterClass.HealthCheckRequest;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.launch.ServiceProcess;
import steer.proto.v1.CompareBatchRequest;
import steer.proto.v1.CompareRequest;
import steer.proto.v1.JudgeGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.LoadModelRequest;
import steer.world.TinyWorldModel;

/**
 * The judge with callers configured, against the packaged service: keys, roles, each caller's own limits, and the
 * standard health and reflection services open to a stock client. The rate limits are set so low (one call or
 * three comparisons per 100 s) that a slow machine cannot refill a bucket between two calls, so no assertion
 * depends on timing.
 */
class JudgeAuthIT {

    @TempDir
    static Path dir;

    static ServiceProcess service;
    static ManagedChannel channel;
    static Path root;

    @BeforeAll
    static void start() throws Exception {
        root = dir.resolve("models");
        Path model = TinyWorldModel.write(root.resolve("judge"), 41);
        service = ServiceProcess.startUnderTest("JudgeAuthIT", Map.ofEntries(
                Map.entry("steer.judge.model-location", model.toString()),
                Map.entry("steer.judge.allowed-root", root.toString()),
                // the older flat list: callers api-key-1 and api-key-2 with compare and admin
                Map.entry("steer.judge.api-keys", "alpha-key,beta-key"),
                Map.entry("steer.judge.callers.reader.key", "reader-key"),
                Map.entry("steer.judge.callers.ops.key", "ops-key"),
                Map.entry("steer.judge.callers.ops.roles", "admin"),
                Map.entry("steer.judge.callers.slow.key", "slow-key"),
                Map.entry("steer.judge.callers.slow.requests-per-second", "0.01"),
                Map.entry("steer.judge.callers.slow.requests-burst", "1"),
                Map.entry("steer.judge.callers.batcher.key", "batcher-key"),
                Map.entry("steer.judge.callers.batcher.comparisons-per-second", "0.03"),
                Map.entry("steer.judge.callers.batcher.comparisons-burst", "3")));
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

    /** The answer every caller with compare gets for {@link #REQUEST}, from a caller with no limits. */
    private static void assertStillAnswers() {
        assertEquals(stub("Bearer alpha-key").compare(REQUEST), stub("Bearer reader-key").compare(REQUEST));
    }

    private static StatusRuntimeException assertRejected(Status.Code code, String start, Supplier<?> call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::get);
        assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().startsWith(start), e.getStatus().getDescription());
        assertStillAnswers();
        return e;
    }

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
        assertStillAnswers();
    }

    @Test
    void eachRpcNeedsItsRole() {
        LoadModelRequest load = LoadModelRequest.newBuilder().setName("other").setVersion(1)
                .setLocation(root.resolve("judge").toString()).build();
        assertRejected(Status.Code.PERMISSION_DENIED, "authorization: LoadModel needs the role 'admin'; caller 'reader' "
                + "has [compare]", () -> stub("Bearer reader-key").loadModel(load));
        assertRejected(Status.Code.PERMISSION_DENIED, "authorization: Compare needs the role 'compare'; caller 'ops' has "
                + "[admin]", () -> stub("Bearer ops-key").compare(REQUEST));
        assertEquals("other", stub("Bearer ops-key").loadModel(load).getModel().getName(), "admin may load");
        assertEquals(1, stub("Bearer alpha-key").compare(REQUEST.toBuilder().setModel("other").build()).getModelVersion(),
                "the old keys keep both roles");
    }

    @Test
    void loadModelReadsOnlyUnderTheAllowedRoot() {
        Path outside = TinyWorldModel.write(dir.resolve("elsewhere"), 42);
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub("Bearer ops-key").loadModel(
                LoadModelRequest.newBuilder().setName("stray").setVersion(1).setLocation(outside.toString()).build()));
        assertTrue(e.getStatus().getDescription().contains("outside the allowed checkpoint root"), e.getStatus().toString());
        assertStillAnswers();
    }

    @Test
    void aCallerOverItsRequestRateIsResourceExhaustedWithARetryDelayWhileOthersGoOn() throws Exception {
        assertEquals("judge", stub("Bearer slow-key").compare(REQUEST).getModel()); // the bucket's one token
        StatusRuntimeException e = assertRejected(Status.Code.RESOURCE_EXHAUSTED, "caller 'slow': over its limit of "
                + "0.01 requests/s (burst 1, steer.judge.callers.slow.requests-per-second); retry in ",
                () -> stub("Bearer slow-key").compare(REQUEST));
        RetryInfo retry = StatusProto.fromThrowable(e).getDetails(0).unpack(RetryInfo.class);
        assertTrue(retry.getRetryDelay().getSeconds() > 0 && retry.getRetryDelay().getSeconds() <= 100, retry.toString());
        // the other callers' calls were answered above (assertStillAnswers); the slow caller stays refused
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, assertThrows(StatusRuntimeException.class,
                () -> stub("Bearer slow-key").listModels(ListModelsRequest.getDefaultInstance())).getStatus().getCode());
        assertTrue(service.get("/q/metrics").contains("steer_judge_caller_rejected_total{caller=\"slow\",reason=\"requests\"}"));
    }

    @Test
    void aCallerOverItsComparisonRateIsResourceExhaustedAndABatchOverItsBurstIsInvalid() throws Exception {
        CompareBatchRequest four = CompareBatchRequest.newBuilder().addItems(REQUEST).addItems(REQUEST).addItems(REQUEST)
                .addItems(REQUEST).build();
        assertRejected(Status.Code.INVALID_ARGUMENT, "items: 4 comparisons; at most 3 in one call for caller 'batcher' "
                + "(steer.judge.callers.batcher.comparisons-burst)", () -> stub("Bearer batcher-key").compareBatch(four));
        CompareBatchRequest three = four.toBuilder().removeItems(3).build();
        assertEquals(3, stub("Bearer batcher-key").compareBatch(three).getComparisonsCount(), "the burst: 3 comparisons");
        StatusRuntimeException e = assertRejected(Status.Code.RESOURCE_EXHAUSTED, "caller 'batcher': over its limit of "
                + "0.03 comparisons/s (burst 3, ", () -> stub("Bearer batcher-key").compare(REQUEST));
        assertTrue(StatusProto.fromThrowable(e).getDetails(0).is(RetryInfo.class));
        // ListModels carries no comparisons, so the comparison rate does not hold it back
        assertTrue(stub("Bearer batcher-key").listModels(ListModelsRequest.getDefaultInstance()).getModelsCount() >= 1);
    }

    @Test
    void aStockGrpcClientGetsHealthAndReflectionWithoutAKey() throws Exception {
        // plain grpc-java stubs of the standard protos (grpc.health.v1, grpc.reflection.v1); no Steer stubs, no key
        HealthCheckResponse health = HealthGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                .check(HealthCheckRequest.getDefaultInstance());
        assertEquals(HealthCheckResponse.ServingStatus.SERVING, health.getStatus());

        CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
        StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(channel)
                .withDeadlineAfter(30, TimeUnit.SECONDS).serverReflectionInfo(new StreamObserver<>() {
                    @Override
                    public void onNext(ServerReflectionResponse value) {
                        answer.complete(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        answer.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
        requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
        List<String> services = answer.get(30, TimeUnit.SECONDS).getListServicesResponse().getServiceList().stream()
                .map(ServiceResponse::getName).toList();
        requests.onCompleted();
        assertTrue(services.contains("steer.v1.Judge"), services.toString());
        assertTrue(services.contains("grpc.health.v1.Health"), services.toString());
    }
}
