package steer.generator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import steer.launch.ServiceProcess;
import steer.proto.v1.GenerateRequest;
import steer.proto.v1.GeneratorGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.ListModelsResponse;
import steer.proto.v1.LoadModelRequest;
import steer.proto.v1.LoadModelResponse;
import steer.proto.v1.ModelInfo;
import steer.proto.v1.SamplingParams;

/**
 * A memory budget of 6 MiB over the committed world models (float32 weights: small about 0.72 MiB, medium 3.51
 * MiB, large 13.93 MiB), the small model pinned as the start model.
 */
class GeneratorMemoryBudgetIT {

    static final long BUDGET = 6L << 20;
    static final Path WORLD = Path.of(System.getProperty("steer.world.models.dir"));

    static ServiceProcess service;
    static ManagedChannel channel;

    @BeforeAll
    static void start() {
        service = ServiceProcess.startUnderTest("GeneratorMemoryBudgetIT", Map.of(
                "steer.generator.model-location", WORLD.resolve("small").toString(),
                "steer.generator.memory-budget-mb", "6"));
        channel = NettyChannelBuilder.forTarget(service.address()).usePlaintext().build();
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        service.close();
    }

    private static GeneratorGrpc.GeneratorBlockingStub stub() {
        return GeneratorGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    private static LoadModelResponse load(String name, long version, String size) {
        return stub().loadModel(LoadModelRequest.newBuilder().setName(name).setVersion(version)
                .setLocation(WORLD.resolve(size).toString()).build());
    }

    /** A Generate request naming {@code model}: it becomes the most recently used. */
    private static void use(String model) {
        assertEquals(model, stub().generate(GenerateRequest.newBuilder().setModel(model).addPrompts("query : add 1 2")
                .setSampling(SamplingParams.newBuilder().setTemperature(0).setMaxNewTokens(3)).build())
                .getSamples(0).getModel());
    }

    private static List<String> served(ListModelsResponse listed) {
        return listed.getModelsList().stream().map(ModelInfo::getName).toList();
    }

    @Test
    void loadsBeyondTheBudgetEvictTheLeastRecentlyUsedUnpinnedModelOrFailWithNothingEvicted() {
        long small = load("s1", 0, "small").getModel().getMemoryBytes();
        long medium = load("m1", 0, "medium").getModel().getMemoryBytes();
        assertEquals(0, load("s2", 0, "small").getEvictedCount());
        // policy + s1 + m1 + s2 fits; one more small model does not
        assertTrue(3 * small + medium <= BUDGET && 4 * small + medium > BUDGET, small + " and " + medium + " bytes");
        ListModelsResponse full = stub().listModels(ListModelsRequest.getDefaultInstance());
        assertEquals(BUDGET, full.getMemoryBudgetBytes());
        assertEquals(3 * small + medium, full.getMemoryUsedBytes());
        assertEquals(List.of("m1", "policy", "s1", "s2"), served(full));

        // the start model and s1 are the oldest loads; using m1 and s2 leaves s1 the least recently used unpinned
        use("m1");
        use("s2");
        LoadModelResponse s3 = load("s3", 0, "small");
        assertEquals(List.of("s1"), s3.getEvictedList().stream().map(ModelInfo::getName).toList());
        assertEquals(small, s3.getEvicted(0).getMemoryBytes());
        assertEquals(List.of("m1", "policy", "s2", "s3"), served(stub().listModels(ListModelsRequest.getDefaultInstance())));
        StatusRuntimeException gone = assertThrows(StatusRuntimeException.class, () -> use("s1"));
        assertEquals(Status.Code.NOT_FOUND, gone.getStatus().getCode());

        // too large even with every unpinned model evicted: RESOURCE_EXHAUSTED, and everything stays served
        StatusRuntimeException large = assertThrows(StatusRuntimeException.class, () -> load("big", 0, "large"));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, large.getStatus().getCode(), large.getStatus().toString());
        assertTrue(large.getStatus().getDescription().startsWith("model 'big' from " + WORLD.resolve("large")
                .toAbsolutePath().normalize() + " needs "), large.getStatus().getDescription());
        assertTrue(large.getStatus().getDescription().endsWith("nothing was evicted"), large.getStatus().getDescription());
        ListModelsResponse after = stub().listModels(ListModelsRequest.getDefaultInstance());
        assertEquals(List.of("m1", "policy", "s2", "s3"), served(after));
        assertEquals(3 * small + medium, after.getMemoryUsedBytes());

        // a new version of a served name counts the old one's size as freed: without that it would not fit
        assertTrue(3 * small + 2 * medium > BUDGET);
        LoadModelResponse m1v1 = load("m1", 1, "medium");
        assertEquals(0, m1v1.getEvictedCount());
        assertEquals(0, m1v1.getPrevious().getVersion());
        use("m1");
        ModelInfo policy = stub().listModels(ListModelsRequest.getDefaultInstance()).getModelsList().stream()
                .filter(m -> m.getName().equals("policy")).findFirst().orElseThrow();
        assertTrue(policy.getPinned());
        // policy, never used since it loaded, is the oldest of all but pinned: s2 goes
        assertEquals(List.of("s2"), load("s4", 0, "small").getEvictedList().stream().map(ModelInfo::getName).toList());
        use("policy");
    }

    @Test
    void aNegativeBudgetFailsStartupNamingTheKey() throws Exception {
        Path log = Path.of("target", "service-logs", "GeneratorMemoryBudgetIT-negative.log");
        Files.deleteIfExists(log); // the log appends across runs
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ServiceProcess.startUnderTest(
                "GeneratorMemoryBudgetIT-negative", Map.of("steer.generator.model-location", WORLD.resolve("small").toString(),
                        "steer.generator.memory-budget-mb", "-1")));
        assertTrue(e.getMessage().contains("before it was ready"), e.getMessage());
        String expected = "steer.generator.memory-budget-mb: -1 is outside 0..";
        assertTrue(Files.readString(log).contains(expected), "the log says " + expected);
    }
}
