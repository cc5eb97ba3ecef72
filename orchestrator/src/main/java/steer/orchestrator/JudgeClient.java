package steer.orchestrator;

import io.grpc.ClientInterceptor;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.opentelemetry.api.OpenTelemetry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import steer.proto.v1.CompareBatchRequest;
import steer.proto.v1.CompareBatchResponse;
import steer.proto.v1.CompareRequest;
import steer.proto.v1.CompareWithEmptyBatchRequest;
import steer.proto.v1.CompareWithEmptyRequest;
import steer.proto.v1.Comparison;
import steer.proto.v1.JudgeGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.LoadModelRequest;
import steer.proto.v1.ModelInfo;
import steer.proto.v1.RubricRequest;
import steer.proto.v1.RubricScoreBatchRequest;
import steer.proto.v1.RubricScoreResponse;

/**
 * The orchestrator's view of the judge service: making every judge replica serve a named model at a version, and
 * asking them for preference strengths in batches spread over the replicas. Every answer must come from the model
 * and version asked for; one from another version (a reloaded pinned judge, a policy-following judge behind) fails
 * the run.
 *
 * <p>Every request asks to be judged apart ({@code reproducible}), so a run's verdicts never depend on what else the
 * judge serves at the time. Calls are retried through {@link CallRetry} as {@link PolicyClient}'s are: a judging chunk moves to the next
 * replica, which is first made to serve the model the run ensured (a restarted judge is back at its configured model).
 */
final class JudgeClient implements AutoCloseable {

    /** Items per batch call: the judge service accepts 256 by default. */
    static final int CHUNK = 128;

    private final OrchestratorConfig config;
    private final ServiceReplicas judges;
    private final ReplicaCalls fanOut = new ReplicaCalls("judge-fan-out");
    /** Sends {@code steer.orchestrator.judge-api-key} on every judge call; null = no key. */
    private final ClientInterceptor key;
    private final CallRetry retry;
    /** Per model name, what the run last made every replica serve: what a restarted replica is given back. */
    private final Map<String, Ensured> ensured = new ConcurrentHashMap<>();

    private record Ensured(long version, String location, boolean pinned) {
    }

    JudgeClient(OrchestratorConfig config, OpenTelemetry otel) {
        this.config = config;
        this.retry = new CallRetry(config.callRetryWindow());
        TracingClientInterceptor tracing = new TracingClientInterceptor(otel);
        judges = config.judgeAddress().map(address -> ServiceReplicas.traced("judge",
                "steer.orchestrator.judge-address", address, tracing)).orElse(null);
        key = bearer(config.judgeApiKey());
    }

    /** Sends {@code authorization: Bearer <key>} on every call; null for an absent or blank key. */
    static ClientInterceptor bearer(java.util.Optional<String> key) {
        return key.map(String::trim).filter(k -> !k.isEmpty()).map(k -> {
            Metadata headers = new Metadata();
            headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + k);
            return MetadataUtils.newAttachHeadersInterceptor(headers);
        }).orElse(null);
    }

    /** Whether a judge is configured. */
    boolean configured() {
        return judges != null;
    }

    private List<ServiceReplicas.Replica> replicas() {
        if (judges == null) {
            throw new RunFailure("this run's method asks a judge, but steer.orchestrator.judge-address is not set");
        }
        return judges.current();
    }

    private JudgeGrpc.JudgeBlockingStub judgeAt(ServiceReplicas.Replica r, long deadlineMs) {
        JudgeGrpc.JudgeBlockingStub stub = JudgeGrpc.newBlockingStub(r.channel());
        return (key == null ? stub : stub.withInterceptors(key)).withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS);
    }

    /**
     * Makes every judge replica serve {@code name} at {@code version} from {@code location}. A replica that already
     * serves that name at that version from that directory is left alone.
     *
     * @param pinned a pinned judge must never be replaced: if a replica serves the name at another version or from
     *               another directory, the run fails instead of reloading it (another run may be judging with it)
     */
    void ensure(String name, long version, String location, boolean pinned) {
        for (ServiceReplicas.Replica r : replicas()) {
            retry.call("making the judge at " + r.address() + " serve '" + name + "' version " + version, attempt -> {
                ensureOn(r, name, version, location, pinned);
                return null;
            });
        }
        ensured.put(name, new Ensured(version, location, pinned));
    }

    private void ensureOn(ServiceReplicas.Replica r, String name, long version, String location, boolean pinned) {
        ModelInfo served = served(r, name);
        if (served != null && served.getVersion() == version && sameDir(served.getLocation(), location)) {
            return;
        }
        if (served != null && pinned) {
            throw new RunFailure("the judge at " + r.address() + " serves '" + name + "' version "
                    + served.getVersion() + " from " + served.getLocation() + ", but this run pins it at version "
                    + version + " from " + location + "; give the run's judge another model name");
        }
        try {
            ModelInfo loaded = judgeAt(r, config.loadDeadline().toMillis()).loadModel(LoadModelRequest.newBuilder()
                    .setName(name).setVersion(version).setLocation(location).build()).getModel();
            if (loaded.getVersion() != version) {
                throw new RunFailure("the judge at " + r.address() + " loaded " + location + " as version "
                        + loaded.getVersion() + ", expected " + version);
            }
        } catch (StatusRuntimeException e) {
            throw PolicyClient.failure("judge", r.address(), "LoadModel '" + name + "' from " + location, e);
        }
    }

    /** The model names the first judge replica serves. */
    List<String> servedNames() {
        ServiceReplicas.Replica r = replicas().get(0);
        return retry.call("listing the models of the judge at " + r.address(), attempt -> {
            try {
                return judgeAt(r, config.loadDeadline().toMillis()).listModels(ListModelsRequest.getDefaultInstance())
                        .getModelsList().stream().map(ModelInfo::getName).toList();
            } catch (StatusRuntimeException e) {
                throw PolicyClient.failure("judge", r.address(), "ListModels", e);
            }
        });
    }

    private ModelInfo served(ServiceReplicas.Replica r, String name) {
        try {
            for (ModelInfo m : judgeAt(r, config.loadDeadline().toMillis()).listModels(ListModelsRequest.getDefaultInstance())
                    .getModelsList()) {
                if (m.getName().equals(name)) {
                    return m;
                }
            }
            return null;
        } catch (StatusRuntimeException e) {
            throw PolicyClient.failure("judge", r.address(), "ListModels", e);
        }
    }

    private static boolean sameDir(String a, String b) {
        return Path.of(a).toAbsolutePath().normalize().equals(Path.of(b).toAbsolutePath().normalize());
    }

    /** p(response ≻ empty | prompt), both orders averaged, from {@code model} at {@code version}. */
    List<Double> againstEmpty(String model, long version, List<String> prompts, List<String> responses) {
        return batched(prompts.size(), version, model, (from, to) -> {
            CompareWithEmptyBatchRequest.Builder b = CompareWithEmptyBatchRequest.newBuilder().setReproducible(true);
            for (int i = from; i < to; i++) {
                b.addItems(CompareWithEmptyRequest.newBuilder().setModel(model).setPrompt(prompts.get(i))
                        .setResponse(responses.get(i)));
            }
            return judge -> comparisons(judge.compareWithEmptyBatch(b.build()));
        });
    }

    /** p(a ≻ b | prompt), both orders averaged, from {@code model} at {@code version}. */
    List<Double> compare(String model, long version, List<String> prompts, List<String> a, List<String> b) {
        return batched(prompts.size(), version, model, (from, to) -> {
            CompareBatchRequest.Builder req = CompareBatchRequest.newBuilder().setReproducible(true);
            for (int i = from; i < to; i++) {
                req.addItems(CompareRequest.newBuilder().setModel(model).setPrompt(prompts.get(i))
                        .setResponseA(a.get(i)).setResponseB(b.get(i)));
            }
            return judge -> comparisons(judge.compareBatch(req.build()));
        });
    }

    /** The expected rubric score of each (prompt, response) from {@code model} at {@code version} (TSO's evaluator). */
    List<Double> rubric(String model, long version, List<String> prompts, List<String> responses) {
        return batched(prompts.size(), version, model, (from, to) -> {
            RubricScoreBatchRequest.Builder req = RubricScoreBatchRequest.newBuilder().setReproducible(true);
            for (int i = from; i < to; i++) {
                req.addItems(RubricRequest.newBuilder().setModel(model).setPrompt(prompts.get(i))
                        .setResponse(responses.get(i)));
            }
            return judge -> {
                List<Judged> out = new ArrayList<>();
                for (RubricScoreResponse r : judge.rubricScoreBatch(req.build()).getScoresList()) {
                    out.add(new Judged(r.getModel(), r.getModelVersion(), r.getExpectedScore()));
                }
                return out;
            };
        });
    }

    /** One answer of the judge: the model and version that gave it, and the number. */
    private record Judged(String model, long version, double value) {
    }

    private static List<Judged> comparisons(CompareBatchResponse response) {
        List<Judged> out = new ArrayList<>(response.getComparisonsCount());
        for (Comparison c : response.getComparisonsList()) {
            out.add(new Judged(c.getModel(), c.getModelVersion(), c.getPABetter()));
        }
        return out;
    }

    private interface ChunkCall {
        Function<JudgeGrpc.JudgeBlockingStub, List<Judged>> of(int from, int to);
    }

    private List<Double> batched(int n, long version, String model, ChunkCall call) {
        List<ServiceReplicas.Replica> replicas = replicas();
        List<Double> out = new ArrayList<>(n);
        int chunks = (n + CHUNK - 1) / CHUNK;
        for (int first = 0; first < chunks; first += replicas.size()) {
            List<Callable<List<Double>>> round = new ArrayList<>();
            for (int chunk = first; chunk < Math.min(chunks, first + replicas.size()); chunk++) {
                int from = chunk * CHUNK;
                int to = Math.min(n, from + CHUNK);
                int home = chunk;
                Function<JudgeGrpc.JudgeBlockingStub, List<Judged>> c = call.of(from, to);
                round.add(() -> retry.call("judging items " + from + "-" + to + " with '" + model + "' version "
                        + version, attempt -> {
                            ServiceReplicas.Replica r = replicas.get((home + attempt) % replicas.size());
                            if (attempt > 0) {
                                restore(r, model, version);
                            }
                            return judgeChunk(r, c, to - from, model, version);
                        }));
            }
            for (List<Double> part : fanOut.all(round)) {
                out.addAll(part);
            }
        }
        return out;
    }

    /** Before a retry: the replica serves what the run ensured under {@code model}, if that is {@code version}. */
    private void restore(ServiceReplicas.Replica r, String model, long version) {
        Ensured e = ensured.get(model);
        if (e != null && e.version() == version) {
            ensureOn(r, model, version, e.location(), e.pinned());
        }
    }

    private List<Double> judgeChunk(ServiceReplicas.Replica r, Function<JudgeGrpc.JudgeBlockingStub, List<Judged>> c,
                                    int items, String model, long version) {
        List<Judged> response;
        try {
            response = c.apply(judgeAt(r, config.generateDeadline().toMillis()));
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND && ensured.containsKey(model)) {
                // the run made it serve this model: it restarted since and lost it
                throw new CallRetry.ReplicaBehind("the judge at " + r.address() + " no longer serves '" + model
                        + "': " + e.getStatus().getDescription());
            }
            throw PolicyClient.failure("judge", r.address(), "judging with '" + model + "'", e);
        }
        if (response.size() != items) {
            throw new RunFailure("the judge at " + r.address() + " answered " + response.size() + " items for "
                    + items);
        }
        List<Double> p = new ArrayList<>(items);
        for (Judged j : response) {
            if (!j.model().equals(model) || j.version() != version) {
                throw new CallRetry.ReplicaBehind("the judge at " + r.address() + " judged with '" + j.model()
                        + "' version " + j.version() + "; this round's judge is '" + model + "' version " + version);
            }
            p.add(j.value());
        }
        return p;
    }

    @Override
    public void close() {
        if (judges != null) {
            judges.close();
        }
        fanOut.close();
    }
}
