package steer.generator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.launch.ServiceProcess;
import steer.proto.v1.GenerateRequest;
import steer.proto.v1.GenerateResponse;
import steer.proto.v1.GeneratorGrpc;
import steer.proto.v1.SamplingParams;
import steer.world.TinyWorldModel;

/** Back-pressure and deadlines: one sequence per batch and a queue of 24, so a long request fills it. */
class GeneratorLimitsIT {

    @TempDir
    static Path dir;

    static ServiceProcess service;
    static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        Path model = TinyWorldModel.write(dir.resolve("m"), 21);
        service = ServiceProcess.startUnderTest("GeneratorLimitsIT", Map.of("steer.generator.model-location", model.toString(),
                "steer.generator.max-batch-size", "1", "steer.generator.queue-capacity", "24",
                // the static scheduler's limits: queue places of whole batches, batches dropped unrun (the continuous
                // scheduler's deadline and cancellation are ContinuousBatchingTest's)
                "steer.generator.scheduler", "static"));
        channel = NettyChannelBuilder.forTarget(service.address()).usePlaintext().build();
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        service.close();
    }

    private static GenerateRequest request(int prompts, int maxNewTokens) {
        List<String> p = new ArrayList<>();
        for (int i = 0; i < prompts; i++) {
            p.add("query : add " + i + " 1");
        }
        return GenerateRequest.newBuilder().addAllPrompts(p)
                .setSampling(SamplingParams.newBuilder().setTemperature(0).setMaxNewTokens(maxNewTokens)).build();
    }

    /** Starts a request of 20 one-sequence batches of 100 tokens and returns when it has begun running. */
    private static CountDownLatch occupy(AtomicReference<Throwable> error) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(1);
        CountDownLatch started = new CountDownLatch(1);
        GeneratorGrpc.newStub(channel).withDeadlineAfter(120, TimeUnit.SECONDS).generateStream(request(20, 100),
                new StreamObserver<>() {
                    @Override
                    public void onNext(steer.proto.v1.Sample value) {
                        started.countDown();
                    }

                    @Override
                    public void onError(Throwable t) {
                        error.set(t);
                        started.countDown();
                        done.countDown();
                    }

                    @Override
                    public void onCompleted() {
                        done.countDown();
                    }
                });
        assertTrue(started.await(60, TimeUnit.SECONDS));
        return done;
    }

    private static void assertStillServes() {
        GenerateResponse ok = GeneratorGrpc.newBlockingStub(channel).withDeadlineAfter(120, TimeUnit.SECONDS)
                .generate(request(1, 4));
        assertEquals(1, ok.getSamplesCount());
        assertEquals("policy", ok.getSamples(0).getModel());
    }

    @Test
    void aFullQueueAnswersResourceExhaustedAtOnce() throws Exception {
        AtomicReference<Throwable> error = new AtomicReference<>();
        CountDownLatch done = occupy(error);
        long start = System.nanoTime();
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> GeneratorGrpc.newBlockingStub(channel)
                .withDeadlineAfter(60, TimeUnit.SECONDS).generate(request(10, 4)));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().contains("queue is full"), e.getStatus().getDescription());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2), "rejected without waiting");
        assertTrue(done.await(120, TimeUnit.SECONDS));
        assertEquals(null, error.get(), "the request that filled the queue completes");
        assertStillServes();
    }

    @Test
    void aPassedDeadlineSkipsTheQueuedWork() throws Exception {
        AtomicReference<Throwable> error = new AtomicReference<>();
        CountDownLatch done = occupy(error);
        double droppedBefore = service.metric("steer_generator_requests_dropped_total");
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> GeneratorGrpc.newBlockingStub(channel)
                .withDeadlineAfter(200, TimeUnit.MILLISECONDS).generate(request(2, 4)));
        assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(done.await(120, TimeUnit.SECONDS));
        assertStillServes();
        assertEquals(droppedBefore + 2, service.metric("steer_generator_requests_dropped_total"),
                "both queued batches of the expired request were dropped unrun");
    }
}
