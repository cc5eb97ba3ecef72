package steer.cli.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.launch.ServiceProcess;
import steer.proto.v1.GeneratorGrpc;
import steer.proto.v1.GetRunRequest;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.ModelInfo;
import steer.proto.v1.OrchestratorGrpc;
import steer.proto.v1.Run;
import steer.proto.v1.RunConfig;
import steer.proto.v1.RunEvent;
import steer.proto.v1.RunState;
import steer.proto.v1.StartRunRequest;
import steer.proto.v1.StopRunRequest;
import steer.proto.v1.WatchRunRequest;

/**
 * Two generator replicas behind one orchestrator (its generator address lists both): every checkpoint reaches
 * both, both sample, and a replica that comes back on the SFT model is brought to the run's version before its
 * samples count.
 */
class GeneratorReplicasTest {

    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

    @TempDir
    Path work;

    private LocalStack stack;
    private ManagedChannel orchestratorChannel;

    @BeforeEach
    void start() {
        stack = LocalStack.start(new LocalStack.Options(ROOT, work, ROOT.resolve("models/world/small"), 2), line -> { });
        orchestratorChannel = NettyChannelBuilder.forTarget(stack.orchestrator().address()).usePlaintext().build();
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (orchestratorChannel != null) {
            orchestratorChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void everyReplicaServesEachCheckpointAndSharesTheSampling() throws Exception {
        String runId = "replicas";
        // 130 prompts: three Generate chunks of at most 64 per sampling pass, so both replicas get work
        RunConfig config = RunConfig.newBuilder().setRunId(runId).setAlgorithm("sso").setIterations(2).setSeed(5)
                .setPromptsPerIteration(130).setBatchSize(16).setEvalQueries(30).build();
        OrchestratorGrpc.OrchestratorBlockingStub orchestrator = OrchestratorGrpc.newBlockingStub(orchestratorChannel);
        List<ServiceProcess> generators = stack.generators();
        assertEquals(2, generators.size());

        // iteration 1 on both replicas; stop the run once version 1 is loaded everywhere
        Run stopped = follow(orchestrator, config, e -> {
            if (e.getIteration() == 0 && e.getPhase().equals("evaluating")) {
                orchestrator.stopRun(StopRunRequest.newBuilder().setRunId(runId).build());
                return true;
            }
            return false;
        });
        assertEquals(RunState.RUN_STATE_STOPPED, stopped.getState(), stopped.getError());
        assertEquals(1, stopped.getCompletedIterations());
        for (ServiceProcess g : generators) {
            assertEquals(1, policyVersion(g), g.address() + " was loaded with the first checkpoint");
            assertTrue(g.metric("steer_generator_tokens_total") > 0, g.address() + " sampled in the first iteration");
        }

        // the second replica crashes and comes back on the SFT model (version 0)
        ServiceProcess second = generators.get(1);
        stack.crashAndRestart(second);
        assertEquals(0, policyVersion(second));

        // resumed: iteration 2 must bring it to version 1 before sampling (else its samples fail the run)
        Run run = follow(orchestrator, config, null);
        assertEquals(RunState.RUN_STATE_SUCCEEDED, run.getState(), run.getError());
        assertEquals(2, run.getCompletedIterations());
        for (ServiceProcess g : generators) {
            assertEquals(2, policyVersion(g), g.address() + " serves the last checkpoint");
        }
        assertTrue(second.metric("steer_generator_tokens_total") > 0, "the restarted replica sampled in iteration 2");
    }

    private static long policyVersion(ServiceProcess generator) throws InterruptedException {
        ManagedChannel channel = NettyChannelBuilder.forTarget(generator.address()).usePlaintext().build();
        try {
            for (ModelInfo m : GeneratorGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                    .listModels(ListModelsRequest.getDefaultInstance()).getModelsList()) {
                if (m.getName().equals("policy")) {
                    return m.getVersion();
                }
            }
            throw new AssertionError(generator.address() + " serves no model named policy");
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    /** Starts (or resumes) the run and follows its events to the end; {@code hook} sees each until it says done. */
    private static Run follow(OrchestratorGrpc.OrchestratorBlockingStub orchestrator, RunConfig config,
                              java.util.function.Predicate<RunEvent> hook) {
        orchestrator.startRun(StartRunRequest.newBuilder().setConfig(config).build());
        Iterator<RunEvent> events = orchestrator.withDeadlineAfter(10, TimeUnit.MINUTES)
                .watchRun(WatchRunRequest.newBuilder().setRunId(config.getRunId()).build());
        boolean hooked = hook == null;
        while (events.hasNext()) {
            RunEvent e = events.next();
            if (!hooked) {
                hooked = hook.test(e);
            }
        }
        assertTrue(hooked, "the hook ran");
        return orchestrator.getRun(GetRunRequest.newBuilder().setRunId(config.getRunId()).build());
    }
}
