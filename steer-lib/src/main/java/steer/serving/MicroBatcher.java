package steer.serving;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * Gathers concurrent requests into batches for one worker thread: a model runs a batch of B streams in about
 * the time of one, so requests that arrive within a short window share a forward pass.
 *
 * <p>The oldest waiting request opens a batch; requests with the same {@linkplain Settings key} join it until
 * the batch's total size reaches {@code maxBatchSize} or the window since the opener arrived has passed.
 * Requests of other keys wait, in order, for a later batch. The queue is bounded: when full, {@link #submit}
 * fails at once with {@link QueueFullException} rather than letting latency grow without limit. A request
 * whose deadline passed or whose future was cancelled while it waited is dropped, not run.
 *
 * @param <Req> a request
 * @param <Res> its result
 */
public final class MicroBatcher<Req, Res> implements AutoCloseable {

    /**
     * How batches form.
     *
     * @param window        how long the oldest request waits for company; a few milliseconds, small next to
     *                      a forward pass
     * @param maxBatchSize  the largest total size (e.g. sequences) of one batch, at least 1; a single request
     *                      larger than this runs alone
     * @param queueCapacity requests that may wait, at least 1
     */
    public record Settings(Duration window, int maxBatchSize, int queueCapacity) {

        public Settings {
            if (window.isNegative()) {
                throw new IllegalArgumentException("window must not be negative, got " + window);
            }
            if (maxBatchSize < 1) {
                throw new IllegalArgumentException("max batch size must be at least 1, got " + maxBatchSize);
            }
            if (queueCapacity < 1) {
                throw new IllegalArgumentException("queue capacity must be at least 1, got " + queueCapacity);
            }
        }

        /** A 5 ms window, batches of up to 32, 256 waiting requests. */
        public static Settings defaults() {
            return new Settings(Duration.ofMillis(5), 32, 256);
        }
    }

    /** Runs one batch on the worker thread. */
    @FunctionalInterface
    public interface Handler<Req, Res> {
        /**
         * @param batch requests of one key, oldest first
         * @return one result per request, in the same order
         */
        List<Res> run(List<Req> batch);
    }

    /** Observes batches, for metrics; called on the worker thread. */
    @FunctionalInterface
    public interface Listener {
        /**
         * @param requests  requests in the batch
         * @param size      their total size
         * @param runNanos  time the handler took
         */
        void batchRan(int requests, int size, long runNanos);

        /** A request was dropped unrun: cancelled, or its deadline passed, while it waited. */
        default void requestDropped() {
        }
    }

    private final String name;
    private final Settings settings;
    private final Handler<Req, Res> handler;
    private final Function<Req, ?> key;
    private final Listener listener;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition arrived = lock.newCondition();
    private final ArrayDeque<Pending<Req, Res>> queue = new ArrayDeque<>();
    private final Thread worker;
    private volatile boolean closed;

    /**
     * Starts the worker thread.
     *
     * @param name     names the thread and error messages
     * @param settings window, batch size, queue capacity
     * @param key      requests batch together only when their keys are equal (same model and sampling
     *                 parameters, say)
     * @param handler  runs a batch
     * @param listener observes each batch (metrics); may be a no-op
     */
    public MicroBatcher(String name, Settings settings, Function<Req, ?> key, Handler<Req, Res> handler,
                        Listener listener) {
        this.name = name;
        this.settings = settings;
        this.key = key;
        this.handler = handler;
        this.listener = listener;
        this.worker = new Thread(this::work, name + "-batcher");
        worker.setDaemon(true);
        worker.start();
    }

    /**
     * Queues a request.
     *
     * @param request          the request
     * @param size             its share of a batch (e.g. its number of sequences), at least 1
     * @param deadlineNanoTime {@link System#nanoTime()} after which the request is dropped if it has not
     *                         started; {@link Long#MAX_VALUE} for none
     * @return completes with the result, or exceptionally with {@link RequestExpiredException} or the
     *         handler's exception; cancelling it before its batch starts keeps it from running
     * @throws QueueFullException if {@code queueCapacity} requests are already waiting
     */
    public CompletableFuture<Res> submit(Req request, int size, long deadlineNanoTime) {
        if (size < 1) {
            throw new IllegalArgumentException("size must be at least 1, got " + size);
        }
        Pending<Req, Res> p = new Pending<>(request, size, deadlineNanoTime, key.apply(request), System.nanoTime());
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException(name + ": shutting down");
            }
            if (queue.size() >= settings.queueCapacity()) {
                throw new QueueFullException(name, settings.queueCapacity());
            }
            queue.addLast(p);
            arrived.signal();
        } finally {
            lock.unlock();
        }
        return p.future;
    }

    /** Requests waiting for a batch now. */
    public int queueDepth() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    private void work() {
        while (true) {
            List<Pending<Req, Res>> batch;
            try {
                batch = nextBatch();
            } catch (InterruptedException e) {
                return;
            }
            if (batch == null) {
                return;
            }
            run(batch);
        }
    }

    /** Waits for the oldest live request, then for company of its key; null once closed. */
    private List<Pending<Req, Res>> nextBatch() throws InterruptedException {
        lock.lock();
        try {
            Pending<Req, Res> first;
            while (true) {
                dropDead();
                if (closed) {
                    return null;
                }
                first = queue.peekFirst();
                if (first != null) {
                    break;
                }
                arrived.await();
            }
            long windowEnd = first.enqueuedNanos + settings.window().toNanos();
            while (!closed) {
                int size = 0;
                for (Pending<Req, Res> p : queue) {
                    if (p.key.equals(first.key)) {
                        size += p.size;
                    }
                }
                long left = windowEnd - System.nanoTime();
                if (size >= settings.maxBatchSize() || left <= 0) {
                    break;
                }
                arrived.awaitNanos(left);
            }
            dropDead();
            List<Pending<Req, Res>> batch = new ArrayList<>();
            int size = 0;
            for (Iterator<Pending<Req, Res>> it = queue.iterator(); it.hasNext(); ) {
                Pending<Req, Res> p = it.next();
                if (!p.key.equals(first.key)) {
                    continue;
                }
                if (!batch.isEmpty() && size + p.size > settings.maxBatchSize()) {
                    break;
                }
                batch.add(p);
                size += p.size;
                it.remove();
            }
            return batch;
        } finally {
            lock.unlock();
        }
    }

    /** Removes cancelled requests and fails those whose deadline passed. Holds the lock. */
    private void dropDead() {
        long now = System.nanoTime();
        for (Iterator<Pending<Req, Res>> it = queue.iterator(); it.hasNext(); ) {
            Pending<Req, Res> p = it.next();
            if (p.future.isDone()) {
                it.remove();
                listener.requestDropped();
            } else if (now - p.deadlineNanoTime > 0) {
                it.remove();
                p.future.completeExceptionally(new RequestExpiredException(name,
                        TimeUnit.NANOSECONDS.toMillis(now - p.enqueuedNanos)));
                listener.requestDropped();
            }
        }
    }

    private void run(List<Pending<Req, Res>> batch) {
        if (batch.isEmpty()) {
            return;
        }
        List<Req> requests = new ArrayList<>(batch.size());
        int size = 0;
        for (Pending<Req, Res> p : batch) {
            requests.add(p.request);
            size += p.size;
        }
        long start = System.nanoTime();
        List<Res> results = null;
        Throwable failure = null;
        try {
            results = handler.run(requests);
            if (results.size() != batch.size()) {
                throw new IllegalStateException(name + ": the handler returned " + results.size() + " results for "
                        + batch.size() + " requests");
            }
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        try {
            // counted before its callers hear of it: whoever holds a result also sees its batch in the metrics
            listener.batchRan(batch.size(), size, System.nanoTime() - start);
        } finally {
            for (int i = 0; i < batch.size(); i++) {
                if (failure == null) {
                    batch.get(i).future.complete(results.get(i));
                } else {
                    batch.get(i).future.completeExceptionally(failure);
                }
            }
        }
    }

    /** Stops the worker after its current batch; requests still waiting fail. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            for (Pending<Req, Res> p : queue) {
                p.future.completeExceptionally(new IllegalStateException(name + ": shutting down"));
            }
            queue.clear();
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
        try {
            worker.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static final class Pending<Req, Res> {
        final Req request;
        final int size;
        final long deadlineNanoTime;
        final Object key;
        final long enqueuedNanos;
        final CompletableFuture<Res> future = new CompletableFuture<>();

        Pending(Req request, int size, long deadlineNanoTime, Object key, long enqueuedNanos) {
            this.request = request;
            this.size = size;
            this.deadlineNanoTime = deadlineNanoTime;
            this.key = Objects.requireNonNull(key, "batch key");
            this.enqueuedNanos = enqueuedNanos;
        }
    }
}
