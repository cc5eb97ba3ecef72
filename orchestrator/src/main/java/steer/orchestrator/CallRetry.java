package steer.orchestrator;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import org.jboss.logging.Logger;
import steer.proto.TransportFailures;

/**
 * Bounded retries of a call to a service replica, for the failures a restart or a passing overload causes: the
 * replica is gone ({@code UNAVAILABLE}, or grpc-java's {@code UNKNOWN: channel closed}: {@link TransportFailures}), its queue is full ({@code RESOURCE_EXHAUSTED}), it aborted the call
 * ({@code ABORTED}), or it came back serving another version than the run needs ({@link ReplicaBehind}). Anything
 * else (a bad request, a missing model) fails at once: retrying would give the same answer.
 *
 * <p>Each failed attempt is logged, and the next one waits 0.5 s, doubling to at most 10 s, until {@code window}
 * has passed since the first failure; then the last failure stands. A window of minutes covers a pod that is
 * killed and started again (a service process here takes 10–40 s to be ready with its model loaded).
 *
 * <p>The caller's {@link Attempt} gets the attempt number, so it can move to another replica and make sure that
 * replica serves the run's model before calling it again. Calls are seeded by the request, not by the replica or the
 * attempt, so a retried call returns what the first would have.
 */
final class CallRetry {

    private static final Logger LOG = Logger.getLogger(CallRetry.class);
    /** Besides a gone server ({@link TransportFailures#serverGone}): a full queue, an aborted call. */
    private static final Set<Status.Code> RETRYABLE = EnumSet.of(Status.Code.RESOURCE_EXHAUSTED, Status.Code.ABORTED);
    private static final Duration FIRST_BACKOFF = Duration.ofMillis(500);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);

    private final Duration window;

    /** @param window how long after the first failure a call is still retried; zero = never retried */
    CallRetry(Duration window) {
        if (window.isNegative()) {
            throw new IllegalArgumentException("retry window " + window + " is negative");
        }
        this.window = window;
    }

    /** One try of a call; {@code attempt} counts from 0. */
    @FunctionalInterface
    interface Attempt<T> {
        T run(int attempt);
    }

    /** A replica answered from another model version than asked: it restarted or lost its load. Retryable. */
    static final class ReplicaBehind extends RunFailure {
        private static final long serialVersionUID = 1L;

        ReplicaBehind(String message) {
            super(message);
        }
    }

    /** Whether a failure may pass if the call is tried again (on another replica, or this one once it is back). */
    static boolean retryable(RuntimeException e) {
        if (e instanceof ReplicaBehind) {
            return true;
        }
        StatusRuntimeException grpc = grpcCause(e);
        return grpc != null && (TransportFailures.serverGone(grpc) || RETRYABLE.contains(grpc.getStatus().getCode()));
    }

    private static StatusRuntimeException grpcCause(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof StatusRuntimeException s) {
                return s;
            }
        }
        return null;
    }

    /**
     * Runs {@code call} until it succeeds, fails with a failure that is not {@link #retryable}, or the window has
     * passed.
     *
     * @param what names the call in the log ("Generate chunk 3 on the generator")
     * @throws RunStopped when interrupted while waiting
     */
    <T> T call(String what, Attempt<T> call) {
        long firstFailure = 0;
        Duration backoff = FIRST_BACKOFF;
        for (int attempt = 0; ; attempt++) {
            try {
                T result = call.run(attempt);
                if (attempt > 0) {
                    LOG.infof("%s: succeeded on attempt %d", what, attempt + 1);
                }
                return result;
            } catch (RuntimeException e) {
                if (!retryable(e)) {
                    throw e;
                }
                long now = System.nanoTime();
                if (attempt == 0) {
                    firstFailure = now;
                }
                long waited = now - firstFailure;
                if (waited + backoff.toNanos() > window.toNanos()) {
                    LOG.warnf("%s: attempt %d failed and the retry window of %s has passed: %s", what, attempt + 1,
                            window, e.getMessage());
                    throw e;
                }
                LOG.warnf("%s: attempt %d failed, retrying in %d ms: %s", what, attempt + 1, backoff.toMillis(),
                        e.getMessage());
                try {
                    Thread.sleep(backoff.toMillis());
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new RunStopped();
                }
                backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
            }
        }
    }
}
