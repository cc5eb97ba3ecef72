package steer.orchestrator;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.opentelemetry.api.OpenTelemetry;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.IntConsumer;
import steer.align.SamplingSettings;
import steer.proto.v1.GenerateRequest;
import steer.proto.v1.GenerateResponse;
import steer.proto.v1.GeneratorGrpc;
import steer.proto.v1.JudgeGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.LoadModelRequest;
import steer.proto.v1.LoadModelResponse;
import steer.proto.v1.ModelInfo;
import steer.proto.v1.Sample;
import steer.proto.v1.SamplingParams;

/**
 * The orchestrator's view of the model services: sampling from the policy on the generator, and loading a
 * checkpoint as the policy on the generator and, if configured, the judge. Every call carries a deadline from
 * {@link OrchestratorConfig}; failures surface as {@link RunFailure} with the service's address and status.
 */
final class PolicyClient implements AutoCloseable {

    private final OrchestratorConfig config;
    private final ManagedChannel generatorChannel;
    private final ManagedChannel judgeChannel;
    private final GeneratorGrpc.GeneratorBlockingStub generator;
    private final JudgeGrpc.JudgeBlockingStub judge;

    PolicyClient(OrchestratorConfig config, OpenTelemetry otel) {
        this.config = config;
        TracingClientInterceptor tracing = new TracingClientInterceptor(otel);
        generatorChannel = NettyChannelBuilder.forTarget(config.generatorAddress()).usePlaintext()
                .maxInboundMessageSize(64 << 20).intercept(tracing).build();
        generator = GeneratorGrpc.newBlockingStub(generatorChannel);
        judgeChannel = config.judgeAddress().map(a -> (ManagedChannel) NettyChannelBuilder.forTarget(a).usePlaintext()
                .intercept(tracing).build()).orElse(null);
        judge = judgeChannel == null ? null : JudgeGrpc.newBlockingStub(judgeChannel);
    }

    /**
     * Makes the generator serve {@code version} as the policy: asks which version it serves and loads
     * {@code location} under that version if it is another one (a restarted generator is back at version 0).
     */
    void ensurePolicy(long version, String location) {
        ModelInfo current = generatorModel();
        if (current != null && current.getVersion() == version) {
            return;
        }
        if (location == null || location.isEmpty()) {
            throw new RunFailure("the generator at " + config.generatorAddress() + " serves "
                    + (current == null ? "no model named '" + config.policyModel() + "'"
                    : "'" + config.policyModel() + "' at version " + current.getVersion())
                    + ", the run needs version " + version + " and steer.orchestrator.base-model is not set to load it");
        }
        loadOnGenerator(version, location);
    }

    private ModelInfo generatorModel() {
        try {
            for (ModelInfo m : generator.withDeadlineAfter(config.loadDeadline().toMillis(), TimeUnit.MILLISECONDS)
                    .listModels(ListModelsRequest.getDefaultInstance()).getModelsList()) {
                if (m.getName().equals(config.policyModel())) {
                    return m;
                }
            }
            return null;
        } catch (StatusRuntimeException e) {
            throw failure("generator", config.generatorAddress(), "ListModels", e);
        }
    }

    /** Loads a checkpoint as the policy on the generator. */
    ModelInfo loadOnGenerator(long version, String location) {
        LoadModelRequest request = LoadModelRequest.newBuilder().setName(config.policyModel()).setVersion(version)
                .setLocation(location).build();
        try {
            LoadModelResponse r = generator.withDeadlineAfter(config.loadDeadline().toMillis(), TimeUnit.MILLISECONDS)
                    .loadModel(request);
            if (r.getModel().getVersion() != version) {
                throw new RunFailure("the generator at " + config.generatorAddress() + " loaded " + location
                        + " as version " + r.getModel().getVersion() + ", expected " + version);
            }
            return r.getModel();
        } catch (StatusRuntimeException e) {
            throw failure("generator", config.generatorAddress(), "LoadModel " + location, e);
        }
    }

    /** Loads a checkpoint as the policy on the judge; false when no judge is configured. */
    boolean loadOnJudge(long version, String location) {
        if (judge == null) {
            return false;
        }
        LoadModelRequest request = LoadModelRequest.newBuilder().setName(config.policyModel()).setVersion(version)
                .setLocation(location).build();
        try {
            judge.withDeadlineAfter(config.loadDeadline().toMillis(), TimeUnit.MILLISECONDS).loadModel(request);
            return true;
        } catch (StatusRuntimeException e) {
            throw failure("judge", config.judgeAddress().orElse(""), "LoadModel " + location, e);
        }
    }

    /**
     * One sample per prompt from the policy, in chunks of {@link OrchestratorConfig#generateChunk()} prompts, each
     * chunk seeded by {@code seedOf.applyAsLong(chunk)}. Every sample must come from {@code expectedVersion}: a
     * sample from another version would make the iteration off-policy, so it fails the run.
     *
     * @param progress called with the number of prompts done after each chunk
     * @param stopped  checked between chunks
     * @return the texts, in prompt order
     */
    List<String> sample(List<String> prompts, SamplingSettings sampling, java.util.function.IntToLongFunction seedOf,
                        long expectedVersion, IntConsumer progress, BooleanSupplier stopped) {
        List<String> texts = new ArrayList<>(prompts.size());
        int chunkSize = Math.max(1, config.generateChunk());
        for (int from = 0, chunk = 0; from < prompts.size(); from += chunkSize, chunk++) {
            if (stopped.getAsBoolean()) {
                throw new RunStopped();
            }
            List<String> part = prompts.subList(from, Math.min(prompts.size(), from + chunkSize));
            SamplingParams.Builder params = SamplingParams.newBuilder().setMaxNewTokens(sampling.maxNewTokens())
                    .setTemperature(sampling.temperature().floatValue()).setTopP(sampling.topP().floatValue())
                    .setTopK(sampling.topK()).setSeed(seedOf.applyAsLong(chunk)).addAllStop(sampling.stop());
            GenerateRequest request = GenerateRequest.newBuilder().setModel(config.policyModel()).addAllPrompts(part)
                    .setN(1).setSampling(params).build();
            GenerateResponse response;
            try {
                response = generator.withDeadlineAfter(config.generateDeadline().toMillis(), TimeUnit.MILLISECONDS)
                        .generate(request);
            } catch (StatusRuntimeException e) {
                throw failure("generator", config.generatorAddress(), "Generate", e);
            }
            String[] byPrompt = new String[part.size()];
            for (Sample s : response.getSamplesList()) {
                if (s.getModelVersion() != expectedVersion) {
                    throw new RunFailure("the generator at " + config.generatorAddress() + " sampled with '"
                            + s.getModel() + "' version " + s.getModelVersion() + " but this iteration needs policy"
                            + " version " + expectedVersion + " (was the last checkpoint loaded?)");
                }
                if (s.getPromptIndex() < 0 || s.getPromptIndex() >= part.size() || byPrompt[s.getPromptIndex()] != null) {
                    throw new RunFailure("the generator returned a sample for prompt index " + s.getPromptIndex()
                            + " in a request of " + part.size() + " prompts with n = 1");
                }
                byPrompt[s.getPromptIndex()] = s.getText();
            }
            for (int i = 0; i < byPrompt.length; i++) {
                if (byPrompt[i] == null) {
                    throw new RunFailure("the generator returned no sample for prompt " + (from + i));
                }
                texts.add(byPrompt[i]);
            }
            progress.accept(texts.size());
        }
        return texts;
    }

    private static RunFailure failure(String service, String address, String call, StatusRuntimeException e) {
        return new RunFailure(service + " at " + address + ": " + call + " failed: " + e.getStatus().getCode()
                + (e.getStatus().getDescription() == null ? "" : " (" + e.getStatus().getDescription() + ")"), e);
    }

    @Override
    public void close() {
        generatorChannel.shutdownNow();
        if (judgeChannel != null) {
            judgeChannel.shutdownNow();
        }
    }
}
