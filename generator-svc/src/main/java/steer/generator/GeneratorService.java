package steer.generator;

import io.grpc.Context;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import steer.model.GeneratedSequence;
import steer.model.SamplingParams;
import steer.proto.v1.GenerateRequest;
import steer.proto.v1.GenerateResponse;
import steer.proto.v1.GeneratorGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.ListModelsResponse;
import steer.proto.v1.LoadModelRequest;
import steer.proto.v1.LoadModelResponse;
import steer.proto.v1.PromptResponse;
import steer.proto.v1.Sample;
import steer.proto.v1.ScoreRequest;
import steer.proto.v1.ScoreResponse;
import steer.proto.v1.SequenceScore;
import steer.serving.BatchedGenerator;
import steer.serving.BatchedScorer;
import steer.serving.GeneratedSample;
import steer.serving.InvalidFieldException;
import steer.serving.SamplingRequest;
import steer.serving.ServedModel;
import steer.serving.Validation;
import steer.serving.grpc.CallDeadlines;
import steer.serving.grpc.GrpcErrors;
import steer.serving.grpc.RequestLatency;

/**
 * The Generator gRPC API: validate, convert to library jobs, queue them on the batchers, convert back.
 *
 * <p>Threads: Generate, GenerateStream and Score only validate (tokenizing prompts of bounded length takes
 * microseconds) and queue work, so they stay on the event loop, where the call's gRPC {@link Context} (its
 * deadline and cancellation) is current; a {@code @Blocking} method runs on a worker thread without it. The
 * model runs on the batchers' threads, and responses are sent from there as futures complete. A cancelled
 * call or a passed deadline cancels the call's queued work, which the batcher then drops unrun. LoadModel
 * reads a checkpoint, so it is {@code @Blocking}.
 */
@GrpcService
public class GeneratorService extends GeneratorGrpc.GeneratorImplBase {

    private final ModelCatalog catalog;
    private final Counter generatedTokens;
    private final RequestLatency latency;

    GeneratorService(ModelCatalog catalog, MeterRegistry meters) {
        this.catalog = catalog;
        this.latency = new RequestLatency(meters, "steer.generator.request", "request latency, queueing included");
        this.generatedTokens = Counter.builder("steer.generator.tokens").description("generated tokens")
                .baseUnit("tokens").register(meters);
    }

    @Override
    public void generate(GenerateRequest request, StreamObserver<GenerateResponse> call) {
        StreamObserver<GenerateResponse> response = whileLive(call);
        Timer.Sample timer = latency.start();
        List<CompletableFuture<List<GeneratedSample>>> parts = submitOrRefuse(request, response, timer, "Generate");
        if (parts == null) {
            return;
        }
        CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).whenComplete((ignored, failure) -> {
            // recorded before answering, so a client that has its answer also finds the call in the metrics
            latency.record(timer, "Generate", failure);
            if (failure != null) {
                response.onError(GrpcErrors.toStatus(failure));
            } else {
                GenerateResponse.Builder out = GenerateResponse.newBuilder();
                parts.forEach(p -> p.join().forEach(s -> out.addSamples(toProto(s))));
                response.onNext(out.build());
                response.onCompleted();
            }
        });
    }

    @Override
    public void generateStream(GenerateRequest request, StreamObserver<Sample> call) {
        StreamObserver<Sample> response = whileLive(call);
        Timer.Sample timer = latency.start();
        List<CompletableFuture<List<GeneratedSample>>> parts = submitOrRefuse(request, response, timer, "GenerateStream");
        if (parts == null) {
            return;
        }
        // chunks finish on the batcher thread in any order; the observer is not thread-safe, so calls are serialised
        AtomicBoolean failed = new AtomicBoolean();
        CompletableFuture<?>[] sent = new CompletableFuture<?>[parts.size()];
        for (int i = 0; i < parts.size(); i++) {
            sent[i] = parts.get(i).whenComplete((samples, failure) -> {
                synchronized (response) {
                    if (failure != null) {
                        if (failed.compareAndSet(false, true)) {
                            parts.forEach(p -> p.cancel(false));
                            response.onError(GrpcErrors.toStatus(failure));
                        }
                    } else if (!failed.get()) {
                        samples.forEach(s -> response.onNext(toProto(s)));
                    }
                }
            });
        }
        CompletableFuture.allOf(sent).whenComplete((ignored, failure) -> {
            latency.record(timer, "GenerateStream", failure);
            synchronized (response) {
                if (!failed.get()) {
                    response.onCompleted();
                }
            }
        });
    }

    private List<CompletableFuture<List<GeneratedSample>>> submit(GenerateRequest request) {
        GeneratorConfig config = catalog.config();
        ServedModel served = catalog.models().served("model", request.getModel());
        String model = served.name();
        Validation.requireCount("prompts", request.getPromptsList(), 1, config.maxPrompts());
        for (int i = 0; i < request.getPromptsCount(); i++) {
            Validation.requireText(Validation.indexed("prompts", i), request.getPrompts(i));
            Validation.requireMaxChars(Validation.indexed("prompts", i), request.getPrompts(i), config.maxTextChars());
        }
        int n = request.getN() == 0 ? 1 : request.getN();
        Validation.requireInRange("n", n, 1, config.maxSamples());
        var s = request.getSampling();
        SamplingRequest sampling = new SamplingRequest(s.getMaxNewTokens(),
                s.hasTemperature() ? OptionalDouble.of(s.getTemperature()) : OptionalDouble.empty(),
                s.hasTopP() ? OptionalDouble.of(s.getTopP()) : OptionalDouble.empty(), s.getTopK(),
                s.hasSeed() ? OptionalLong.of(s.getSeed()) : OptionalLong.empty(), s.getStopList());
        SamplingParams params = sampling.resolve("sampling", SamplingRequest.Defaults.sso(), served.maxPositions(),
                catalog.generator().pickSeed());
        if (request.getReproducible() && !s.hasSeed() && params.temperature() != 0) {
            throw new InvalidFieldException("reproducible", "is true but sampling.seed is absent: a sampled request is"
                    + " reproducible only with a seed of its own (set sampling.seed, or temperature 0 for greedy)");
        }
        catalog.generator().checkPromptLengths(model, request.getPromptsList(), params.maxNewTokens());
        BatchedGenerator.Job job = new BatchedGenerator.Job(model, List.copyOf(request.getPromptsList()), n, params,
                List.copyOf(s.getStopList()), s.hasSeed(), request.getReproducible());
        List<CompletableFuture<List<GeneratedSample>>> parts = catalog.generator().submit(job, CallDeadlines.deadlineNanoTime());
        cancelOnCallEnd(parts);
        return parts;
    }

    @Override
    public void score(ScoreRequest request, StreamObserver<ScoreResponse> call) {
        StreamObserver<ScoreResponse> response = whileLive(call);
        Timer.Sample timer = latency.start();
        CompletableFuture<BatchedScorer.Result> result;
        try {
            GeneratorConfig config = catalog.config();
            String model = catalog.models().served("model", request.getModel()).name();
            Validation.requireCount("pairs", request.getPairsList(), 1, config.maxPrompts() * config.maxSamples());
            BatchedScorer.Job job = hasIds(request.getPairs(0)) ? tokenJob(model, request) : textJob(model, request);
            result = catalog.scorer().submit(job, request.getReproducible(), CallDeadlines.deadlineNanoTime());
            cancelOnCallEnd(List.of(result));
        } catch (RuntimeException e) {
            latency.record(timer, "Score", e);
            response.onError(GrpcErrors.toStatus(e));
            return;
        }
        result.whenComplete((r, failure) -> {
            latency.record(timer, "Score", failure);
            if (failure != null) {
                response.onError(GrpcErrors.toStatus(failure));
            } else {
                ScoreResponse.Builder out = ScoreResponse.newBuilder().setModel(r.model()).setModelVersion(r.modelVersion());
                for (int i = 0; i < r.scores().size(); i++) {
                    var lp = r.scores().get(i);
                    SequenceScore.Builder score = SequenceScore.newBuilder().setSumLogprob(lp.sum()).setMeanLogprob(lp.mean())
                            .setResponseTokens(lp.perToken().length);
                    for (float f : lp.perToken()) {
                        score.addTokenLogprobs(f);
                    }
                    if (!r.nextTokens().isEmpty()) {
                        for (float f : r.nextTokens().get(i)) {
                            score.addNextTokenLogprobs(f);
                        }
                    }
                    out.addScores(score);
                }
                response.onNext(out.build());
                response.onCompleted();
            }
        });
    }

    private static boolean hasIds(PromptResponse pair) {
        return pair.getPromptTokenIdsCount() > 0 || pair.getResponseTokenIdsCount() > 0;
    }

    /** A request's pairs as texts; every pair must be texts, as the first is. */
    private BatchedScorer.Job textJob(String model, ScoreRequest request) {
        int maxChars = catalog.config().maxTextChars();
        List<String> prompts = new ArrayList<>();
        List<String> responses = new ArrayList<>();
        for (int i = 0; i < request.getPairsCount(); i++) {
            String field = Validation.indexed("pairs", i);
            PromptResponse pair = request.getPairs(i);
            if (hasIds(pair)) {
                throw new InvalidFieldException(field, "holds token ids but pairs[0] holds texts; a request's pairs"
                        + " are all texts or all token ids");
            }
            Validation.requireText(field + ".prompt", pair.getPrompt());
            Validation.requireMaxChars(field + ".prompt", pair.getPrompt(), maxChars);
            Validation.requireMaxChars(field + ".response", pair.getResponse(), maxChars);
            prompts.add(pair.getPrompt());
            responses.add(pair.getResponse());
        }
        catalog.scorer().checkLengths(model, prompts, responses);
        return new BatchedScorer.Job(model, prompts, responses);
    }

    /** A request's pairs as token ids, scored as given; every pair must be ids, as the first is. */
    private BatchedScorer.Job tokenJob(String model, ScoreRequest request) {
        List<int[]> prompts = new ArrayList<>();
        List<int[]> responses = new ArrayList<>();
        List<int[]> nextTokens = new ArrayList<>();
        boolean next = request.getPairs(0).getNextTokenIdsCount() > 0;
        for (int i = 0; i < request.getPairsCount(); i++) {
            String field = Validation.indexed("pairs", i);
            PromptResponse pair = request.getPairs(i);
            if (!pair.getPrompt().isEmpty() || !pair.getResponse().isEmpty()) {
                throw new InvalidFieldException(field, "holds texts but pairs[0] holds token ids; a pair is texts or"
                        + " token ids, and a request's pairs are all one or all the other");
            }
            if (next && pair.getResponseTokenIdsCount() > 0) {
                throw new InvalidFieldException(field + ".response_token_ids", "must be empty with next_token_ids:"
                        + " the candidates' log-probs are those right after the prompt");
            }
            if (!next && pair.getNextTokenIdsCount() > 0) {
                throw new InvalidFieldException(field + ".next_token_ids", "is set but pairs[0]'s is not; a"
                        + " request's pairs all ask for next-token log-probs or none do");
            }
            prompts.add(pair.getPromptTokenIdsList().stream().mapToInt(Integer::intValue).toArray());
            responses.add(pair.getResponseTokenIdsList().stream().mapToInt(Integer::intValue).toArray());
            nextTokens.add(pair.getNextTokenIdsList().stream().mapToInt(Integer::intValue).toArray());
        }
        catalog.scorer().checkTokens(model, prompts, responses);
        if (next) {
            catalog.scorer().checkNextTokens(model, nextTokens);
            return BatchedScorer.Job.ofNextTokens(model, prompts, nextTokens);
        }
        return BatchedScorer.Job.ofTokens(model, prompts, responses);
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

    /** Validates and queues a generate request; a refused one is timed and answered with its error, and is null. */
    private List<CompletableFuture<List<GeneratedSample>>> submitOrRefuse(GenerateRequest request,
                                                                         StreamObserver<?> response, Timer.Sample timer,
                                                                         String rpc) {
        try {
            return submit(request);
        } catch (RuntimeException e) {
            latency.record(timer, rpc, e);
            response.onError(GrpcErrors.toStatus(e));
            return null;
        }
    }

    /** A cancelled call (client gone, deadline passed) cancels its queued work so the batcher skips it. */
    private static void cancelOnCallEnd(List<? extends CompletableFuture<?>> work) {
        Context.current().addListener(ctx -> work.forEach(f -> f.cancel(false)), Runnable::run);
    }

    /**
     * Answers only while the call is live: writing to a call the client already reset (deadline passed) makes
     * the HTTP/2 server reset the whole connection, failing every other call on it.
     */
    private static <T> StreamObserver<T> whileLive(StreamObserver<T> response) {
        Context call = Context.current();
        return new StreamObserver<>() {
            @Override
            public void onNext(T value) {
                if (!call.isCancelled()) {
                    response.onNext(value);
                }
            }

            @Override
            public void onError(Throwable t) {
                if (!call.isCancelled()) {
                    response.onError(t);
                }
            }

            @Override
            public void onCompleted() {
                if (!call.isCancelled()) {
                    response.onCompleted();
                }
            }
        };
    }

    private Sample toProto(GeneratedSample s) {
        generatedTokens.increment(s.tokenIds().length);
        Sample.Builder b = Sample.newBuilder().setPromptIndex(s.promptIndex()).setSampleIndex(s.sampleIndex())
                .setText(s.text()).setFinishReason(s.finishReason().wireName()).setModel(s.model())
                .setModelVersion(s.modelVersion()).setSeed(s.seed());
        for (int id : s.tokenIds()) {
            b.addTokenIds(id);
        }
        for (float lp : s.logProbs()) {
            b.addTokenLogprobs(lp);
        }
        return b.build();
    }

}
