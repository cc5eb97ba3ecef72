package steer.orchestrator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class CallRetryTest {

    /** What grpc-java's Netty transport throws for a call written on a connection the killed server had closed. */
    private static StatusRuntimeException channelClosed() {
        ClosedChannelException closed = new ClosedChannelException();
        closed.initCause(new ClosedChannelException());
        return Status.UNKNOWN.withDescription("channel closed").withCause(closed).asRuntimeException();
    }

    @Test
    void aGoneServerIsRetriedWhetherItSaysUnavailableOrChannelClosed() {
        assertTrue(CallRetry.retryable(Status.UNAVAILABLE.asRuntimeException()));
        assertTrue(CallRetry.retryable(channelClosed()));
        assertTrue(CallRetry.retryable(new RuntimeException("wrapped", channelClosed())));
        assertTrue(CallRetry.retryable(Status.RESOURCE_EXHAUSTED.asRuntimeException()));
        assertTrue(CallRetry.retryable(Status.ABORTED.asRuntimeException()));
    }

    @Test
    void theServersOwnFailuresAreNot() {
        assertFalse(CallRetry.retryable(Status.UNKNOWN.withDescription("NullPointerException").asRuntimeException()));
        assertFalse(CallRetry.retryable(Status.UNKNOWN.withCause(new IllegalStateException()).asRuntimeException()));
        assertFalse(CallRetry.retryable(Status.INVALID_ARGUMENT.asRuntimeException()));
        assertFalse(CallRetry.retryable(Status.NOT_FOUND.asRuntimeException()));
        assertFalse(CallRetry.retryable(new IllegalStateException("no gRPC status")));
    }

    @Test
    void aCallThatFailsOnAClosedChannelSucceedsOnItsNextAttempt() {
        AtomicInteger attempts = new AtomicInteger();
        String result = new CallRetry(Duration.ofSeconds(5)).call("test call", attempt -> {
            if (attempts.getAndIncrement() == 0) {
                throw channelClosed();
            }
            return "answer " + attempt;
        });
        assertEquals("answer 1", result);
        StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
                () -> new CallRetry(Duration.ofSeconds(5)).call("test call", attempt -> {
                    throw Status.INVALID_ARGUMENT.withDescription("bad").asRuntimeException();
                }));
        assertEquals(Status.Code.INVALID_ARGUMENT, refused.getStatus().getCode());
    }
}
