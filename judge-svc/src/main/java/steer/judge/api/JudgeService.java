package steer.judge.api;

import io.grpc.Context;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import steer.judge.CalibrationFile;
import steer.judge.JudgeTemplates;
import steer.judge.PairwiseJudge;
import steer.judge.PairwiseTemplate;
import steer.judge.RubricJudge;
import steer.judge.RubricTemplate;
import steer.proto.v1.CompareBatchRequest;
import steer.proto.v1.CompareBatchResponse;
import steer.proto.v1.CompareRequest;
import steer.proto.v1.CompareWithEmptyBatchRequest;
import steer.proto.v1.CompareWithEmptyRequest;
import steer.proto.v1.Comparison;
import steer.proto.v1.JudgeGrpc;
import steer.proto.v1.JudgeTemplate;
import steer.proto.v1.ListTemplatesRequest;
import steer.proto.v1.ListTemplatesResponse;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.ListModelsResponse;
import steer.proto.v1.LoadModelRequest;
import steer.proto.v1.LoadModelResponse;
import steer.proto.v1.OrderLogits;
import steer.proto.v1.RubricRequest;
import steer.proto.v1.RubricScoreBatchRequest;
import steer.proto.v1.RubricScoreBatchResponse;
import steer.proto.v1.RubricScoreResponse;
import steer.proto.v1.ScoreProbability;
import steer.serving.BatchedJudge;
import steer.serving.InvalidFieldException;
import steer.serving.ModelRegistry;
import steer.serving.Validation;
import steer.serving.grpc.CallDeadlines;
import steer.serving.grpc.GrpcErrors;
import steer.serving.grpc.RequestLatency;

/**
 * The Judge gRPC API: validate, convert to library items, queue them on the judge's batchers, convert back.
 *
 * <p>Threads: the judging RPCs only validate (tokenizing bounded texts) and queue work, so they stay on the
 * event loop, where the call's gRPC {@link Context} (deadline, cancellation; see {@link CallDeadlines}) is
 * current; the model runs on the batchers' threads. LoadModel reads a checkpoint, so it is {@code @Blocking}.
 * A batch request's items (CompareBatch, CompareWithEmptyBatch, RubricScoreBatch) must all name the same model and
 * template, since they run as one batch.
 */
@GrpcService
public class JudgeService extends JudgeGrpc.JudgeImplBase {

    private final ModelCatalog catalog;
    private final RequestLatency latency;
    private final Calibrations calibrations;

    JudgeService(ModelCatalog catalog, MeterRegistry meters) {
        this.catalog = catalog;
        this.calibrations = new Calibrations(catalog.models().registry());
        this.latency = new RequestLatency(meters, "steer.judge.request", "judge latency, queueing included");
    }

    @Override
    public void compare(CompareRequest request, StreamObserver<Comparison> call) {
        run("Compare", call, () -> comparisons("", List.of(request), false), r -> toProto(r, 0, templateOf(request)));
    }

    @Override
    public void compareBatch(CompareBatchRequest request, StreamObserver<CompareBatchResponse> call) {
        run("CompareBatch", call, () -> comparisons("items", request.getItemsList(), request.getReproducible()),
                r -> toBatch(r, templateOf(request.getItems(0))));
    }

    @Override
    public void compareWithEmpty(CompareWithEmptyRequest request, StreamObserver<Comparison> call) {
        run("CompareWithEmpty", call, () -> comparisons("", List.of(againstEmpty(request)), false),
                r -> toProto(r, 0, templateOf(againstEmpty(request))));
    }

    @Override
    public void compareWithEmptyBatch(CompareWithEmptyBatchRequest request, StreamObserver<CompareBatchResponse> call) {
        run("CompareWithEmptyBatch", call, () -> comparisons("items",
                request.getItemsList().stream().map(JudgeService::againstEmpty).toList(), request.getReproducible()),
                r -> toBatch(r, templateOf(againstEmpty(request.getItems(0)))));
    }

    /** A comparison with an empty B, marked so that validation accepts the empty side. */
    private static CompareRequest againstEmpty(CompareWithEmptyRequest r) {
        return CompareRequest.newBuilder().setModel(r.getModel()).setTemplateId(r.getTemplateId()).setPrompt(r.getPrompt())
                .setResponseA(r.getResponse()).build();
    }

    @Override
    public void rubricScore(RubricRequest request, StreamObserver<RubricScoreResponse> call) {
        run("RubricScore", call, () -> ratings("", List.of(request), false), judged -> toRating(judged, 0));
    }

    @Override
    public void rubricScoreBatch(RubricScoreBatchRequest request, StreamObserver<RubricScoreBatchResponse> call) {
        run("RubricScoreBatch", call, () -> ratings("items", request.getItemsList(), request.getReproducible()),
                judged -> {
            RubricScoreBatchResponse.Builder out = RubricScoreBatchResponse.newBuilder();
            for (int i = 0; i < judged.results().size(); i++) {
                out.addScores(toRating(judged, i));
            }
            return out.build();
        });
    }

    /**
     * Validates rubric requests and queues them as one job.
     *
     * @param field {@code items} for a batch request, empty for a single one (fields are then top-level)
     */
    private CompletableFuture<BatchedJudge.Judged<RubricJudge.Rating>> ratings(String field, List<RubricRequest> requests,
                                                                             boolean reproducible) {
        JudgeConfig config = catalog.config();
        boolean batch = !field.isEmpty();
        if (batch) {
            items(field, requests, config);
        }
        String model = null;
        RubricTemplate template = null;
        List<RubricJudge.Item> items = new ArrayList<>(requests.size());
        for (int i = 0; i < requests.size(); i++) {
            RubricRequest r = requests.get(i);
            String prefix = batch ? Validation.indexed(field, i) + "." : "";
            String m = servedModel(prefix + "model", r.getModel());
            RubricTemplate t = catalog.templates().rubric(prefix + "template_id", r.getTemplateId());
            if (model != null && (!model.equals(m) || !template.id().equals(t.id()))) {
                throw new InvalidFieldException(prefix + "model", "every item of a batch must name the same model and "
                        + "template as items[0] ('" + model + "', '" + template.id() + "')");
            }
            model = m;
            template = t;
            text(prefix + "prompt", r.getPrompt(), config);
            text(prefix + "response", r.getResponse(), config);
            items.add(new RubricJudge.Item(r.getPrompt(), r.getResponse()));
        }
        catalog.judge().checkRubricLengths(batch ? field : "prompt", model, template, items);
        return catalog.judge().rate(model, template, items, reproducible, CallDeadlines.deadlineNanoTime());
    }

    /** One rating with the distribution over every score token of the template and its expected score. */
    private static RubricScoreResponse toRating(BatchedJudge.Judged<RubricJudge.Rating> judged, int i) {
        RubricJudge.Rating r = judged.results().get(i);
        RubricScoreResponse.Builder out = RubricScoreResponse.newBuilder().setExpectedScore(r.expectedScore())
                .setMostLikelyScore(r.mostLikely()).setModel(judged.model()).setModelVersion(judged.modelVersion());
        for (int s = 0; s < r.scores().length; s++) {
            out.addDistribution(ScoreProbability.newBuilder().setScore(r.scores()[s]).setProbability(r.probabilities()[s]));
        }
        return out.build();
    }

    /**
     * Validates comparisons and queues them as one job.
     *
     * @param field {@code items} for a batch request, empty for a single one (fields are then top-level)
     */
    private CompletableFuture<BatchedJudge.Judged<PairwiseJudge.Verdict>> comparisons(String field,
                                                                                    List<CompareRequest> requests,
                                                                                    boolean reproducible) {
        JudgeConfig config = catalog.config();
        boolean batch = !field.isEmpty();
        if (batch) {
            items(field, requests, config);
        }
        String model = null;
        PairwiseTemplate template = null;
        List<PairwiseJudge.Item> items = new ArrayList<>(requests.size());
        for (int i = 0; i < requests.size(); i++) {
            CompareRequest r = requests.get(i);
            String prefix = batch ? Validation.indexed(field, i) + "." : "";
            String m = servedModel(prefix + "model", r.getModel());
            PairwiseTemplate t = catalog.templates().pairwise(prefix + "template_id", r.getTemplateId());
            if (model != null && (!model.equals(m) || !template.id().equals(t.id()))) {
                throw new InvalidFieldException(prefix + "model", "every item of a batch must name the same model and "
                        + "template as items[0] ('" + model + "', '" + template.id() + "')");
            }
            model = m;
            template = t;
            text(prefix + "prompt", r.getPrompt(), config);
            text(prefix + "response_a", r.getResponseA(), config);
            // B is empty only in comparisons with the empty response, which build it themselves
            maxChars(prefix + "response_b", r.getResponseB(), config);
            items.add(new PairwiseJudge.Item(r.getPrompt(), r.getResponseA(), r.getResponseB()));
        }
        catalog.judge().checkPairwiseLengths(batch ? field : "prompt", model, template, items);
        return catalog.judge().compare(model, template, items, reproducible, CallDeadlines.deadlineNanoTime());
    }

    private String servedModel(String requested) {
        return servedModel("model", requested);
    }

    private String servedModel(String field, String requested) {
        return catalog.models().served(field, requested).name();
    }

    private static void text(String field, String value, JudgeConfig config) {
        Validation.requireText(field, value);
        maxChars(field, value, config);
    }

    // the per-request limits name their configuration key, so a caller can tell an operator which one it met

    private static void maxChars(String field, String value, JudgeConfig config) {
        if (value.length() > config.maxTextChars()) {
            throw new InvalidFieldException(field, value.length() + " characters; at most " + config.maxTextChars()
                    + " (steer.judge.max-text-chars)");
        }
    }

    private static void items(String field, List<?> items, JudgeConfig config) {
        if (items.isEmpty() || items.size() > config.maxItems()) {
            throw new InvalidFieldException(field, items.size() + " items; need 1.." + config.maxItems()
                    + " (steer.judge.max-items)");
        }
    }

    /** Validates and queues on the calling thread, answers from the batcher's, and times the call. */
    private <J, R> void run(String rpc, StreamObserver<R> call, java.util.function.Supplier<CompletableFuture<J>> submit,
                            Function<J, R> toProto) {
        Timer.Sample timer = latency.start();
        Context context = Context.current();
        CompletableFuture<J> work;
        try {
            work = submit.get();
        } catch (RuntimeException e) {
            latency.record(timer, rpc, e);
            call.onError(GrpcErrors.toStatus(e));
            return;
        }
        // a cancelled call (client gone, deadline passed) cancels its queued work so the batcher skips it
        context.addListener(ctx -> work.cancel(false), Runnable::run);
        work.whenComplete((result, failure) -> {
            // recorded before answering, so a client that has its answer also finds the call in the metrics
            latency.record(timer, rpc, failure);
            // writing to a call the client already reset would tear down the HTTP/2 connection (see CallDeadlines)
            if (!context.isCancelled()) {
                if (failure != null) {
                    call.onError(GrpcErrors.toStatus(failure));
                } else {
                    call.onNext(toProto.apply(result));
                    call.onCompleted();
                }
            }
        });
    }

    @Override
    public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> response) {
        catalog.models().listModels(request, response);
    }

    @Override
    @Blocking
    public void loadModel(LoadModelRequest request, StreamObserver<LoadModelResponse> response) {
        catalog.models().loadModel(request, response);
    }

    /**
     * The served templates and, for the requested model, whether its tokenizer resolves each one's answers.
     * {@code @Blocking}: resolving renders the model's chat template and tokenizes, once per template and model.
     */
    @Override
    @Blocking
    public void listTemplates(ListTemplatesRequest request, StreamObserver<ListTemplatesResponse> call) {
        try {
            String model = servedModel(request.getModel());
            ListTemplatesResponse.Builder out = ListTemplatesResponse.newBuilder().setModel(model);
            try (ModelRegistry.Lease lease = catalog.models().registry().acquire(model)) {
                for (JudgeTemplates.Description d : catalog.templates().describe()) {
                    Optional<String> unusable = catalog.templates().unusable(lease.model().tokenizer(), d.id());
                    out.addTemplates(JudgeTemplate.newBuilder().setId(d.id()).setKind(d.kind()).setAnswerA(d.answerA())
                            .setAnswerB(d.answerB()).setMinScore(d.minScore()).setMaxScore(d.maxScore()).setSource(d.source())
                            .setUsable(unusable.isEmpty()).setUnusableReason(unusable.orElse("")));
                }
            }
            call.onNext(out.build());
            call.onCompleted();
        } catch (RuntimeException e) {
            call.onError(GrpcErrors.toStatus(e));
        }
    }

    private CompareBatchResponse toBatch(BatchedJudge.Judged<PairwiseJudge.Verdict> judged, String template) {
        CompareBatchResponse.Builder out = CompareBatchResponse.newBuilder();
        for (int i = 0; i < judged.results().size(); i++) {
            out.addComparisons(toProto(judged, i, template));
        }
        return out.build();
    }

    /** The id of the pairwise template a (validated) request names. */
    private String templateOf(CompareRequest r) {
        return catalog.templates().pairwise("template_id", r.getTemplateId()).id();
    }

    private Comparison toProto(BatchedJudge.Judged<PairwiseJudge.Verdict> judged, int i, String template) {
        PairwiseJudge.Verdict v = judged.results().get(i);
        Comparison.Builder c = Comparison.newBuilder().setPABetter(v.pABetter()).setPABetterAb(v.pAB())
                .setPABetterBa(v.pBA())
                .setLogitsAb(OrderLogits.newBuilder().setLogitA(v.ab().a()).setLogitB(v.ab().b()))
                .setLogitsBa(OrderLogits.newBuilder().setLogitA(v.ba().a()).setLogitB(v.ba().b()))
                .setModel(judged.model()).setModelVersion(judged.modelVersion());
        OptionalDouble t = calibrations.temperature(judged.model(), judged.modelVersion(), template);
        if (t.isPresent()) {
            c.setPABetterCalibrated(CalibrationFile.calibrated(v.ab(), v.ba(), t.getAsDouble()))
                    .setCalibrationTemperature(t.getAsDouble());
        }
        return c.build();
    }
}
