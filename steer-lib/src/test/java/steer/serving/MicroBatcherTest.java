package steer.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class MicroBatcherTest {

    private static final long NO_DEADLINE = Long.MAX_VALUE;

    @Test
    void requestsWithinTheWindowShareABatchUpToTheMaximumSize() throws Exception {
        List<List<Integer>> batches = Collections.synchronizedList(new ArrayList<>());
        try (MicroBatcher<Integer, Integer> b = new MicroBatcher<>("t", new MicroBatcher.Settings(Duration.ofMillis(200), 4, 100),
                x -> "one key", batch -> {
                    batches.add(List.copyOf(batch));
                    return batch.stream().map(x -> x * 10).toList();
                }, (n, size, nanos) -> { })) {
            List<CompletableFuture<Integer>> futures = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                futures.add(b.submit(i, 1, NO_DEADLINE));
            }
            for (int i = 0; i < 6; i++) {
                assertEquals(i * 10, futures.get(i).get(5, TimeUnit.SECONDS));
            }
        }
        // the first batch fills up to 4 without waiting out the window; the rest waits for company, then runs
        assertEquals(List.of(List.of(0, 1, 2, 3), List.of(4, 5)), batches);
    }

    @Test
    void onlyRequestsWithTheSameKeyShareABatch() throws Exception {
        List<List<String>> batches = Collections.synchronizedList(new ArrayList<>());
        try (MicroBatcher<String, String> b = new MicroBatcher<>("t", new MicroBatcher.Settings(Duration.ofMillis(100), 8, 100),
                s -> s.charAt(0), batch -> {
                    batches.add(List.copyOf(batch));
                    return batch;
                }, (n, size, nanos) -> { })) {
            List<CompletableFuture<String>> f = new ArrayList<>();
            for (String s : List.of("a1", "b1", "a2", "b2")) {
                f.add(b.submit(s, 1, NO_DEADLINE));
            }
            for (CompletableFuture<String> x : f) {
                x.get(5, TimeUnit.SECONDS);
            }
        }
        assertEquals(List.of(List.of("a1", "a2"), List.of("b1", "b2")), batches);
    }

    @Test
    void aFullQueueFailsAtOnceAndExpiredOrCancelledRequestsNeverRun() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch started = new CountDownLatch(1);
        List<Integer> ran = Collections.synchronizedList(new ArrayList<>());
        try (MicroBatcher<Integer, Integer> b = new MicroBatcher<>("t", new MicroBatcher.Settings(Duration.ZERO, 1, 2),
                x -> "k", batch -> {
                    started.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    ran.addAll(batch);
                    return batch;
                }, (n, size, nanos) -> { })) {
            CompletableFuture<Integer> blocking = b.submit(0, 1, NO_DEADLINE);
            assertTrue(started.await(5, TimeUnit.SECONDS));
            CompletableFuture<Integer> expiring = b.submit(1, 1, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20));
            CompletableFuture<Integer> cancelled = b.submit(2, 1, NO_DEADLINE);
            assertEquals(2, b.queueDepth());
            QueueFullException full = assertThrows(QueueFullException.class, () -> b.submit(3, 1, NO_DEADLINE));
            assertTrue(full.getMessage().contains("queue is full"), full.getMessage());
            cancelled.cancel(false);
            Thread.sleep(50);
            release.countDown();
            assertEquals(0, blocking.get(5, TimeUnit.SECONDS));
            ExecutionException e = assertThrows(ExecutionException.class, () -> expiring.get(5, TimeUnit.SECONDS));
            assertInstanceOf(RequestExpiredException.class, e.getCause());
            assertEquals(4, b.submit(4, 1, NO_DEADLINE).get(5, TimeUnit.SECONDS), "the batcher still serves");
            assertEquals(List.of(0, 4), ran);
            assertEquals(0, b.queueDepth());
        }
    }

    @Test
    void aFailingBatchFailsItsRequestsOnly() throws Exception {
        try (MicroBatcher<Integer, Integer> b = new MicroBatcher<>("t", new MicroBatcher.Settings(Duration.ZERO, 1, 10),
                x -> "k", batch -> {
                    if (batch.get(0) < 0) {
                        throw new IllegalArgumentException("negative");
                    }
                    return batch;
                }, (n, size, nanos) -> { })) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> b.submit(-1, 1, NO_DEADLINE).get(5, TimeUnit.SECONDS));
            assertEquals("negative", e.getCause().getMessage());
            assertEquals(7, b.submit(7, 1, NO_DEADLINE).get(5, TimeUnit.SECONDS));
        }
    }
}
