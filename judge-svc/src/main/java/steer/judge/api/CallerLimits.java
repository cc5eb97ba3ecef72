package steer.judge.api;

import com.google.protobuf.Any;
import com.google.rpc.Code;
import com.google.rpc.RetryInfo;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import steer.proto.v1.CompareBatchRequest;
import steer.proto.v1.CompareRequest;
import steer.proto.v1.CompareWithEmptyBatchRequest;
import steer.proto.v1.CompareWithEmptyRequest;
import steer.proto.v1.RubricRequest;
import steer.proto.v1.RubricScoreBatchRequest;

/**
 * The authenticated caller's own limits ({@link Caller}), checked in order: calls in flight when the call starts,
 * then the request rate, then, when the request message arrives, the comparison rate (a batch of n items takes n).
 * Over a limit the call ends RESOURCE_EXHAUSTED before any work, with the wait in the description and as a
 * {@code google.rpc.RetryInfo} in the status details ({@code grpc-status-details-bin}, read with
 * {@code StatusProto.fromThrowable}). A batch larger than the caller's comparison burst could never pass, so it ends
 * INVALID_ARGUMENT naming the limit. Runs right after {@link CallerAuth}.
 */
@ApplicationScoped
public class CallerLimits {

    private final MeterRegistry meters;

    CallerLimits(MeterRegistry meters) {
        this.meters = meters;
    }

    /**
     * Applies the limits of the call's caller ({@link Callers#CALLER}, set by {@link CallerAuth}, which calls this
     * inside the caller's context) before the call reaches the service.
     */
    <Q, R> ServerCall.Listener<Q> limit(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        Caller caller = Callers.CALLER.get();
        if (caller == null) {
            return next.startCall(call, headers);
        }
        Counter.builder("steer.judge.caller.requests").description("calls by authenticated caller and RPC")
                .tag("caller", caller.name()).tag("rpc", call.getMethodDescriptor().getBareMethodName())
                .register(meters).increment();
        if (!caller.limited()) {
            return next.startCall(call, headers);
        }
        Caller.Refusal busy = caller.enter();
        if (busy != null) {
            return refuse(call, caller, "in_flight", busy);
        }
        ServerCall<Q, R> tracked = new InFlight<>(call, caller);
        Caller.Refusal fast = caller.takeRequest();
        if (fast != null) {
            return refuse(tracked, caller, "requests", fast);
        }
        return new Metered<>(next.startCall(tracked, headers), tracked, caller);
    }

    /** The call, giving back its in-flight place once, when it closes or is cancelled. */
    private static final class InFlight<Q, R> extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
        private final Caller caller;
        private final AtomicBoolean left = new AtomicBoolean();

        InFlight(ServerCall<Q, R> call, Caller caller) {
            super(call);
            this.caller = caller;
        }

        void leave() {
            if (left.compareAndSet(false, true)) {
                caller.leave();
            }
        }

        @Override
        public void close(Status status, Metadata trailers) {
            leave();
            super.close(status, trailers);
        }
    }

    /** Takes the request's comparisons from the caller's rate before the message reaches the service. */
    private final class Metered<Q, R> extends ForwardingServerCallListener.SimpleForwardingServerCallListener<Q> {
        private final ServerCall<Q, R> call;
        private final Caller caller;
        private boolean refused;

        Metered(ServerCall.Listener<Q> delegate, ServerCall<Q, R> call, Caller caller) {
            super(delegate);
            this.call = call;
            this.caller = caller;
        }

        @Override
        public void onMessage(Q message) {
            long n = comparisons(message);
            if (n > caller.comparisonsBurst()) {
                refused = true;
                rejected(caller, "batch_over_burst");
                call.close(Status.INVALID_ARGUMENT.withDescription("items: " + n + " comparisons; at most "
                        + caller.comparisonsBurst() + " in one call for caller '" + caller.name() + "' ("
                        + caller.comparisonsBurstKey() + "); split the batch"), new Metadata());
                return;
            }
            Caller.Refusal over = caller.takeComparisons(n);
            if (over != null) {
                refused = true;
                rejected(caller, "comparisons");
                StatusRuntimeException e = exhausted(over);
                call.close(e.getStatus(), e.getTrailers());
                return;
            }
            super.onMessage(message);
        }

        // once refused, the service never sees the request; completion and cancellation still pass, so the
        // layers below (request context, the stub's listener) end their call
        @Override
        public void onHalfClose() {
            if (!refused) {
                super.onHalfClose();
            }
        }

        @Override
        public void onCancel() {
            ((InFlight<?, ?>) call).leave();
            super.onCancel();
        }

        @Override
        public void onComplete() {
            ((InFlight<?, ?>) call).leave();
            super.onComplete();
        }
    }

    /** Comparisons (or ratings) a request carries; 0 for other requests. */
    static long comparisons(Object message) {
        if (message instanceof CompareBatchRequest b) {
            return b.getItemsCount();
        }
        if (message instanceof CompareWithEmptyBatchRequest b) {
            return b.getItemsCount();
        }
        if (message instanceof RubricScoreBatchRequest b) {
            return b.getItemsCount();
        }
        return message instanceof CompareRequest || message instanceof CompareWithEmptyRequest
                || message instanceof RubricRequest ? 1 : 0;
    }

    private <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, Caller caller, String reason, Caller.Refusal why) {
        rejected(caller, reason);
        StatusRuntimeException e = exhausted(why);
        call.close(e.getStatus(), e.getTrailers());
        return new ServerCall.Listener<>() {
        };
    }

    private void rejected(Caller caller, String reason) {
        CallerAuth.rejected(meters, caller.name(), reason).increment();
    }

    /** RESOURCE_EXHAUSTED with the wait in the description and as {@code google.rpc.RetryInfo} in the details. */
    static StatusRuntimeException exhausted(Caller.Refusal why) {
        long nanos = Math.max(TimeUnit.MILLISECONDS.toNanos(1), why.retryNanos());
        RetryInfo retry = RetryInfo.newBuilder().setRetryDelay(com.google.protobuf.Duration.newBuilder()
                .setSeconds(nanos / 1_000_000_000L).setNanos((int) (nanos % 1_000_000_000L))).build();
        return StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder()
                .setCode(Code.RESOURCE_EXHAUSTED_VALUE).setMessage(why.message()).addDetails(Any.pack(retry)).build());
    }
}
