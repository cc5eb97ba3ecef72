package steer.trainer;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import jakarta.inject.Inject;
import java.util.NoSuchElementException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import steer.proto.v1.CheckpointRequest;
import steer.proto.v1.CheckpointResponse;
import steer.proto.v1.TrainerGrpc;
import steer.proto.v1.TrainerRunStatus;
import steer.proto.v1.TrainerStatus;
import steer.proto.v1.TrainerStatusRequest;
import steer.store.CheckpointStore;
import steer.store.StoredSnapshot;
import steer.train.OnlineTrainer;

/**
 * The gRPC Trainer: reports where training stands (the run of the last trained batch, and every run) and takes
 * snapshot requests (RequestCheckpoint, outside the run's version sequence). Training itself is Kafka's. The admin
 * credential of state-changing calls is checked before this adapter, by {@link AdminAuth}.
 */
@GrpcService
public class TrainerService extends TrainerGrpc.TrainerImplBase {

    /** A snapshot of a model of a few million parameters takes well under a second; a minute means trouble. */
    private static final long CHECKPOINT_TIMEOUT_SECONDS = 60;
    private static final int MAX_REASON_LENGTH = 1000;

    @Inject
    TrainingLoop loop;

    @Override
    public void status(TrainerStatusRequest request, StreamObserver<TrainerStatus> response) {
        OnlineTrainer.Status s = loop.status();
        if (s == null) {
            response.onError(Status.UNAVAILABLE.withDescription(loop.failure() != null
                    ? "the training loop stopped: " + loop.failure() : "the trainer is still loading its model")
                    .asRuntimeException());
            return;
        }
        TrainerStatus.Builder b = TrainerStatus.newBuilder().setIteration(s.iteration()).setStep(s.step())
                .setCheckpointVersion(s.checkpointVersion()).setConsumerLag(loop.consumerLag())
                .putAllLastMetrics(s.lastMetrics()).setBatchesTrained(s.trained())
                .setBatchesDuplicate(s.duplicate()).setBatchesStale(s.stale());
        if (s.runId() != null) {
            b.setRunId(s.runId());
        }
        for (OnlineTrainer.Status r : loop.runs()) {
            b.addRuns(TrainerRunStatus.newBuilder().setRunId(r.runId()).setIteration(r.iteration()).setStep(r.step())
                    .setCheckpointVersion(r.checkpointVersion()).setBatchesTrained(r.trained())
                    .setBatchesDuplicate(r.duplicate()).setBatchesStale(r.stale()).setLoaded(r.loaded())
                    .setReferenceVersion(r.lastMetrics().getOrDefault("reference_version", 0.0).longValue()));
        }
        response.onNext(b.build());
        response.onCompleted();
    }

    @Override
    @Blocking
    public void requestCheckpoint(CheckpointRequest request, StreamObserver<CheckpointResponse> response) {
        if (request.getReason().length() > MAX_REASON_LENGTH) {
            response.onError(Status.INVALID_ARGUMENT.withDescription("reason must be at most " + MAX_REASON_LENGTH
                    + " characters, got " + request.getReason().length()).asRuntimeException());
            return;
        }
        String runId = request.getRunId().isEmpty() ? null : request.getRunId();
        if (runId != null) {
            try {
                CheckpointStore.requireRunId(runId);
            } catch (IllegalArgumentException e) {
                response.onError(Status.INVALID_ARGUMENT.withDescription("run_id: " + e.getMessage())
                        .asRuntimeException());
                return;
            }
        }
        try {
            StoredSnapshot c = loop.requestCheckpoint(runId).get(CHECKPOINT_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            response.onNext(CheckpointResponse.newBuilder().setVersion(c.basedOnVersion())
                    .setLocation(c.location().toString()).setStep(c.step()).setIteration(c.iteration()).build());
            response.onCompleted();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            Status status = cause instanceof NoSuchElementException ? Status.NOT_FOUND
                    : cause instanceof IllegalStateException ? Status.FAILED_PRECONDITION : Status.INTERNAL;
            response.onError(status.withDescription("checkpoint not written: " + cause.getMessage())
                    .asRuntimeException());
        } catch (TimeoutException e) {
            response.onError(Status.DEADLINE_EXCEEDED.withDescription("the training loop did not write the"
                    + " checkpoint within " + CHECKPOINT_TIMEOUT_SECONDS + " s").asRuntimeException());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            response.onError(Status.CANCELLED.withDescription("interrupted").asRuntimeException());
        }
    }
}
