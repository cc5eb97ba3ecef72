package steer.generator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import steer.launch.ServiceProcess;
import steer.model.LanguageModel;
import steer.model.Placement;
import steer.model.SamplingParams;
import steer.model.TextCompletion;
import steer.proto.v1.GenerateRequest;
import steer.proto.v1.GenerateResponse;
import steer.proto.v1.GeneratorGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.ModelInfo;

/** The device and precision settings of generator-svc: half precision served, a GPU it cannot see refused. */
class GeneratorPlacementIT {

    static final Path SMALL = Path.of(System.getProperty("steer.world.models.dir")).resolve("small");
    static final List<String> PROMPTS = List.of("query : add 3 4", "query : sort 5 2 9");

    @Test
    void float16WeightsTakeHalfTheMemoryAndGenerateWhatTheLibraryDoesInFloat16() throws Exception {
        List<TextCompletion> expected;
        long parameters;
        try (LanguageModel m = LanguageModel.load(SMALL, new Placement(Device.cpu(), Placement.Precision.F16))) {
            expected = m.complete(PROMPTS, SamplingParams.greedy(8), List.of());
            parameters = m.parameterCount();
        }
        try (ServiceProcess service = ServiceProcess.startUnderTest("GeneratorPlacementIT-f16", Map.of(
                "steer.generator.model-location", SMALL.toString(), "steer.generator.precision", "f16"))) {
            ManagedChannel channel = NettyChannelBuilder.forTarget(service.address()).usePlaintext().build();
            try {
                GeneratorGrpc.GeneratorBlockingStub stub = GeneratorGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(60, TimeUnit.SECONDS);
                ModelInfo served = stub.listModels(ListModelsRequest.getDefaultInstance()).getModels(0);
                assertEquals(parameters, served.getParameters());
                assertEquals(2 * parameters, served.getMemoryBytes(), "float16 weights: two bytes a parameter");
                GenerateResponse r = stub.generate(GenerateRequest.newBuilder().addAllPrompts(PROMPTS)
                        .setSampling(steer.proto.v1.SamplingParams.newBuilder().setTemperature(0).setMaxNewTokens(8))
                        .build());
                for (int i = 0; i < PROMPTS.size(); i++) {
                    assertEquals(Arrays.stream(expected.get(i).tokenIds()).boxed().toList(),
                            r.getSamples(i).getTokenIdsList(), "prompt " + i);
                }
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void aGpuTheEngineDoesNotSeeFailsStartupNamingTheSetting() {
        assumeTrue(Engine.getInstance().getGpuCount() == 0, "this machine has a GPU");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ServiceProcess.startUnderTest(
                "GeneratorPlacementIT-gpu", Map.of("steer.generator.model-location", SMALL.toString(),
                        "steer.generator.device", "gpu")).close());
        assertTrue(e.getMessage().contains("steer.generator.device") && e.getMessage().contains("no CUDA device"),
                e.getMessage());
    }
}
