package steer.cli.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.HfConfigJson;
import steer.checkpoint.LoraCheckpoint;
import steer.proto.v1.GeneratorGrpc;
import steer.proto.v1.GetRunRequest;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.LoraSettings;
import steer.proto.v1.ModelInfo;
import steer.proto.v1.OrchestratorGrpc;
import steer.proto.v1.Run;
import steer.proto.v1.RunConfig;
import steer.proto.v1.RunEvent;
import steer.proto.v1.RunState;
import steer.proto.v1.StartRunRequest;
import steer.proto.v1.WatchRunRequest;

/**
 * An SSO run that trains a LoRA adapter, through every real part: the trainer writes each version as a PEFT
 * adapter, the generator puts it onto the base it serves (the next iteration samples from it: the orchestrator
 * refuses samples of any other version), and the orchestrator evaluates it on the SFT model.
 */
class LoraEndToEndTest {

    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

    @TempDir
    Path work;

    @Test
    void anSsoRunWithLoraSettingsTrainsServesAndEvaluatesAdapterVersions() throws Exception {
        Path base = ROOT.resolve("models/world/small");
        String runId = "e2e-lora";
        RunConfig config = RunConfig.newBuilder().setRunId(runId).setAlgorithm("sso").setIterations(2).setSeed(3)
                .setPromptsPerIteration(48).setBatchSize(6).setEvalQueries(40)
                .setLora(LoraSettings.newBuilder().setRank(4).addTargets("q").addTargets("v").addTargets("down"))
                .build();
        try (LocalStack stack = LocalStack.start(new LocalStack.Options(ROOT, work, base), line -> { })) {
            ManagedChannel orchestratorChannel = NettyChannelBuilder.forTarget(stack.orchestrator().address())
                    .usePlaintext().build();
            ManagedChannel generatorChannel = NettyChannelBuilder.forTarget(stack.generator().address())
                    .usePlaintext().build();
            try {
                OrchestratorGrpc.OrchestratorBlockingStub orchestrator = OrchestratorGrpc.newBlockingStub(
                        orchestratorChannel);
                Run started = orchestrator.startRun(StartRunRequest.newBuilder().setConfig(config).build());
                assertEquals(8, started.getConfig().getLora().getAlpha(), "defaults spelled out: alpha 8");
                Iterator<RunEvent> events = orchestrator.withDeadlineAfter(10, TimeUnit.MINUTES)
                        .watchRun(WatchRunRequest.newBuilder().setRunId(runId).build());
                while (events.hasNext()) {
                    events.next();
                }
                Run run = orchestrator.getRun(GetRunRequest.newBuilder().setRunId(runId).build());
                assertEquals(RunState.RUN_STATE_SUCCEEDED, run.getState(), run.getError());
                assertEquals(2, run.getIterationsCount());
                assertEquals(1, run.getIterations(1).getPolicyVersion(), "iteration 1 sampled from the adapter");
                for (int i = 0; i < 2; i++) {
                    Path location = stack.store().resolve(runId).resolve(String.format("v%06d", i + 1));
                    assertTrue(LoraCheckpoint.isAdapter(location), location.toString());
                    assertFalse(Files.exists(location.resolve("model.safetensors")), location.toString());
                    assertEquals(4, LoraCheckpoint.load(location, HfConfigJson.read(base.resolve("config.json")))
                            .config().rank());
                    assertTrue(run.getIterations(i).getEvalMetricsMap().containsKey("win_rate"),
                            "version " + (i + 1) + " was evaluated");
                }
                ModelInfo policy = GeneratorGrpc.newBlockingStub(generatorChannel).withDeadlineAfter(30,
                        TimeUnit.SECONDS).listModels(ListModelsRequest.getDefaultInstance()).getModelsList().stream()
                        .filter(m -> m.getName().equals("policy")).findFirst().orElseThrow();
                assertEquals(2, policy.getVersion());
                assertEquals(stack.store().resolve(runId).resolve("v000002").toAbsolutePath().normalize(),
                        Path.of(policy.getLocation()).toAbsolutePath().normalize());
                assertEquals(base.toAbsolutePath().normalize(), Path.of(policy.getBaseLocation()).toAbsolutePath()
                        .normalize(), "the adapter is served on the base the generator started with");
            } finally {
                orchestratorChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
                generatorChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }
}
