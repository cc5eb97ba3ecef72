package steer.judge.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.launch.ServiceProcess;
import steer.proto.v1.CompareBatchRequest;
import steer.proto.v1.CompareBatchResponse;
import steer.proto.v1.CompareRequest;
import steer.proto.v1.JudgeGrpc;
import steer.world.TinyWorldModel;

/** Back-pressure and deadlines: one comparison per forward pass and one waiting request. */
class JudgeLimitsIT {

    @TempDir
    static Path dir;

    static ServiceProcess service;
    static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        Path model = TinyWorldModel.write(dir.resolve("judge"), 51);
        service = ServiceProcess.startUnderTest("JudgeLimitsIT", Map.of("steer.judge.model-location", model.toString(),
                "steer.judge.max-batch-size", "1", "steer.judge.queue-capacity", "1"));
        channel = NettyChannelBuilder.forTarget(service.address()).usePlaintext().build();
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        service.close();
    }

    private static CompareBatchRequest big() {
        CompareBatchRequest.Builder b = CompareBatchRequest.newBuilder();
        for (int i = 0; i < 256; i++) {
            b.addItems(CompareRequest.newBuilder().setPrompt("add " + i % 10 + " " + i / 10 + " 1 2 3 4 5 6 7 8 9")
                    .setResponseA("answer : " + i + " 1 2 3 4 5 .").setResponseB("answer : " + (i + 1) + " 5 4 3 2 1 ."));
        }
        return b.build();
    }

    private static CountDownLatch async(CompareBatchRequest request) {
        CountDownLatch done = new CountDownLatch(1);
        JudgeGrpc.newStub(channel).withDeadlineAfter(120, TimeUnit.SECONDS).compareBatch(request, new StreamObserver<>() {
            @Override
            public void onNext(CompareBatchResponse value) {
            }

            @Override
            public void onError(Throwable t) {
                done.countDown();
            }

            @Override
            public void onCompleted() {
                done.countDown();
            }
        });
        return done;
    }

    @Test
    void aFullQueueIsResourceExhaustedAndAPassedDeadlineIsSkipped() throws Exception {
        CountDownLatch running = async(big());
        Thread.sleep(150);                        // the first batch request is running, the queue empty
        CountDownLatch queued = async(big());     // takes the one place in the queue
        Thread.sleep(50);
        JudgeGrpc.JudgeBlockingStub stub = JudgeGrpc.newBlockingStub(channel);
        StatusRuntimeException full = assertThrows(StatusRuntimeException.class,
                () -> stub.withDeadlineAfter(30, TimeUnit.SECONDS).compareBatch(big()));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, full.getStatus().getCode(), full.getStatus().toString());
        assertTrue(running.await(120, TimeUnit.SECONDS) && queued.await(120, TimeUnit.SECONDS));

        double droppedBefore = service.metric("steer_judge_requests_dropped_total");
        CountDownLatch again = async(big());
        Thread.sleep(150);
        StatusRuntimeException late = assertThrows(StatusRuntimeException.class,
                () -> stub.withDeadlineAfter(100, TimeUnit.MILLISECONDS).compareBatch(big()));
        assertEquals(Status.Code.DEADLINE_EXCEEDED, late.getStatus().getCode(), late.getStatus().toString());
        assertTrue(again.await(120, TimeUnit.SECONDS));
        assertEquals(1, stub.withDeadlineAfter(30, TimeUnit.SECONDS).compare(big().getItems(0)).getModelVersion() + 1,
                "the service still answers");
        assertEquals(droppedBefore + 1, service.metric("steer_judge_requests_dropped_total"), "the expired request never ran");
    }
}
