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

/**
 * Back-pressure and deadlines: one comparison per forward pass and one waiting request; and the per-request limits
 * (items per batch, characters and tokens per text), each refused as INVALID_ARGUMENT naming the field and limit.
 */
class JudgeLimitsIT {

    @TempDir
    static Path dir;

    /** Comparisons per batch request: one forward batch each, so a request keeps the judge busy for a while. */
    private static final int ITEMS = 2048;
    private static final String COMPUTED = "steer_judge_batch_size_items_sum";

    static ServiceProcess service;
    static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        Path model = TinyWorldModel.write(dir.resolve("judge"), 51);
        service = ServiceProcess.startUnderTest("JudgeLimitsIT", Map.of("steer.judge.model-location", model.toString(),
                "steer.judge.max-batch-size", "1", "steer.judge.queue-capacity", "1",
                "steer.judge.max-items", Integer.toString(ITEMS)));
        channel = NettyChannelBuilder.forTarget(service.address()).usePlaintext().build();
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        service.close();
    }

    private static CompareBatchRequest big() {
        CompareBatchRequest.Builder b = CompareBatchRequest.newBuilder();
        for (int i = 0; i < ITEMS; i++) {
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

    /**
     * Sends a batch request and returns once the judge runs it. A request of {@link #ITEMS} comparisons takes about
     * 1.7 s here (the tiny model, one batch); 256 took about 0.2 s, too close to the deadlines below for this test
     * to hold on a fast machine. The idle judge takes a request within milliseconds of its arrival, so 500 ms after
     * sending it is running and the queue is empty again.
     */
    private static CountDownLatch occupy() throws Exception {
        CountDownLatch done = async(big());
        Thread.sleep(500);
        assertEquals(0, service.metric("steer_judge_queue_depth"), "the first request is running, not waiting");
        return done;
    }

    private static void assertInvalid(String start, java.util.function.Supplier<?> call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::get);
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().startsWith(start), e.getStatus().getDescription());
        CompareRequest ok = CompareRequest.newBuilder().setPrompt("add 1 2").setResponseA("answer : 3 .")
                .setResponseB("answer : 4 .").build();
        JudgeGrpc.JudgeBlockingStub stub = JudgeGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
        assertEquals(stub.compare(ok), stub.compareBatch(CompareBatchRequest.newBuilder().addItems(ok).build())
                .getComparisons(0), "the service still answers, the same for a single comparison and a batch of one");
    }

    @Test
    void everyPerRequestLimitIsInvalidArgumentNamingIt() {
        JudgeGrpc.JudgeBlockingStub stub = JudgeGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
        CompareBatchRequest tooMany = big().toBuilder().addItems(big().getItems(0)).build();
        assertInvalid("items: " + (ITEMS + 1) + " items; need 1.." + ITEMS, () -> stub.compareBatch(tooMany));
        CompareRequest ok = big().getItems(0);
        assertInvalid("prompt: 8193 characters; at most 8192 (steer.judge.max-text-chars)",
                () -> stub.compare(ok.toBuilder().setPrompt("x".repeat(8193)).build()));
        assertInvalid("items[0].response_b: 8193 characters; at most 8192 (steer.judge.max-text-chars)",
                () -> stub.compareBatch(CompareBatchRequest.newBuilder().addItems(ok.toBuilder()
                        .setResponseB("é".repeat(8193))).build()));
        // within the character limit but longer than the model's context in tokens
        assertInvalid("prompt: the judge prompt is ", () -> stub.compare(ok.toBuilder().setPrompt("add" + " 1".repeat(150)).build()));
    }

    @Test
    void aFullQueueIsResourceExhaustedAndAPassedDeadlineIsSkipped() throws Exception {
        CountDownLatch running = occupy();        // the first batch request is running, the queue empty
        CountDownLatch queued = async(big());     // takes the one place in the queue
        JudgeGrpc.JudgeBlockingStub stub = JudgeGrpc.newBlockingStub(channel);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (service.metric("steer_judge_queue_depth") < 1) { // the second request is queued
            assertTrue(System.nanoTime() < until, "the second request never reached the queue");
            Thread.sleep(5);
        }
        StatusRuntimeException full = assertThrows(StatusRuntimeException.class,
                () -> stub.withDeadlineAfter(30, TimeUnit.SECONDS).compareBatch(big()));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, full.getStatus().getCode(), full.getStatus().toString());
        assertTrue(running.await(120, TimeUnit.SECONDS) && queued.await(120, TimeUnit.SECONDS));

        double droppedBefore = service.metric("steer_judge_requests_dropped_total");
        double computedBefore = service.metric(COMPUTED);
        long againStart = System.nanoTime();
        CountDownLatch again = occupy();          // runs for far longer than the next request's deadline
        StatusRuntimeException late = assertThrows(StatusRuntimeException.class,
                () -> stub.withDeadlineAfter(300, TimeUnit.MILLISECONDS).compareBatch(big()));
        assertEquals(Status.Code.DEADLINE_EXCEEDED, late.getStatus().getCode(), late.getStatus().toString());
        assertTrue(again.await(120, TimeUnit.SECONDS));
        long againMillis = (System.nanoTime() - againStart) / 1_000_000;
        assertTrue(againMillis > 1000, "the occupying request took only " + againMillis + " ms, too short to outlast "
                + "the expired request's 300 ms deadline after its 500 ms start: make ITEMS larger");
        assertEquals(1, stub.withDeadlineAfter(30, TimeUnit.SECONDS).compare(big().getItems(0)).getModelVersion() + 1,
                "the service still answers");
        assertEquals(droppedBefore + 1, service.metric("steer_judge_requests_dropped_total"), "the expired request was dropped");
        assertEquals(computedBefore + ITEMS + 1, service.metric(COMPUTED),
                "only the running request and the last comparison were computed, none of the expired one");
    }
}
