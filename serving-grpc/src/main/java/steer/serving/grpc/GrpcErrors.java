package steer.serving.grpc;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.jboss.logging.Logger;
import steer.judge.JudgeTemplateException;
import steer.judge.UnknownTemplateException;
import steer.serving.InvalidFieldException;
import steer.serving.MemoryBudgetException;
import steer.serving.ModelLoadException;
import steer.serving.QueueFullException;
import steer.serving.RequestExpiredException;
import steer.serving.UnknownModelException;

/** The one place that maps library exceptions to gRPC status codes; descriptions stand alone. */
public final class GrpcErrors {

    private static final Logger LOG = Logger.getLogger(GrpcErrors.class);

    private GrpcErrors() {
    }

    /** The status a failed call ends with; an unexpected exception is logged and ends INTERNAL. */
    public static StatusRuntimeException toStatus(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof StatusRuntimeException s) {
            return s;
        }
        Status status;
        if (t instanceof InvalidFieldException) {
            status = Status.INVALID_ARGUMENT;
        } else if (t instanceof UnknownModelException || t instanceof UnknownTemplateException) {
            status = Status.NOT_FOUND;
        } else if (t instanceof QueueFullException || t instanceof MemoryBudgetException) {
            status = Status.RESOURCE_EXHAUSTED;
        } else if (t instanceof RequestExpiredException) {
            status = Status.DEADLINE_EXCEEDED;
        } else if (t instanceof ModelLoadException e) {
            status = e.badRequest() ? Status.INVALID_ARGUMENT : Status.FAILED_PRECONDITION;
        } else if (t instanceof JudgeTemplateException) {
            status = Status.FAILED_PRECONDITION;
        } else if (t instanceof CancellationException) {
            status = Status.CANCELLED;
        } else {
            LOG.error("internal error", t);
            return Status.INTERNAL.withDescription("internal error: " + t).asRuntimeException();
        }
        return status.withDescription(t.getMessage()).asRuntimeException();
    }

    /** A call's outcome as a metric tag: {@code ok}, or the name of the status code it failed with. */
    public static String outcome(Throwable failure) {
        return failure == null ? "ok" : toStatus(failure).getStatus().getCode().name();
    }
}
