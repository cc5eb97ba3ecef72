package steer.generator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.LoraCheckpoint;
import steer.checkpoint.LoraConfig;
import steer.checkpoint.LoraConfig.Target;
import steer.launch.ServiceProcess;
import steer.proto.v1.GenerateRequest;
import steer.proto.v1.GenerateResponse;
import steer.proto.v1.GeneratorGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.LoadModelRequest;
import steer.proto.v1.LoadModelResponse;
import steer.proto.v1.ModelInfo;
import steer.proto.v1.PromptResponse;
import steer.proto.v1.Sample;
import steer.proto.v1.SamplingParams;
import steer.proto.v1.ScoreRequest;
import steer.proto.v1.ScoreResponse;
import steer.proto.v1.SequenceScore;
import steer.world.TinyWorldModel;

/**
 * LoRA adapters hot-loaded onto the model the packaged generator serves, over real gRPC on loopback, with an admin
 * key set: what the adapted model scores and samples is what the merged checkpoint does, and a bad adapter changes
 * nothing.
 */
class GeneratorAdapterIT {

    static final String ADMIN_KEY = "adm1n";
    static final LoraConfig LORA = new LoraConfig(2, 4, EnumSet.of(Target.Q, Target.V, Target.UP, Target.DOWN), 0, null);
    static final List<String[]> PAIRS = List.of(new String[] {"query : add 3 4", "answer : 7 ."},
            new String[] {"query : sort 5 2 9", "answer : 2 5 9 ."}, new String[] {"query : reverse a b c", "answer : c b a ."});

    @TempDir
    static Path dir;

    static Path base;
    static DecoderConfig baseConfig;
    static ServiceProcess service;
    static ManagedChannel channel;

    @BeforeAll
    static void start() {
        base = TinyWorldModel.write(dir.resolve("base"), 31);
        baseConfig = HfCheckpoint.load(base).config();
        service = ServiceProcess.startUnderTest("GeneratorAdapterIT", Map.of("steer.generator.model-location",
                base.toString(), "steer.generator.admin-key", ADMIN_KEY));
        channel = NettyChannelBuilder.forTarget(service.address()).usePlaintext().build();
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        service.close();
    }

    private static GeneratorGrpc.GeneratorBlockingStub stub() {
        return GeneratorGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    private static GeneratorGrpc.GeneratorBlockingStub admin() {
        Metadata key = new Metadata();
        key.put(AdminAuth.AUTHORIZATION, "Bearer " + ADMIN_KEY);
        return stub().withInterceptors(MetadataUtils.newAttachHeadersInterceptor(key));
    }

    private static LoadModelResponse load(String name, long version, Path location) {
        return admin().loadModel(LoadModelRequest.newBuilder().setName(name).setVersion(version)
                .setLocation(location.toString()).build());
    }

    private static ScoreResponse score(String model) {
        ScoreRequest.Builder r = ScoreRequest.newBuilder().setModel(model);
        PAIRS.forEach(p -> r.addPairs(PromptResponse.newBuilder().setPrompt(p[0]).setResponse(p[1])));
        return stub().score(r.build());
    }

    /** The largest difference between two responses' per-token log-probs, sums and means. */
    private static double maxDifference(ScoreResponse a, ScoreResponse b) {
        double most = 0;
        for (int i = 0; i < PAIRS.size(); i++) {
            SequenceScore x = a.getScores(i), y = b.getScores(i);
            assertEquals(x.getTokenLogprobsCount(), y.getTokenLogprobsCount());
            for (int t = 0; t < x.getTokenLogprobsCount(); t++) {
                most = Math.max(most, Math.abs(x.getTokenLogprobs(t) - y.getTokenLogprobs(t)));
            }
            most = Math.max(most, Math.abs(x.getSumLogprob() - y.getSumLogprob()));
            most = Math.max(most, Math.abs(x.getMeanLogprob() - y.getMeanLogprob()));
        }
        return most;
    }

    /** The base with the adapter folded in by the library's {@link LoraCheckpoint#merge}, as {@code ./steer lora merge} writes it. */
    private static Path writeMerged(Path out, Path adapter) throws IOException {
        HfCheckpoint model = HfCheckpoint.load(base);
        LoraCheckpoint lora = LoraCheckpoint.load(adapter, model.config());
        HfCheckpoint.save(out, model.config(), lora.merge(model.config(), model.tensors()));
        Files.copy(base.resolve("tokenizer.json"), out.resolve("tokenizer.json"));
        return out;
    }

    /**
     * Greedy samples of both models through the continuous batcher: the same tokens, and log-probs within 1e-4 (a
     * near-tie between two tokens could flip the greedy choice, which differences of about 1e-6 make unlikely).
     */
    private static void assertGreedySamplesAgree(String model, String reference) {
        GenerateRequest.Builder r = GenerateRequest.newBuilder().setSampling(
                SamplingParams.newBuilder().setTemperature(0).setMaxNewTokens(8));
        PAIRS.forEach(p -> r.addPrompts(p[0]));
        GenerateResponse a = stub().generate(r.setModel(model).build());
        GenerateResponse b = stub().generate(r.setModel(reference).build());
        for (int i = 0; i < PAIRS.size(); i++) {
            Sample x = a.getSamples(i), y = b.getSamples(i);
            assertEquals(y.getTokenIdsList(), x.getTokenIdsList(), "prompt " + i);
            for (int t = 0; t < x.getTokenLogprobsCount(); t++) {
                assertEquals(y.getTokenLogprobs(t), x.getTokenLogprobs(t), 1e-4, "prompt " + i + ", token " + t);
            }
        }
    }

    private static long adapterBytes(LoraConfig lora) {
        long values = 0;
        for (Target t : lora.targets()) {
            values += (long) lora.rank() * (t.in(baseConfig) + t.out(baseConfig)) * baseConfig.numLayers();
        }
        return 4 * values; // float32
    }

    private static String absolute(Path p) {
        return p.toAbsolutePath().normalize().toString();
    }

    @Test
    void anAdapterHotLoadedOntoTheServedBaseScoresAsTheMergedCheckpoint() throws IOException {
        Path first = TinyWorldModel.writeAdapter(dir.resolve("first"), base, LORA, 1, 0.3);
        Path second = TinyWorldModel.writeAdapter(dir.resolve("second"), base, LORA, 2, 0.3);
        load("merged-first", 0, writeMerged(dir.resolve("merged-first"), first));
        load("merged-second", 0, writeMerged(dir.resolve("merged-second"), second));
        load("lora", 0, base);
        ScoreResponse plain = score("lora");

        LoadModelResponse v1 = load("lora", 1, first);
        assertEquals(absolute(first), v1.getModel().getLocation());
        assertEquals(absolute(base), v1.getModel().getBaseLocation());
        assertEquals("", v1.getPrevious().getBaseLocation());
        assertEquals(v1.getPrevious().getMemoryBytes() + adapterBytes(LORA), v1.getModel().getMemoryBytes(),
                "the base's weights and the adapter's");
        ScoreResponse adapted = score("lora");
        assertEquals(1, adapted.getModelVersion());
        // the adapter moves the numbers, so agreeing with the merged checkpoint is not agreeing with the base
        assertTrue(maxDifference(plain, adapted) > 1e-2, "adapter effect " + maxDifference(plain, adapted));
        double first1 = maxDifference(adapted, score("merged-first"));
        assertTrue(first1 < 1e-4, "served adapter against merged checkpoint: max difference " + first1);
        assertGreedySamplesAgree("lora", "merged-first");

        // the next version replaces it on the same base
        LoadModelResponse v2 = load("lora", 2, second);
        assertEquals(1, v2.getPrevious().getVersion());
        assertEquals(absolute(base), v2.getModel().getBaseLocation());
        assertEquals(v1.getModel().getMemoryBytes(), v2.getModel().getMemoryBytes());
        double second2 = maxDifference(score("lora"), score("merged-second"));
        assertTrue(second2 < 1e-4, "second adapter against its merged checkpoint: max difference " + second2);

        // a full checkpoint under the name replaces adapter and base alike
        LoadModelResponse full = load("lora", 3, base);
        assertEquals("", full.getModel().getBaseLocation());
        assertEquals(0, maxDifference(plain, score("lora")));
    }

    /** The status, the start of its description, and that the served model answers as before. */
    private static void assertRefused(Status.Code code, String start, String contains, Path location, ScoreResponse served) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> load("guarded", 9, location));
        assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().startsWith(start), e.getStatus().getDescription());
        assertTrue(e.getStatus().getDescription().contains(contains), e.getStatus().getDescription());
        ModelInfo guarded = stub().listModels(ListModelsRequest.getDefaultInstance()).getModelsList().stream()
                .filter(m -> m.getName().equals("guarded")).findFirst().orElseThrow();
        assertEquals(1, guarded.getVersion());
        assertEquals(0, maxDifference(served, score("guarded")), "the served adapter answers as before");
    }

    @Test
    void aBadAdapterFailsNamingWhatIsWrongAndTheServedModelKeepsServing() throws IOException {
        load("guarded", 0, base);
        load("guarded", 1, TinyWorldModel.writeAdapter(dir.resolve("good"), base, LORA, 3, 0.3));
        ScoreResponse served = score("guarded");
        String onto = " onto 'guarded' (base " + absolute(base) + "): ";

        Path noWeights = TinyWorldModel.writeAdapter(dir.resolve("no-weights"), base, LORA, 4, 0.3);
        Files.delete(noWeights.resolve(LoraCheckpoint.WEIGHTS_FILE));
        assertRefused(Status.Code.FAILED_PRECONDITION, "cannot apply the adapter " + absolute(noWeights) + onto
                + noWeights.resolve(LoraCheckpoint.WEIGHTS_FILE) + ": missing", "", noWeights, served);

        // adapter_config.json says r 4 and names gate_proj; the tensors are r 2 on q, v, up and down
        Path rank = TinyWorldModel.writeAdapter(dir.resolve("rank"), base, LORA, 5, 0.3);
        Files.writeString(rank.resolve(LoraConfig.FILE_NAME),
                Files.readString(rank.resolve(LoraConfig.FILE_NAME)).replace("\"r\" : 2", "\"r\" : 4"));
        assertRefused(Status.Code.FAILED_PRECONDITION, "cannot apply the adapter " + absolute(rank) + onto,
                "tensor base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight: expected shape [4, 32]", rank, served);
        Path target = TinyWorldModel.writeAdapter(dir.resolve("target"), base, LORA, 6, 0.3);
        Files.writeString(target.resolve(LoraConfig.FILE_NAME),
                Files.readString(target.resolve(LoraConfig.FILE_NAME)).replace("\"up_proj\"", "\"gate_proj\""));
        assertRefused(Status.Code.FAILED_PRECONDITION, "cannot apply the adapter " + absolute(target) + onto,
                "missing tensor base_model.model.model.layers.0.mlp.gate_proj.lora_A.weight", target, served);

        // trained on the committed small world model: width 64 where the served base has 32
        Path small = Path.of(System.getProperty("steer.world.models.dir")).resolve("small");
        Path otherBase = TinyWorldModel.writeAdapter(dir.resolve("other-base"), small, LORA, 7, 0.3);
        assertRefused(Status.Code.FAILED_PRECONDITION, "cannot apply the adapter " + absolute(otherBase) + onto,
                "expected shape [2, 32] from adapter_config.json and the base's config.json, actual shape [2, 64]",
                otherBase, served);

        StatusRuntimeException nothingUnder = assertThrows(StatusRuntimeException.class,
                () -> load("nothing-here", 1, dir.resolve("good")));
        assertEquals(Status.Code.FAILED_PRECONDITION, nothingUnder.getStatus().getCode());
        assertEquals("location: " + absolute(dir.resolve("good")) + " is a LoRA adapter (adapter_config.json) but no"
                + " model is served under 'nothing-here' to apply it onto; load its base model under that name first",
                nothingUnder.getStatus().getDescription());

        // an adapter load is a LoadModel like any other: without the admin key it is refused before any reading
        StatusRuntimeException anonymous = assertThrows(StatusRuntimeException.class, () -> stub().loadModel(
                LoadModelRequest.newBuilder().setName("guarded").setVersion(2).setLocation(dir.resolve("good").toString()).build()));
        assertEquals(Status.Code.UNAUTHENTICATED, anonymous.getStatus().getCode());
        assertEquals(0, maxDifference(served, score("guarded")));
    }
}
