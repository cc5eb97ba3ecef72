package steer.proto;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.channels.ClosedChannelException;

/**
 * Which gRPC failures mean "the server went away" rather than "the server answered no": what a caller that rides
 * out a restarting service retries.
 *
 * <p>{@code UNAVAILABLE} is the documented code for it, but grpc-java's Netty transport reports a call whose
 * headers it tried to write on a connection the peer had just closed as {@code UNKNOWN: channel closed}, caused by a
 * {@link ClosedChannelException} (grpc/grpc-java#10120, open). Such a call never reached the server, so it is as safe
 * to retry as an {@code UNAVAILABLE} one; any other {@code UNKNOWN} is the server's own failure and is not.
 */
public final class TransportFailures {

    private TransportFailures() {
    }

    /** Whether {@code e} says the connection to the server was lost or could not be made. */
    public static boolean serverGone(StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        if (code == Status.Code.UNAVAILABLE) {
            return true;
        }
        if (code != Status.Code.UNKNOWN) {
            return false;
        }
        for (Throwable t = e.getStatus().getCause(); t != null; t = t.getCause()) {
            if (t instanceof ClosedChannelException) {
                return true;
            }
        }
        return false;
    }
}
