package steer.orchestrator;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import jakarta.inject.Inject;
import java.util.function.Supplier;
import org.jboss.logging.Logger;
import steer.align.InvalidSettingException;
import steer.proto.v1.GetRunRequest;
import steer.proto.v1.OrchestratorGrpc;
import steer.proto.v1.Run;
import steer.proto.v1.RunEvent;
import steer.proto.v1.StartRunRequest;
import steer.proto.v1.StopRunRequest;
import steer.proto.v1.WatchRunRequest;

/**
 * The Orchestrator gRPC API (orchestrator.proto) over {@link RunSupervisor}. Status codes: INVALID_ARGUMENT for a
 * config out of range or a missing run id (the description names the field), NOT_FOUND for an unknown run,
 * FAILED_PRECONDITION when another run is active or the SFT model is not configured, INTERNAL for bugs.
 */
@GrpcService
public class OrchestratorService extends OrchestratorGrpc.OrchestratorImplBase {

    private static final Logger LOG = Logger.getLogger(OrchestratorService.class);

    @Inject
    RunSupervisor runs;

    @Override
    @Blocking
    public void startRun(StartRunRequest request, StreamObserver<Run> response) {
        unary(response, () -> runs.start(request.getConfig()));
    }

    @Override
    @Blocking
    public void getRun(GetRunRequest request, StreamObserver<Run> response) {
        unary(response, () -> runs.get(requireRunId(request.getRunId())));
    }

    @Override
    @Blocking
    public void stopRun(StopRunRequest request, StreamObserver<Run> response) {
        unary(response, () -> runs.stop(requireRunId(request.getRunId())));
    }

    @Override
    @Blocking
    public void watchRun(WatchRunRequest request, StreamObserver<RunEvent> response) {
        try {
            runs.watch(requireRunId(request.getRunId()), (ServerCallStreamObserver<RunEvent>) response);
        } catch (RuntimeException e) {
            response.onError(status(e));
        }
    }

    private static String requireRunId(String runId) {
        if (runId.isEmpty()) {
            throw Status.INVALID_ARGUMENT.withDescription("run_id is required").asRuntimeException();
        }
        return runId;
    }

    private static <T> void unary(StreamObserver<T> response, Supplier<T> call) {
        T result;
        try {
            result = call.get();
        } catch (RuntimeException e) {
            response.onError(status(e));
            return;
        }
        response.onNext(result);
        response.onCompleted();
    }

    /** The one place exceptions become status codes; the description must stand alone on the client. */
    private static StatusRuntimeException status(RuntimeException e) {
        if (e instanceof StatusRuntimeException s) {
            return s;
        }
        if (e instanceof InvalidSettingException i) {
            return Status.INVALID_ARGUMENT.withDescription(i.getMessage()).asRuntimeException();
        }
        LOG.error("orchestrator call failed", e);
        return Status.INTERNAL.withDescription("internal error: " + e).asRuntimeException();
    }
}
