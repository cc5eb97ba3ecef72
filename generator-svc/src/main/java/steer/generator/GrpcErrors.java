package steer.generator;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.jboss.logging.Logger;
import steer.serving.InvalidFieldException;
import steer.serving.ModelLoadException;
import steer.serving.QueueFullException;
import steer.serving.RequestExpiredException;
import steer.serving.UnknownModelException;

/** The one place that maps library exceptions to gRPC status codes; descriptions stand alone. */
final class GrpcErrors {

    private static final Logger LOG = Logger.getLogger(GrpcErrors.class);

    private GrpcErrors() {
    }

    static StatusRuntimeException toStatus(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof StatusRuntimeException s) {
            return s;
        }
        Status status;
        if (t instanceof InvalidFieldException) {
            status = Status.INVALID_ARGUMENT;
        } else if (t instanceof UnknownModelException) {
            status = Status.NOT_FOUND;
        } else if (t instanceof QueueFullException) {
            status = Status.RESOURCE_EXHAUSTED;
        } else if (t instanceof RequestExpiredException) {
            status = Status.DEADLINE_EXCEEDED;
        } else if (t instanceof ModelLoadException e) {
            status = e.badRequest() ? Status.INVALID_ARGUMENT : Status.FAILED_PRECONDITION;
        } else if (t instanceof CancellationException) {
            status = Status.CANCELLED;
        } else {
            LOG.error("internal error", t);
            return Status.INTERNAL.withDescription("internal error: " + t).asRuntimeException();
        }
        return status.withDescription(t.getMessage()).asRuntimeException();
    }
}
