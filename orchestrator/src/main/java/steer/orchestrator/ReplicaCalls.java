package steer.orchestrator;

import io.opentelemetry.context.Context;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Runs one round of calls to service replicas: in the calling thread when there is one call, else one thread per
 * call, each in the caller's trace context. A failure of any call fails the round with that call's exception.
 */
final class ReplicaCalls implements AutoCloseable {

    private final String threadName;
    /** Most calls running at once; 0 = all of a round. */
    private final int maxThreads;
    /** Null until a round has more than one call. */
    private ExecutorService pool;

    /** @param threadName names the pool's threads */
    ReplicaCalls(String threadName) {
        this(threadName, 0);
    }

    /**
     * @param threadName names the pool's threads
     * @param maxThreads most calls running at once (the rest of a round queue for a thread); 0 = no bound
     */
    ReplicaCalls(String threadName, int maxThreads) {
        this.threadName = threadName;
        this.maxThreads = maxThreads;
    }

    /**
     * Runs the calls and returns their results in order.
     *
     * @throws RunStopped when interrupted
     * @throws RunFailure for a checked failure of a call (runtime exceptions pass unchanged)
     */
    <T> List<T> all(List<Callable<T>> calls) {
        List<T> out = new ArrayList<>(calls.size());
        List<Future<T>> futures = new ArrayList<>();
        try {
            if (calls.size() == 1) {
                out.add(calls.get(0).call());
                return out;
            }
            for (Callable<T> call : calls) {
                futures.add(pool().submit(Context.current().wrap(call)));
            }
            for (Future<T> f : futures) {
                out.add(f.get());
            }
            return out;
        } catch (ExecutionException e) {
            futures.forEach(f -> f.cancel(true)); // the round has failed: its other calls need not go on
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new RunFailure(threadName + " failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            futures.forEach(f -> f.cancel(true));
            Thread.currentThread().interrupt();
            throw new RunStopped();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new RunFailure(threadName + " failed: " + e, e);
        }
    }

    private synchronized ExecutorService pool() {
        if (pool == null) {
            java.util.concurrent.ThreadFactory daemons = r -> {
                Thread t = new Thread(r, threadName);
                t.setDaemon(true);
                return t;
            };
            pool = maxThreads > 0 ? Executors.newFixedThreadPool(maxThreads, daemons)
                    : Executors.newCachedThreadPool(daemons);
        }
        return pool;
    }

    @Override
    public synchronized void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}
