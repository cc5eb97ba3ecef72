package steer.orchestrator;

import io.grpc.StatusRuntimeException;
import io.opentelemetry.api.OpenTelemetry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.IntConsumer;
import java.util.function.IntToLongFunction;
import steer.align.ResponseTokens;
import steer.align.SamplingSettings;
import steer.proto.v1.GenerateRequest;
import steer.proto.v1.GenerateResponse;
import steer.proto.v1.GeneratorGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.LoadModelRequest;
import steer.proto.v1.LoadModelResponse;
import steer.model.ResponseLogProbs;
import steer.proto.v1.ModelInfo;
import steer.proto.v1.PromptResponse;
import steer.proto.v1.Sample;
import steer.proto.v1.SamplingParams;
import steer.proto.v1.ScoreRequest;
import steer.proto.v1.ScoreResponse;
import steer.proto.v1.SequenceScore;

/**
 * The orchestrator's view of the generator service: sampling from the policy on the generator replicas, and loading
 * a checkpoint as the policy on every replica (see {@link ServiceReplicas}; the judge is {@link JudgeClient}). Every call carries a deadline from {@link OrchestratorConfig}; failures surface as
 * {@link RunFailure} with the replica's address and status.
 *
 * <p>A replica that restarts (a killed pod) fails calls for a while and then comes back serving its configured
 * model at version 0. Every call here is retried through {@link CallRetry}: a sampling chunk moves to the next
 * replica, and any replica is first made to serve the model and version the run loaded on it before it is asked
 * again. The chunk's seed is in the request, so the retried chunk samples the same texts.
 */
final class PolicyClient implements AutoCloseable {

    private final OrchestratorConfig config;
    private final ServiceReplicas generators;
    /** Runs one chunk per generator replica at a time when there are several. */
    private final ReplicaCalls fanOut = new ReplicaCalls("generator-fan-out");
    /**
     * Runs an evaluation's requests, {@value #EVALUATION_CALLS} at once: {@value #EVALUATION_CALLS} ×
     * {@value #EVALUATION_CHUNK} sequences keep the continuous batches of a small generator (32 slots per decoding
     * thread) full, and leave room in its queue for a round's sampling.
     */
    private final ReplicaCalls evaluationCalls = new ReplicaCalls("generator-evaluation", EVALUATION_CALLS);
    private static final int EVALUATION_CALLS = 8;
    /**
     * Prompts per Generate request of an evaluation. A generator numbers a request's sequences from stream 0 within
     * each of its batches of {@code steer.generator.max-batch-size} (32 by default), so a request of at most that many
     * prompts seeded with {@code seedOf(first prompt)} draws stream j for its prompt j; 16 keeps that true for any
     * max-batch-size from 16 up, while sending an evaluation of 500 queries in 32 requests instead of 500.
     */
    static final int EVALUATION_CHUNK = 16;
    /** Pairs per Score request of an evaluation. */
    private static final int SCORE_CHUNK = 64;
    private final CallRetry retry;
    /** Per model name, the version and location the run last made every replica serve: what a restarted replica is given back. */
    private final Map<String, Served> served = new ConcurrentHashMap<>();

    private record Served(long version, String location) {
    }

    /** Sends {@code steer.orchestrator.generator-admin-key} on every generator call; null = no key. */
    private final io.grpc.ClientInterceptor key;

    PolicyClient(OrchestratorConfig config, OpenTelemetry otel) {
        this.config = config;
        this.retry = new CallRetry(config.callRetryWindow());
        key = JudgeClient.bearer(config.generatorAdminKey());
        generators = ServiceReplicas.traced("generator", "steer.orchestrator.generator-address",
                config.generatorAddress(), new TracingClientInterceptor(otel));
    }

    private GeneratorGrpc.GeneratorBlockingStub generator(ServiceReplicas.Replica r) {
        GeneratorGrpc.GeneratorBlockingStub stub = GeneratorGrpc.newBlockingStub(r.channel());
        return key == null ? stub : stub.withInterceptors(key);
    }

    /**
     * Makes every generator replica serve {@code version} as the policy: asks each which version it serves and
     * loads {@code location} under that version where it is another one (a restarted or newly added replica is at
     * version 0).
     */
    void ensurePolicy(long version, String location) {
        ensureModel(config.policyModel(), version, location);
    }

    /**
     * Makes every generator replica serve {@code location} as {@code version} under {@code name} (TSO's matrix: another
     * size, or an earlier version of the policy), loading it where the replica serves another version or nothing
     * under that name. The other names a replica serves stay served.
     */
    void ensureModel(String name, long version, String location) {
        for (ServiceReplicas.Replica r : generators.current()) {
            retry.call("making the generator at " + r.address() + " serve '" + name + "' version " + version,
                    attempt -> {
                        ensureOn(r, name, version, location);
                        return null;
                    });
        }
        if (location != null && !location.isEmpty()) {
            served.put(name, new Served(version, location));
        }
    }

    /** One replica: loads {@code location} as {@code version} unless it serves that version already. */
    private void ensureOn(ServiceReplicas.Replica r, String name, long version, String location) {
        ModelInfo current = generatorModel(r, name);
        if (current != null && current.getVersion() == version) {
            return;
        }
        if (location == null || location.isEmpty()) {
            throw new RunFailure("the generator at " + r.address() + " serves "
                    + (current == null ? "no model named '" + name + "'"
                    : "'" + name + "' at version " + current.getVersion())
                    + ", the run needs version " + version + " and steer.orchestrator.base-model is not set to load it");
        }
        loadOn(r, name, version, location);
    }

    private ModelInfo generatorModel(ServiceReplicas.Replica r, String name) {
        try {
            for (ModelInfo m : generator(r).withDeadlineAfter(config.loadDeadline().toMillis(), TimeUnit.MILLISECONDS)
                    .listModels(ListModelsRequest.getDefaultInstance()).getModelsList()) {
                if (m.getName().equals(name)) {
                    return m;
                }
            }
            return null;
        } catch (StatusRuntimeException e) {
            throw failure("generator", r.address(), "ListModels", e);
        }
    }

    /** Loads a checkpoint as the policy on every generator replica; returns how many there are. */
    int loadOnGenerator(long version, String location) {
        List<ServiceReplicas.Replica> replicas = generators.current();
        for (ServiceReplicas.Replica r : replicas) {
            retry.call("loading version " + version + " on the generator at " + r.address(), attempt -> {
                loadOn(r, config.policyModel(), version, location);
                return null;
            });
        }
        served.put(config.policyModel(), new Served(version, location));
        return replicas.size();
    }

    private void loadOn(ServiceReplicas.Replica r, String name, long version, String location) {
        try {
            LoadModelResponse response = generator(r).withDeadlineAfter(config.loadDeadline().toMillis(),
                    TimeUnit.MILLISECONDS).loadModel(LoadModelRequest.newBuilder().setName(name).setVersion(version)
                    .setLocation(location).build());
            if (response.getModel().getVersion() != version) {
                throw new RunFailure("the generator at " + r.address() + " loaded " + location + " as version "
                        + response.getModel().getVersion() + ", expected " + version);
            }
        } catch (StatusRuntimeException e) {
            throw failure("generator", r.address(), "LoadModel " + location, e);
        }
    }

    /**
     * {@code n} samples per prompt from the policy, in chunks of about {@link OrchestratorConfig#generateChunk()}
     * sequences (⌊chunk / n⌋ prompts, at least one), each chunk seeded by {@code seedOf.applyAsLong(chunk)}, so the
     * texts do not depend on which replica sampled a chunk. With several generator replicas, chunk k goes to replica
     * k mod r and r chunks run at once. Every sample must come from {@code expectedVersion}: a sample from another
     * version would make the round off-policy, so it fails the run.
     *
     * @param progress called with the number of prompts done after each round of chunks
     * @param stopped  checked between rounds
     * @return per prompt its n samples, in prompt order
     */
    List<List<Sampled>> sample(List<String> prompts, int n, SamplingSettings sampling, IntToLongFunction seedOf,
                              long expectedVersion, IntConsumer progress, BooleanSupplier stopped) {
        return sample(config.policyModel(), prompts, n, sampling, seedOf, expectedVersion, progress, stopped);
    }

    /**
     * One sample: its text, and its token ids and finish reason as the generator sampled them.
     *
     * @param text   the text, cut before a stop string when one ended it
     * @param tokens the ids; null when the generator sent none (one older than the ids in samples)
     */
    record Sampled(String text, ResponseTokens tokens) {
    }

    /** The texts of samples, per prompt. */
    static List<List<String>> texts(List<List<Sampled>> samples) {
        List<List<String>> out = new ArrayList<>(samples.size());
        for (List<Sampled> perPrompt : samples) {
            List<String> texts = new ArrayList<>(perPrompt.size());
            perPrompt.forEach(s -> texts.add(s.text()));
            out.add(List.copyOf(texts));
        }
        return out;
    }

    /** {@link #sample} from the model served under {@code model}. */
    List<List<Sampled>> sample(String model, List<String> prompts, int n, SamplingSettings sampling,
                              IntToLongFunction seedOf, long expectedVersion, IntConsumer progress,
                              BooleanSupplier stopped) {
        List<ServiceReplicas.Replica> replicas = generators.current();
        List<List<Sampled>> texts = new ArrayList<>(prompts.size());
        int chunkSize = Math.max(1, Math.max(1, config.generateChunk()) / n);
        int chunks = (prompts.size() + chunkSize - 1) / chunkSize;
        for (int first = 0; first < chunks; first += replicas.size()) {
            if (stopped.getAsBoolean()) {
                throw new RunStopped();
            }
            List<Callable<List<List<Sampled>>>> round = new ArrayList<>();
            for (int chunk = first; chunk < Math.min(chunks, first + replicas.size()); chunk++) {
                int from = chunk * chunkSize;
                List<String> part = prompts.subList(from, Math.min(prompts.size(), from + chunkSize));
                int home = chunk;
                long seed = seedOf.applyAsLong(chunk);
                round.add(() -> retry.call("sampling chunk " + home + " (" + part.size() + " prompts) from '" + model
                        + "' version " + expectedVersion, attempt -> {
                            // the chunk's own replica first; after a failure, the next one (the same when there is one)
                            ServiceReplicas.Replica replica = replicas.get((home + attempt) % replicas.size());
                            if (attempt > 0) {
                                restore(replica, model, expectedVersion);
                            }
                            return sampleChunk(replica, model, part, n, from, sampling, seed, expectedVersion);
                        }));
            }
            for (List<List<Sampled>> chunkTexts : fanOut.all(round)) {
                texts.addAll(chunkTexts);
            }
            progress.accept(texts.size());
        }
        return texts;
    }

    /**
     * One sample for each prompt, in requests of {@value #EVALUATION_CHUNK} prompts (n = 1), the one that starts at
     * prompt i seeded with {@code seedOf.applyAsLong(i)}; several requests at once (chunk k on replica k mod r
     * first), so they share the generator's continuous batch. Every sample must come from {@code expectedVersion}.
     *
     * @return one sample per prompt, in order, with its token ids
     */
    List<Sampled> sampleEach(String model, List<String> prompts, SamplingSettings sampling, IntToLongFunction seedOf,
                             long expectedVersion) {
        List<ServiceReplicas.Replica> replicas = generators.current();
        List<Callable<List<Sampled>>> calls = new ArrayList<>();
        for (int from = 0; from < prompts.size(); from += EVALUATION_CHUNK) {
            int first = from;
            int home = from / EVALUATION_CHUNK;
            long seed = seedOf.applyAsLong(from);
            List<String> part = prompts.subList(from, Math.min(prompts.size(), from + EVALUATION_CHUNK));
            calls.add(() -> retry.call("sampling evaluation queries " + first + "-" + (first + part.size() - 1)
                    + " from '" + model + "' version " + expectedVersion, attempt -> {
                        ServiceReplicas.Replica replica = replicas.get((home + attempt) % replicas.size());
                        if (attempt > 0) {
                            restore(replica, model, expectedVersion);
                        }
                        List<Sampled> out = new ArrayList<>(part.size());
                        for (List<Sampled> one : sampleChunk(replica, model, part, 1, first, sampling, seed,
                                expectedVersion)) {
                            if (one.get(0).tokens() == null) {
                                throw new RunFailure("the generator at " + replica.address() + " sent no token ids;"
                                        + " evaluation needs them (a generator older than the ids in samples?)");
                            }
                            out.add(one.get(0));
                        }
                        return out;
                    }));
        }
        List<Sampled> out = new ArrayList<>(prompts.size());
        evaluationCalls.all(calls).forEach(out::addAll);
        return out;
    }

    /**
     * The log-probs of token-id pairs under {@code model}, which must serve {@code expectedVersion}: Score requests of
     * {@value #SCORE_CHUNK} pairs, several at once.
     *
     * @return one per pair, in order
     */
    List<ResponseLogProbs> scoreTokens(String model, List<int[]> prompts, List<int[]> responses, long expectedVersion) {
        List<ResponseLogProbs> out = new ArrayList<>(prompts.size());
        scored(model, prompts, responses, null, expectedVersion).forEach(s -> out.add(logProbs(s)));
        return out;
    }

    /**
     * The log-probs of {@code candidates} as the next token after each prompt (a judge's answer tokens), under
     * {@code model} at {@code expectedVersion}: one forward pass per prompt on the generator.
     *
     * @return per prompt, one log-prob per candidate
     */
    List<float[]> nextTokenLogProbs(String model, List<int[]> prompts, int[] candidates, long expectedVersion) {
        List<int[]> none = new ArrayList<>(prompts.size());
        prompts.forEach(p -> none.add(new int[0]));
        List<float[]> out = new ArrayList<>(prompts.size());
        for (SequenceScore s : scored(model, prompts, none, candidates, expectedVersion)) {
            if (s.getNextTokenLogprobsCount() != candidates.length) {
                throw new RunFailure("the generator returned " + s.getNextTokenLogprobsCount() + " next-token"
                        + " log-probs for " + candidates.length + " candidates (a generator older than next_token_ids?)");
            }
            float[] lp = new float[candidates.length];
            for (int c = 0; c < lp.length; c++) {
                lp[c] = s.getNextTokenLogprobs(c);
            }
            out.add(lp);
        }
        return out;
    }

    private static ResponseLogProbs logProbs(SequenceScore score) {
        float[] perToken = new float[score.getTokenLogprobsCount()];
        for (int i = 0; i < perToken.length; i++) {
            perToken[i] = score.getTokenLogprobs(i);
        }
        return new ResponseLogProbs(score.getSumLogprob(), score.getMeanLogprob(), perToken);
    }

    /** Score requests of {@value #SCORE_CHUNK} pairs, several at once; {@code candidates} null for none. */
    private List<SequenceScore> scored(String model, List<int[]> prompts, List<int[]> responses, int[] candidates,
                                       long expectedVersion) {
        List<ServiceReplicas.Replica> replicas = generators.current();
        List<Callable<List<SequenceScore>>> calls = new ArrayList<>();
        for (int from = 0; from < prompts.size(); from += SCORE_CHUNK) {
            int home = from / SCORE_CHUNK;
            int to = Math.min(prompts.size(), from + SCORE_CHUNK);
            List<int[]> p = prompts.subList(from, to);
            List<int[]> r = responses.subList(from, to);
            calls.add(() -> retry.call("scoring " + p.size() + " pairs under '" + model + "' version "
                    + expectedVersion, attempt -> {
                        ServiceReplicas.Replica replica = replicas.get((home + attempt) % replicas.size());
                        if (attempt > 0) {
                            restore(replica, model, expectedVersion);
                        }
                        return scoreChunk(replica, model, p, r, candidates, expectedVersion);
                    }));
        }
        List<SequenceScore> out = new ArrayList<>(prompts.size());
        evaluationCalls.all(calls).forEach(out::addAll);
        return out;
    }

    private List<SequenceScore> scoreChunk(ServiceReplicas.Replica replica, String model, List<int[]> prompts,
                                           List<int[]> responses, int[] candidates, long expectedVersion) {
        // a run's figures must not depend on what else the generator scores at the time
        ScoreRequest.Builder request = ScoreRequest.newBuilder().setModel(model).setReproducible(true);
        for (int i = 0; i < prompts.size(); i++) {
            PromptResponse.Builder pair = PromptResponse.newBuilder();
            for (int id : prompts.get(i)) {
                pair.addPromptTokenIds(id);
            }
            for (int id : responses.get(i)) {
                pair.addResponseTokenIds(id);
            }
            if (candidates != null) {
                for (int id : candidates) {
                    pair.addNextTokenIds(id);
                }
            }
            request.addPairs(pair);
        }
        ScoreResponse response;
        try {
            response = generator(replica).withDeadlineAfter(config.generateDeadline().toMillis(), TimeUnit.MILLISECONDS)
                    .score(request.build());
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND && served.containsKey(model)) {
                throw new CallRetry.ReplicaBehind("the generator at " + replica.address() + " no longer serves '"
                        + model + "': " + e.getStatus().getDescription());
            }
            throw failure("generator", replica.address(), "Score", e);
        }
        if (response.getModelVersion() != expectedVersion) {
            throw new CallRetry.ReplicaBehind("the generator at " + replica.address() + " scored with '"
                    + response.getModel() + "' version " + response.getModelVersion() + " but the evaluation needs '"
                    + model + "' version " + expectedVersion);
        }
        if (response.getScoresCount() != prompts.size()) {
            throw new RunFailure("the generator at " + replica.address() + " returned " + response.getScoresCount()
                    + " scores for " + prompts.size() + " pairs");
        }
        return response.getScoresList();
    }

    /** Before a retry: the replica serves what the run last loaded under {@code model}, if that is {@code version}. */
    private void restore(ServiceReplicas.Replica replica, String model, long version) {
        Served s = served.get(model);
        if (s != null && s.version() == version) {
            ensureOn(replica, model, version, s.location());
        }
    }

    private List<List<Sampled>> sampleChunk(ServiceReplicas.Replica replica, String model, List<String> part, int n,
                                           int from, SamplingSettings sampling, long seed, long expectedVersion) {
        SamplingParams.Builder params = SamplingParams.newBuilder().setMaxNewTokens(sampling.maxNewTokens())
                .setTemperature(sampling.temperature().floatValue()).setTopP(sampling.topP().floatValue())
                .setTopK(sampling.topK()).setSeed(seed).addAllStop(sampling.stop());
        // reproducible: a run's samples must not depend on what else the generator decodes at the time
        GenerateRequest request = GenerateRequest.newBuilder().setModel(model).addAllPrompts(part)
                .setN(n).setSampling(params).setReproducible(true).build();
        GenerateResponse response;
        try {
            response = generator(replica).withDeadlineAfter(config.generateDeadline().toMillis(), TimeUnit.MILLISECONDS)
                    .generate(request);
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND && served.containsKey(model)) {
                // the run loaded this model there: the replica restarted since and lost it
                throw new CallRetry.ReplicaBehind("the generator at " + replica.address() + " no longer serves '"
                        + model + "': " + e.getStatus().getDescription());
            }
            throw failure("generator", replica.address(), "Generate", e);
        }
        Sampled[][] byPrompt = new Sampled[part.size()][n];
        for (Sample s : response.getSamplesList()) {
            if (s.getModelVersion() != expectedVersion) {
                throw new CallRetry.ReplicaBehind("the generator at " + replica.address() + " sampled with '" + s.getModel()
                        + "' version " + s.getModelVersion() + " but this round needs '" + model + "' version "
                        + expectedVersion + " (was the last checkpoint loaded?)");
            }
            if (s.getPromptIndex() < 0 || s.getPromptIndex() >= part.size() || s.getSampleIndex() < 0
                    || s.getSampleIndex() >= n || byPrompt[s.getPromptIndex()][s.getSampleIndex()] != null) {
                throw new RunFailure("the generator at " + replica.address() + " returned a sample for prompt index "
                        + s.getPromptIndex() + ", sample " + s.getSampleIndex() + " in a request of " + part.size()
                        + " prompts with n = " + n);
            }
            byPrompt[s.getPromptIndex()][s.getSampleIndex()] = new Sampled(s.getText(), tokens(s, replica));
        }
        List<List<Sampled>> out = new ArrayList<>(part.size());
        for (int i = 0; i < byPrompt.length; i++) {
            for (int k = 0; k < n; k++) {
                if (byPrompt[i][k] == null) {
                    throw new RunFailure("the generator at " + replica.address() + " returned no sample " + k
                            + " for prompt " + (from + i));
                }
            }
            out.add(List.of(byPrompt[i]));
        }
        return out;
    }

    private static ResponseTokens tokens(Sample s, ServiceReplicas.Replica replica) {
        if (s.getTokenIdsCount() == 0) {
            return null;
        }
        int[] ids = new int[s.getTokenIdsCount()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = s.getTokenIds(i);
        }
        try {
            return new ResponseTokens(ids, s.getFinishReason());
        } catch (IllegalArgumentException e) {
            throw new RunFailure("the generator at " + replica.address() + " returned a sample for prompt index "
                    + s.getPromptIndex() + ", sample " + s.getSampleIndex() + " with bad token ids: " + e.getMessage());
        }
    }

    static RunFailure failure(String service, String address, String call, StatusRuntimeException e) {
        return new RunFailure(service + " at " + address + ": " + call + " failed: " + e.getStatus().getCode()
                + (e.getStatus().getDescription() == null ? "" : " (" + e.getStatus().getDescription() + ")"), e);
    }

    @Override
    public void close() {
        generators.close();
        fanOut.close();
        evaluationCalls.close();
    }
}
