package steer.serving;

import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import steer.model.DecodeBatch;
import steer.model.LanguageModel;
import steer.model.TextCompletion;

/**
 * Continuous batching for {@link BatchedGenerator}: each sequence is queued on its own, joins a running batch at
 * the next token boundary where a slot is free, and is answered as soon as it finishes; a request never waits
 * for an unrelated sequence to end, as it does when each batch runs to its longest sequence (the static
 * {@link MicroBatcher}).
 *
 * <p>Threads: {@code workers} decoding threads (one per core by default), each with its own running batches of
 * at most {@code maxBatchSize} sequences between them, one {@link DecodeBatch} per model instance: a hot load
 * starts a second batch on the new version beside the old one, which drains. Each batch holds its model's
 * lease until it is empty.
 *
 * <p>Reproducible jobs ({@link BatchedGenerator.Job#reproducible}) are decoded in a batch of their own: a worker
 * takes such a job whole, and its batch admits the job's sequences in prompt-major order as its slots free, by the
 * same rule as a shared batch but counting only itself, so when a sequence joins depends only on when the job's
 * earlier ones ended. The job's forward passes then have the same shapes and the same rows whatever else the
 * generator serves, and so give the same bits: PyTorch's CPU kernels are not
 * batch-invariant (a row's logits move in their last bits between batches of 1–3 rows and of 4 or more, and with the
 * cache width; {@code ContinuousBatchingTest} fails on shared batches), and a last-bit move now and then picks another
 * token, which a seeded run's samples must never do. Other jobs share running batches as described above.
 *
 * <p>Limits, as the static batcher has them: at most {@code queueCapacity × maxBatchSize} sequences wait (a
 * chunk's worth per queue place); a job that does not fit is refused whole. A waiting sequence whose deadline
 * passes fails with {@link RequestExpiredException}; one whose future is cancelled (the call ended) is dropped
 * from the queue, or from its running batch, freeing the slot.
 */
final class ContinuousBatcher implements AutoCloseable {

    /** One queued or running sequence. */
    static final class Pending {
        final BatchedGenerator.Job job;
        final int index;                 // in prompt-major order
        final int stream;                // sampler stream, as its static chunk numbers it
        final long deadlineNanoTime;
        final long enqueuedNanos = System.nanoTime();
        final CompletableFuture<List<GeneratedSample>> future = new CompletableFuture<>();
        /** The reproducible part this sequence belongs to, decoded in a batch of its own; null: any batch. */
        final Part part;
        LanguageModel.TextSequence text;

        Pending(BatchedGenerator.Job job, int index, int stream, long deadlineNanoTime, Part part) {
            this.job = job;
            this.index = index;
            this.stream = stream;
            this.deadlineNanoTime = deadlineNanoTime;
            this.part = part;
        }
    }

    /** The sequences of one reproducible job, queued next to each other and taken together by one worker. */
    static final class Part {
    }

    /** A running batch on one leased model instance. */
    private static final class Running {
        final ModelRegistry.Lease lease;
        final DecodeBatch batch;
        /** The reproducible part it decodes alone, or null for a batch any other sequence may join. */
        final Part part;
        final Map<DecodeBatch.Sequence, Pending> members = new IdentityHashMap<>();
        final List<Pending> joining = new ArrayList<>();
        /** A reproducible job's sequences not yet admitted, in prompt-major order. */
        final ArrayDeque<Pending> backlog = new ArrayDeque<>();

        Running(ModelRegistry.Lease lease, int maxSlots, boolean deviceSampling, Part part) {
            this.lease = lease;
            this.batch = lease.model().newDecodeBatch(maxSlots, deviceSampling);
            this.part = part;
        }
    }

    private final ModelRegistry registry;
    private final int maxBatchSize;
    private final int maxWaiting;
    private final boolean deviceSampling;
    private final MicroBatcher.Listener listener;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition arrived = lock.newCondition();
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();
    private final List<Thread> workers = new ArrayList<>();
    private final int[] running;     // live sequences per worker, under the lock
    private volatile boolean closed;

    /**
     * Starts the decoding threads.
     *
     * @param registry      the served models
     * @param maxBatchSize  most sequences one worker runs at once
     * @param queueCapacity waiting places, each worth {@code maxBatchSize} sequences
     * @param workers       decoding threads, at least 1
     * @param deviceSampling pick tokens in native ops instead of in Java ({@link DecodeBatch})
     * @param listener      observes each decoding step (as a batch of its live sequences) and each dropped sequence
     */
    ContinuousBatcher(ModelRegistry registry, int maxBatchSize, int queueCapacity, int workers,
                      boolean deviceSampling, MicroBatcher.Listener listener) {
        if (workers < 1) {
            throw new IllegalArgumentException("decode threads must be at least 1, got " + workers);
        }
        this.registry = registry;
        this.maxBatchSize = maxBatchSize;
        this.maxWaiting = Math.multiplyExact(queueCapacity, maxBatchSize);
        this.listener = listener;
        this.deviceSampling = deviceSampling;
        this.running = new int[workers];
        for (int w = 0; w < workers; w++) {
            int id = w;
            Thread t = new Thread(() -> work(id), "generator-decode-" + w);
            t.setDaemon(true);
            t.start();
            this.workers.add(t);
        }
    }

    /**
     * Queues every sequence of a job, or none.
     *
     * @return one future per sequence, in prompt-major order
     * @throws QueueFullException if the sequences do not all fit in the queue
     */
    List<CompletableFuture<List<GeneratedSample>>> submit(BatchedGenerator.Job job, long deadlineNanoTime) {
        List<Pending> seqs = new ArrayList<>(job.streams());
        Part part = job.reproducible() ? new Part() : null;
        for (int s = 0; s < job.streams(); s++) {
            // stream s % maxBatchSize: what the static scheduler's chunk of maxBatchSize sequences gives it
            seqs.add(new Pending(job, s, s % maxBatchSize, deadlineNanoTime, part));
        }
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("generator: shutting down");
            }
            if (queue.size() + seqs.size() > maxWaiting) {
                throw new QueueFullException("generator", maxWaiting);
            }
            queue.addAll(seqs);
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
        List<CompletableFuture<List<GeneratedSample>>> out = new ArrayList<>(seqs.size());
        seqs.forEach(p -> out.add(p.future));
        return out;
    }

    /** Sequences waiting for a slot. */
    int queueDepth() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    private void work(int id) {
        List<Running> batches = new ArrayList<>();
        boolean configured = false;
        try {
            while (true) {
                List<Pending> taken = take(id, batches.isEmpty());
                if (taken == null) {
                    return;
                }
                if (!configured && !taken.isEmpty()) {
                    // once a model is loaded (the engine's native library with it), and per thread:
                    JniUtils.setGradMode(false);   // generation never needs a graph
                    JniUtils.setNumThreads(1);     // decode ops are tiny: parallelism comes from the workers
                    configured = true;
                }
                for (Pending p : taken) {
                    join(batches, p);
                }
                for (Iterator<Running> it = batches.iterator(); it.hasNext(); ) {
                    Running r = it.next();
                    advance(r);
                    if (r.members.isEmpty() && r.joining.isEmpty() && r.backlog.isEmpty()) {
                        r.batch.close();
                        r.lease.close();
                        it.remove();
                    }
                }
                int live = 0;
                for (Running r : batches) {
                    live += r.batch.live() + r.backlog.size();   // a backlog is this worker's to run
                }
                lock.lock();
                try {
                    running[id] = live;
                } finally {
                    lock.unlock();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            for (Running r : batches) {
                r.members.values().forEach(p -> p.future.completeExceptionally(new IllegalStateException(
                        "generator: shutting down")));
                r.backlog.forEach(p -> p.future.completeExceptionally(new IllegalStateException(
                        "generator: shutting down")));
                r.batch.close();
                r.lease.close();
            }
        }
    }

    /**
     * Takes this worker's share of the waiting sequences, waiting for one if it runs nothing; null once closed.
     * The share is the queue split evenly over the workers, so one worker does not take a burst alone.
     */
    private List<Pending> take(int id, boolean idle) throws InterruptedException {
        lock.lock();
        try {
            while (true) {
                dropDead();
                if (closed) {
                    return null;
                }
                if (!queue.isEmpty() || !idle) {
                    break;
                }
                arrived.await();
            }
            int free = maxBatchSize - running[id];
            int share = (queue.size() + workers.size() - 1) / workers.size();
            int n = Math.min(free, Math.max(1, share));
            // A joining group costs one prefill forward whatever its size, so a busy batch lets free slots gather
            // (a quarter of the batch) before it admits; a batch running below half takes newcomers at once.
            if (running[id] >= maxBatchSize / 2 && free < Math.max(1, maxBatchSize / 4)) {
                n = 0;
            }
            List<Pending> taken = new ArrayList<>(n);
            while (taken.size() < n && !queue.isEmpty()) {
                Part part = queue.peekFirst().part;
                if (part != null) {
                    // a reproducible job is taken whole, by a worker running at most half a batch (its own batch
                    // fills from the job alone, so an idle or draining worker is the one to start it)
                    if (!taken.isEmpty() || running[id] > maxBatchSize / 2) {
                        break;
                    }
                    while (!queue.isEmpty() && queue.peekFirst().part == part) {
                        taken.add(queue.pollFirst());
                    }
                    break;
                }
                taken.add(queue.pollFirst());
            }
            running[id] += taken.size();
            return taken;
        } finally {
            lock.unlock();
        }
    }

    /** Removes cancelled sequences and fails those whose deadline passed. Holds the lock. */
    private void dropDead() {
        long now = System.nanoTime();
        for (Iterator<Pending> it = queue.iterator(); it.hasNext(); ) {
            Pending p = it.next();
            if (p.future.isDone()) {
                it.remove();
                listener.requestDropped();
            } else if (now - p.deadlineNanoTime > 0) {
                it.remove();
                p.future.completeExceptionally(new RequestExpiredException("generator",
                        TimeUnit.NANOSECONDS.toMillis(now - p.enqueuedNanos)));
                listener.requestDropped();
            }
        }
    }

    /** Puts a taken sequence in the batch of its model's current instance, starting one if there is none. */
    private void join(List<Running> batches, Pending p) {
        ModelRegistry.Lease lease;
        try {
            lease = registry.acquire(p.job.model());
        } catch (RuntimeException e) {
            p.future.completeExceptionally(e);   // unloaded since it was queued
            return;
        }
        Running target = null;
        for (Running r : batches) {
            if (r.part == p.part && (p.part != null || r.lease.model() == lease.model())) {
                target = r;
                break;
            }
        }
        if (target == null) {
            target = new Running(lease, maxBatchSize, deviceSampling, p.part);
            batches.add(target);
        } else {
            lease.close();
        }
        try {
            p.text = target.lease.model().textSequence(p.job.prompts().get(p.index / p.job.n()), p.job.params(),
                    p.stream, p.job.stops());
            int positions = target.lease.info().maxPositions();
            if (p.text.promptIds().length + p.job.params().maxNewTokens() > positions) {
                // checked at submission, but a hot load may since have served a model of shorter context; failing
                // here keeps the batch's admit from failing every sequence beside it
                throw new InvalidFieldException(Validation.indexed("prompts", p.index / p.job.n()),
                        p.text.promptIds().length + " tokens; with max_new_tokens " + p.job.params().maxNewTokens()
                                + " that exceeds the model's " + positions + " positions");
            }
            (p.part != null ? target.backlog : target.joining).add(p);
        } catch (RuntimeException e) {
            p.future.completeExceptionally(e);
        }
    }

    /**
     * Moves a reproducible job's next sequences from its backlog to joining, by the shared batches' admission rule
     * applied to its own batch alone: at once while it runs below half, else once a quarter of its slots is free.
     */
    private void admitFromBacklog(Running r) {
        r.backlog.removeIf(p -> p.future.isDone());
        if (r.backlog.isEmpty()) {
            return;
        }
        int live = r.batch.live();
        int free = maxBatchSize - live;
        if (live >= maxBatchSize / 2 && free < Math.max(1, maxBatchSize / 4)) {
            return;
        }
        for (int i = 0; i < free && !r.backlog.isEmpty(); i++) {
            r.joining.add(r.backlog.pollFirst());
        }
    }

    /** Admits the batch's joining sequences, evicts those whose caller left, runs one step, answers the finished. */
    private void advance(Running r) {
        long start = System.nanoTime();
        try {
            for (Iterator<Map.Entry<DecodeBatch.Sequence, Pending>> it = r.members.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<DecodeBatch.Sequence, Pending> e = it.next();
                if (e.getValue().future.isDone()) {
                    r.batch.evict(e.getKey());
                    it.remove();
                }
            }
            if (r.part != null) {
                admitFromBacklog(r);
            }
            r.joining.removeIf(p -> p.future.isDone());
            if (!r.joining.isEmpty()) {
                List<DecodeBatch.Sequence> seqs = new ArrayList<>(r.joining.size());
                for (Pending p : r.joining) {
                    seqs.add(p.text.sequence());
                    r.members.put(p.text.sequence(), p);
                }
                r.joining.clear();
                finish(r, r.batch.admit(seqs));
            }
            int live = r.batch.live();
            if (live > 0) {
                finish(r, r.batch.step());
                listener.batchRan(live, live, System.nanoTime() - start);
            }
        } catch (RuntimeException | Error e) {
            for (Pending p : r.members.values()) {
                p.future.completeExceptionally(e);
            }
            r.backlog.forEach(p -> p.future.completeExceptionally(e));   // a reproducible job fails whole
            r.members.clear();
            r.joining.clear();
            r.backlog.clear();
        }
    }

    private void finish(Running r, List<DecodeBatch.Sequence> done) {
        for (DecodeBatch.Sequence s : done) {
            Pending p = r.members.remove(s);
            TextCompletion t = r.lease.model().completion(p.text);
            ServedModel info = r.lease.info();
            p.future.complete(List.of(new GeneratedSample(p.index / p.job.n(), p.index % p.job.n(), t.text(),
                    t.tokenIds(), t.logProbs(), t.finishReason(), info.name(), info.version(), p.job.params().seed())));
        }
    }

    /** Stops the workers after their current step; waiting and running sequences fail. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            for (Pending p : queue) {
                p.future.completeExceptionally(new IllegalStateException("generator: shutting down"));
            }
            queue.clear();
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
        for (Thread t : workers) {
            try {
                t.join(TimeUnit.SECONDS.toMillis(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
