package steer.serving.grpc;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Deadline;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Gives every call a gRPC {@link Context} that carries the client's deadline and is cancelled when the deadline
 * passes or the client cancels. On the unified HTTP server (Quarkus 3.34, Vert.x gRPC bridge) handlers run in
 * the root context: no deadline, and a client's reset never cancels it (quarkusio/quarkus#56268), so a late
 * response would be written to a reset stream, which tears down the whole HTTP/2 connection.
 */
@GlobalInterceptor
@ApplicationScoped
public class CallDeadlines implements ServerInterceptor {

    private static final Metadata.Key<String> TIMEOUT = Metadata.Key.of("grpc-timeout", Metadata.ASCII_STRING_MARSHALLER);

    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "grpc-deadlines");
        t.setDaemon(true);
        return t;
    });

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String timeout = headers.get(TIMEOUT);
        Context.CancellableContext context = timeout == null ? Context.current().withCancellation()
                : Context.current().withDeadline(Deadline.after(nanos(timeout), TimeUnit.NANOSECONDS), timer);
        ServerCall.Listener<Q> listener = Contexts.interceptCall(context, call, headers, next);
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
            @Override
            public void onCancel() {
                context.cancel(null);
                super.onCancel();
            }

            @Override
            public void onComplete() {
                context.cancel(null);
                super.onComplete();
            }
        };
    }

    /**
     * The current call's deadline as a {@link System#nanoTime()} instant, for work queued past the call's thread;
     * none = never ({@link Long#MAX_VALUE}). Read it where the call's context is current (an event-loop handler).
     */
    public static long deadlineNanoTime() {
        Deadline d = Context.current().getDeadline();
        return d == null ? Long.MAX_VALUE : System.nanoTime() + d.timeRemaining(TimeUnit.NANOSECONDS);
    }

    /** The grpc-timeout header: up to 8 digits and a unit, H M S m u n (gRPC over HTTP/2 protocol spec). */
    static long nanos(String header) {
        long value = Long.parseLong(header.substring(0, header.length() - 1));
        return switch (header.charAt(header.length() - 1)) {
            case 'H' -> TimeUnit.HOURS.toNanos(value);
            case 'M' -> TimeUnit.MINUTES.toNanos(value);
            case 'S' -> TimeUnit.SECONDS.toNanos(value);
            case 'm' -> TimeUnit.MILLISECONDS.toNanos(value);
            case 'u' -> TimeUnit.MICROSECONDS.toNanos(value);
            case 'n' -> value;
            default -> throw new IllegalArgumentException("grpc-timeout: unknown unit in " + header);
        };
    }
}
