package steer.cli.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.kafka.KafkaContainer;
import steer.proto.RecordSizes;
import steer.proto.v1.GetRunRequest;
import steer.proto.v1.OrchestratorGrpc;
import steer.proto.v1.Run;
import steer.proto.v1.RunConfig;
import steer.proto.v1.RunEvent;
import steer.proto.v1.RunState;
import steer.proto.v1.StartRunRequest;
import steer.proto.v1.TrainerGrpc;
import steer.proto.v1.TrainerStatusRequest;
import steer.proto.v1.WatchRunRequest;

/**
 * One end-to-end SSO run with the services against the official Kafka broker image in KRaft mode (system property
 * {@code steer.kafka.image}), started by Testcontainers, instead of the embedded broker: a user's CI with a Docker
 * engine runs the whole path against the broker they deploy. Skipped where no Docker engine exists (as here);
 * {@link EndToEndTest} runs the same path on the embedded broker everywhere.
 */
@Testcontainers(disabledWithoutDocker = true)
class EndToEndOnBrokerImageTest {

    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

    @TempDir
    Path work;

    @Test
    void anSsoRunTrainsEveryBatchThroughTheBrokerImage() throws Exception {
        try (KafkaContainer kafka = new KafkaContainer(System.getProperty("steer.kafka.image", "apache/kafka:4.1.1"))
                // the limit the services expect of the broker's topics (steer.proto.RecordSizes), checked at start
                .withEnv("KAFKA_MESSAGE_MAX_BYTES", Integer.toString(RecordSizes.DEFAULT_MAX_MESSAGE_BYTES))) {
            kafka.start();
            try (LocalStack stack = LocalStack.start(new LocalStack.Options(ROOT, work,
                    ROOT.resolve("models/world/small")), line -> { }, kafka.getBootstrapServers())) {
                ManagedChannel orchestratorChannel = NettyChannelBuilder.forTarget(stack.orchestrator().address())
                        .usePlaintext().build();
                ManagedChannel trainerChannel = NettyChannelBuilder.forTarget(stack.trainer().address())
                        .usePlaintext().build();
                try {
                    OrchestratorGrpc.OrchestratorBlockingStub orchestrator =
                            OrchestratorGrpc.newBlockingStub(orchestratorChannel);
                    RunConfig config = RunConfig.newBuilder().setRunId("e2e-broker-image").setAlgorithm("sso")
                            .setIterations(2).setSeed(3).setPromptsPerIteration(48).setBatchSize(6)
                            .setEvalQueries(40).build();
                    orchestrator.startRun(StartRunRequest.newBuilder().setConfig(config).build());
                    Iterator<RunEvent> events = orchestrator.watchRun(WatchRunRequest.newBuilder()
                            .setRunId(config.getRunId()).build());
                    while (events.hasNext()) {
                        events.next();
                    }
                    Run run = orchestrator.getRun(GetRunRequest.newBuilder().setRunId(config.getRunId()).build());
                    assertEquals(RunState.RUN_STATE_SUCCEEDED, run.getState(), run.getError());
                    assertEquals(2, run.getIterationsCount());
                    int batches = run.getIterations(0).getBatches() + run.getIterations(1).getBatches();
                    assertEquals(batches, TrainerGrpc.newBlockingStub(trainerChannel)
                            .status(TrainerStatusRequest.getDefaultInstance()).getBatchesTrained(),
                            "every batch trained once");
                } finally {
                    orchestratorChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
                    trainerChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
                }
            }
        }
    }
}
