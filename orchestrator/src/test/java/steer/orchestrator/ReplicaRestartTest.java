package steer.orchestrator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.api.OpenTelemetry;
import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import steer.align.SamplingSettings;
import steer.proto.v1.CompareBatchRequest;
import steer.proto.v1.CompareBatchResponse;
import steer.proto.v1.Comparison;
import steer.proto.v1.GenerateRequest;
import steer.proto.v1.GenerateResponse;
import steer.proto.v1.GeneratorGrpc;
import steer.proto.v1.JudgeGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.ListModelsResponse;
import steer.proto.v1.LoadModelRequest;
import steer.proto.v1.LoadModelResponse;
import steer.proto.v1.ModelInfo;
import steer.proto.v1.Sample;

/**
 * A generator or judge replica that restarts mid-run (unavailable for a while, then back at its configured model,
 * version 0) costs the run a retry, not the run: the chunk is asked again, on the next replica where there is one,
 * after that replica was given back the run's model. Failures a retry cannot fix still fail at once, and retries
 * end when the window has passed.
 */
class ReplicaRestartTest {

    private final List<Server> servers = new ArrayList<>();

    @AfterEach
    void stop() throws InterruptedException {
        for (Server s : servers) {
            s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static OrchestratorConfig config(String generators, String judges, Duration retryWindow) {
        return (OrchestratorConfig) Proxy.newProxyInstance(OrchestratorConfig.class.getClassLoader(),
                new Class<?>[] {OrchestratorConfig.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "generatorAddress" -> generators;
                    case "judgeAddress" -> Optional.ofNullable(judges);
                    case "judgeApiKey", "generatorAdminKey" -> Optional.empty();
                    case "policyModel" -> "policy";
                    case "loadDeadline", "generateDeadline" -> Duration.ofSeconds(30);
                    case "generateChunk" -> 64;
                    case "callRetryWindow" -> retryWindow;
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    /**
     * A generator that serves "policy" at a version, answers each prompt with "text:PROMPT:SEED" and can be made to
     * fail its next calls, or to restart (forget the loaded version).
     */
    static final class FakeGenerator extends GeneratorGrpc.GeneratorImplBase {
        final AtomicInteger failNext = new AtomicInteger();
        final List<String> calls = new CopyOnWriteArrayList<>();
        volatile long version;
        volatile Status failure = Status.UNAVAILABLE.withDescription("connection refused");

        @Override
        public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> response) {
            calls.add("ListModels");
            response.onNext(ListModelsResponse.newBuilder().addModels(ModelInfo.newBuilder().setName("policy")
                    .setVersion(version)).build());
            response.onCompleted();
        }

        @Override
        public void loadModel(LoadModelRequest request, StreamObserver<LoadModelResponse> response) {
            calls.add("LoadModel " + request.getVersion() + " " + request.getLocation());
            version = request.getVersion();
            response.onNext(LoadModelResponse.newBuilder().setModel(ModelInfo.newBuilder().setName("policy")
                    .setVersion(version)).build());
            response.onCompleted();
        }

        @Override
        public void generate(GenerateRequest request, StreamObserver<GenerateResponse> response) {
            calls.add("Generate");
            if (failNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                response.onError(failure.asRuntimeException());
                return;
            }
            GenerateResponse.Builder out = GenerateResponse.newBuilder();
            for (int i = 0; i < request.getPromptsCount(); i++) {
                for (int k = 0; k < request.getN(); k++) {
                    out.addSamples(Sample.newBuilder().setModel("policy").setModelVersion(version).setPromptIndex(i)
                            .setSampleIndex(k).setText(request.getPrompts(i) + ":" + request.getSampling().getSeed()
                                    + ":" + k));
                }
            }
            response.onNext(out.build());
            response.onCompleted();
        }
    }

    private String serve(io.grpc.BindableService service) throws Exception {
        Server s = NettyServerBuilder.forAddress(new InetSocketAddress("localhost", 0)).addService(service).build()
                .start();
        servers.add(s);
        return "localhost:" + s.getPort();
    }

    private static List<List<String>> sample(PolicyClient client, List<String> prompts) {
        return PolicyClient.texts(client.sample(prompts, 2, SamplingSettings.defaults(), chunk -> 100 + chunk, 1,
                done -> { }, () -> false));
    }

    @Test
    void aGeneratorThatRestartedIsGivenTheRunsVersionBackAndTheChunkIsSampledAgainWithItsSeed() throws Exception {
        FakeGenerator g = new FakeGenerator();
        String address = serve(g);
        try (PolicyClient client = new PolicyClient(config(address, null, Duration.ofSeconds(20)),
                OpenTelemetry.noop())) {
            client.ensurePolicy(1, "/store/run/v000001");
            assertEquals(1, g.version);
            // the replica is down for two calls, then back at version 0 as a restarted one is
            g.failNext.set(2);
            g.version = 0;
            g.calls.clear();
            List<List<String>> texts = sample(client, List.of("a", "b"));
            assertEquals(List.of(List.of("a:100:0", "a:100:1"), List.of("b:100:0", "b:100:1")), texts,
                    "the same seed as the first attempt");
            assertEquals(1, g.version, "version 1 loaded back before the chunk was sampled again");
            assertEquals(List.of("Generate", "ListModels", "LoadModel 1 /store/run/v000001", "Generate",
                    "ListModels", "Generate"), g.calls);
        }
    }

    @Test
    void aChunkWhoseReplicaIsDownMovesToTheNextReplica() throws Exception {
        FakeGenerator down = new FakeGenerator();
        FakeGenerator up = new FakeGenerator();
        String addresses = serve(down) + "," + serve(up);
        try (PolicyClient client = new PolicyClient(config(addresses, null, Duration.ofSeconds(20)),
                OpenTelemetry.noop())) {
            client.ensurePolicy(1, "/store/run/v000001");
            down.failNext.set(1000);
            // 64 sequences per chunk, n = 2: 32 prompts a chunk; 40 prompts = chunk 0 (replica 0), chunk 1 (replica 1)
            List<String> prompts = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                prompts.add("p" + i);
            }
            List<List<String>> texts = sample(client, prompts);
            assertEquals(40, texts.size());
            assertEquals(List.of("p0:100:0", "p0:100:1"), texts.get(0), "chunk 0 sampled on replica 1, seed 100");
            assertEquals(List.of("p39:101:0", "p39:101:1"), texts.get(39));
            assertEquals(2, up.calls.stream().filter(c -> c.equals("Generate")).count());
        }
    }

    @Test
    void aFailureARetryCannotFixFailsAtOnceAndRetriesEndWithTheWindow() throws Exception {
        FakeGenerator g = new FakeGenerator();
        String address = serve(g);
        try (PolicyClient client = new PolicyClient(config(address, null, Duration.ofSeconds(2)),
                OpenTelemetry.noop())) {
            client.ensurePolicy(1, "/store/run/v000001");
            g.failure = Status.INVALID_ARGUMENT.withDescription("prompt too long");
            g.failNext.set(1);
            g.calls.clear();
            RunFailure bad = assertThrows(RunFailure.class, () -> sample(client, List.of("a")));
            assertTrue(bad.getMessage().contains("INVALID_ARGUMENT"), bad.getMessage());
            assertEquals(List.of("Generate"), g.calls, "not retried");

            g.failure = Status.UNAVAILABLE;
            g.failNext.set(1000);
            long start = System.nanoTime();
            RunFailure gone = assertThrows(RunFailure.class, () -> sample(client, List.of("a")));
            double seconds = (System.nanoTime() - start) / 1e9;
            assertTrue(gone.getMessage().contains("UNAVAILABLE"), gone.getMessage());
            assertTrue(seconds < 10, "gave up after the 2 s window, took " + seconds + " s");
            assertTrue(g.calls.stream().filter(c -> c.equals("Generate")).count() >= 3, "retried: " + g.calls);
        }
    }

    @Test
    void aJudgeThatRestartedWithoutThePolicyFollowingModelIsGivenItBack() throws Exception {
        List<String> calls = new CopyOnWriteArrayList<>();
        AtomicInteger loadedVersion = new AtomicInteger(-1);
        JudgeGrpc.JudgeImplBase judge = new JudgeGrpc.JudgeImplBase() {
            @Override
            public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> response) {
                ListModelsResponse.Builder b = ListModelsResponse.newBuilder()
                        .addModels(ModelInfo.newBuilder().setName("sft").setLocation("/base"));
                if (loadedVersion.get() >= 0) {
                    b.addModels(ModelInfo.newBuilder().setName("judge@run").setVersion(loadedVersion.get())
                            .setLocation("/store/run/v000002"));
                }
                response.onNext(b.build());
                response.onCompleted();
            }

            @Override
            public void loadModel(LoadModelRequest request, StreamObserver<LoadModelResponse> response) {
                calls.add("LoadModel " + request.getName() + " " + request.getVersion());
                loadedVersion.set((int) request.getVersion());
                response.onNext(LoadModelResponse.newBuilder().setModel(ModelInfo.newBuilder()
                        .setName(request.getName()).setVersion(request.getVersion())).build());
                response.onCompleted();
            }

            @Override
            public void compareBatch(CompareBatchRequest request, StreamObserver<CompareBatchResponse> response) {
                calls.add("CompareBatch");
                if (loadedVersion.get() < 0) {
                    response.onError(Status.NOT_FOUND.withDescription("no model 'judge@run'").asRuntimeException());
                    return;
                }
                CompareBatchResponse.Builder b = CompareBatchResponse.newBuilder();
                request.getItemsList().forEach(i -> b.addComparisons(Comparison.newBuilder().setModel("judge@run")
                        .setModelVersion(loadedVersion.get()).setPABetter(0.75)));
                response.onNext(b.build());
                response.onCompleted();
            }
        };
        String address = serve(judge);
        try (JudgeClient client = new JudgeClient(config("localhost:1", address, Duration.ofSeconds(20)),
                OpenTelemetry.noop())) {
            client.ensure("judge@run", 2, "/store/run/v000002", false);
            loadedVersion.set(-1); // restarted: only its configured model
            calls.clear();
            List<Double> p = client.compare("judge@run", 2, List.of("q"), List.of("a"), List.of("b"));
            assertEquals(List.of(0.75), p);
            assertEquals(List.of("CompareBatch", "LoadModel judge@run 2", "CompareBatch"), calls);
        }
    }
}
