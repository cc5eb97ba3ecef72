package steer.generator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.launch.ServiceProcess;
import steer.model.LanguageModel;
import steer.model.SamplingParams;
import steer.model.TextCompletion;
import steer.proto.v1.GenerateRequest;
import steer.proto.v1.GenerateResponse;
import steer.proto.v1.GeneratorGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.ListModelsResponse;
import steer.proto.v1.LoadModelRequest;
import steer.proto.v1.LoadModelResponse;
import steer.proto.v1.ModelInfo;
import steer.proto.v1.PromptResponse;
import steer.proto.v1.Sample;
import steer.proto.v1.SamplingParams.Builder;
import steer.proto.v1.ScoreRequest;
import steer.proto.v1.ScoreResponse;
import steer.model.ResponseLogProbs;
import steer.model.SequenceScorer;
import steer.world.TinyWorldModel;

/** The packaged generator over real gRPC on loopback, serving a tiny random world model. */
class GeneratorServiceIT {

    @TempDir
    static Path dir;

    static Path v0;
    static Path v1;
    static ServiceProcess service;
    static ManagedChannel channel;
    static GeneratorGrpc.GeneratorBlockingStub blocking;

    @BeforeAll
    static void start() throws Exception {
        v0 = TinyWorldModel.write(dir.resolve("v0"), 11);
        v1 = TinyWorldModel.write(dir.resolve("v1"), 12);
        // batches of 4 sequences, so a large request spans many batches (hot load mid-stream)
        service = ServiceProcess.startUnderTest("GeneratorServiceIT", Map.of("steer.generator.model-location", v0.toString(),
                "steer.generator.max-batch-size", "4"));
        channel = NettyChannelBuilder.forTarget(service.address()).usePlaintext().build();
        blocking = GeneratorGrpc.newBlockingStub(channel);
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        service.close();
    }

    private static GeneratorGrpc.GeneratorBlockingStub stub() {
        return blocking.withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    private static GenerateRequest greedy(int maxNewTokens, String... prompts) {
        return GenerateRequest.newBuilder().addAllPrompts(List.of(prompts))
                .setSampling(steer.proto.v1.SamplingParams.newBuilder().setTemperature(0).setMaxNewTokens(maxNewTokens)).build();
    }

    private static final List<String> PROMPTS = List.of("query : add 3 4", "query : sort 5 2 9", "query : reverse a b c");

    /** The service adds nothing to the maths: greedy samples are the library's, token for token. */
    private static void assertGreedyMatchesTheLibrary() {
        GenerateResponse r = stub().generate(GenerateRequest.newBuilder(greedy(10, PROMPTS.toArray(String[]::new))).setN(2).build());
        List<TextCompletion> expected;
        try (LanguageModel m = LanguageModel.load(v0)) {
            expected = m.complete(PROMPTS, SamplingParams.greedy(10), List.of());
        }
        assertEquals(6, r.getSamplesCount());
        for (int i = 0; i < 6; i++) {
            Sample s = r.getSamples(i);
            TextCompletion e = expected.get(i / 2);
            assertEquals(i / 2, s.getPromptIndex());
            assertEquals(i % 2, s.getSampleIndex());
            assertEquals(Arrays.stream(e.tokenIds()).boxed().toList(), s.getTokenIdsList());
            assertEquals(e.text(), s.getText());
            for (int t = 0; t < e.logProbs().length; t++) {
                assertEquals(e.logProbs()[t], s.getTokenLogprobs(t), 1e-5);
            }
            assertEquals(e.finishReason() == steer.model.GeneratedSequence.FinishReason.LENGTH ? "length" : "eos", s.getFinishReason());
            assertEquals("policy", s.getModel());
            assertEquals(0, s.getModelVersion());
        }
    }

    @Test
    void greedyGenerateEqualsTheLibrarysCompletion() {
        assertGreedyMatchesTheLibrary();
    }

    @Test
    void scoreEqualsTheLibrarysLogProbs() {
        ScoreResponse r = stub().score(ScoreRequest.newBuilder()
                .addPairs(PromptResponse.newBuilder().setPrompt("query : add 3 4").setResponse("answer : 7 ."))
                .addPairs(PromptResponse.newBuilder().setPrompt("query : sort 5 2").setResponse("")).build());
        List<ResponseLogProbs> expected;
        try (LanguageModel m = LanguageModel.load(v0)) {
            expected = SequenceScorer.scoreToJava(m.decoder(), List.of(m.tokenizer().encode("query : add 3 4"),
                    m.tokenizer().encode("query : sort 5 2")), List.of(m.tokenizer().encodeWithoutSpecialTokens("answer : 7 ."),
                    new int[0]));
        }
        assertEquals(expected.get(0).sum(), r.getScores(0).getSumLogprob(), 1e-4);
        assertEquals(expected.get(0).mean(), r.getScores(0).getMeanLogprob(), 1e-5);
        assertEquals(4, r.getScores(0).getResponseTokens());
        assertEquals(0, r.getScores(1).getResponseTokens());
        assertEquals("policy", r.getModel());

        // the same pairs as token ids (a sampler's ids, scored as given): the same log-probs
        ScoreRequest.Builder ids = ScoreRequest.newBuilder();
        try (LanguageModel m = LanguageModel.load(v0)) {
            ids.addPairs(idPair(m.tokenizer().encode("query : add 3 4"), m.tokenizer().encodeWithoutSpecialTokens(
                    "answer : 7 ."))).addPairs(idPair(m.tokenizer().encode("query : sort 5 2"), new int[0]));
        }
        ScoreResponse byIds = stub().score(ids.build());
        assertEquals(r.getScoresList(), byIds.getScoresList());

        // candidate next tokens after a prompt (a judge's answers): the log-softmax of the library's next-token logits
        int[] prompt;
        float[] logits;
        try (LanguageModel m = LanguageModel.load(v0)) {
            prompt = m.tokenizer().encode("query : add 3 4");
            logits = SequenceScorer.nextTokenLogits(m.decoder(), List.of(prompt))[0];
        }
        ScoreResponse next = stub().score(ScoreRequest.newBuilder().addPairs(idPair(prompt, new int[0])
                .addNextTokenIds(5).addNextTokenIds(7)).build());
        assertEquals(2, next.getScores(0).getNextTokenLogprobsCount());
        assertEquals(steer.model.Sampler.logProb(logits, 0, logits.length, 5), next.getScores(0).getNextTokenLogprobs(0),
                1e-5);
        assertEquals(steer.model.Sampler.logProb(logits, 0, logits.length, 7), next.getScores(0).getNextTokenLogprobs(1),
                1e-5);
    }

    private static PromptResponse.Builder idPair(int[] prompt, int[] response) {
        PromptResponse.Builder b = PromptResponse.newBuilder();
        java.util.Arrays.stream(prompt).forEach(b::addPromptTokenIds);
        java.util.Arrays.stream(response).forEach(b::addResponseTokenIds);
        return b;
    }

    private static void assertRejected(Status.Code code, String message, Supplier<?> call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::get);
        assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().startsWith(message), e.getStatus().getDescription());
        assertGreedyMatchesTheLibrary(); // the service still answers correctly
    }

    private static GenerateRequest withSampling(java.util.function.Consumer<Builder> s) {
        Builder b = steer.proto.v1.SamplingParams.newBuilder();
        s.accept(b);
        return GenerateRequest.newBuilder().addPrompts("query : add 1 2").setSampling(b).build();
    }

    @Test
    void everyValidationRuleAnswersItsStatusAndNamesTheField() {
        assertRejected(Status.Code.INVALID_ARGUMENT, "prompts: 0 items; need 1..64",
                () -> stub().generate(GenerateRequest.getDefaultInstance()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "prompts[1]: empty",
                () -> stub().generate(greedy(4, "query : add 1 2", " ")));
        String longPrompt = "query : add" + " 1".repeat(120);
        assertRejected(Status.Code.INVALID_ARGUMENT, "prompts[0]: 124 tokens; with max_new_tokens 8 at most 120 fit",
                () -> stub().generate(greedy(8, longPrompt)));
        assertRejected(Status.Code.INVALID_ARGUMENT, "n: 17 is outside 1..16",
                () -> stub().generate(GenerateRequest.newBuilder(greedy(4, "query : add 1 2")).setN(17).build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "n: -1 is outside 1..16",
                () -> stub().generate(GenerateRequest.newBuilder(greedy(4, "query : add 1 2")).setN(-1).build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "sampling.top_p: 1.5 is outside (0, 1]",
                () -> stub().generate(withSampling(s -> s.setTopP(1.5f))));
        assertRejected(Status.Code.INVALID_ARGUMENT, "sampling.temperature: 6 is outside [0, 5]",
                () -> stub().generate(withSampling(s -> s.setTemperature(6))));
        assertRejected(Status.Code.INVALID_ARGUMENT, "sampling.max_new_tokens: 500 is outside 1..127",
                () -> stub().generate(withSampling(s -> s.setMaxNewTokens(500))));
        assertRejected(Status.Code.INVALID_ARGUMENT, "sampling.top_k: -3 is negative",
                () -> stub().generate(withSampling(s -> s.setTopK(-3))));
        assertRejected(Status.Code.NOT_FOUND, "model: no model named 'nope'",
                () -> stub().generate(GenerateRequest.newBuilder(greedy(4, "query : add 1 2")).setModel("nope").build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "reproducible: is true but sampling.seed is absent",
                () -> stub().generate(GenerateRequest.newBuilder(withSampling(x -> x.setTemperature(1)))
                        .setReproducible(true).build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "pairs: 0 items", () -> stub().score(ScoreRequest.getDefaultInstance()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "pairs[0].prompt: empty", () -> stub().score(ScoreRequest.newBuilder()
                .addPairs(PromptResponse.newBuilder().setResponse("x")).build()));
        assertRejected(Status.Code.NOT_FOUND, "model: no model named 'nope'", () -> stub().score(ScoreRequest.newBuilder()
                .setModel("nope").addPairs(PromptResponse.newBuilder().setPrompt("query : add 1 2")).build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "pairs[0].response_token_ids[1]: must be in 0..",
                () -> stub().score(ScoreRequest.newBuilder().addPairs(idPair(new int[] {1, 5}, new int[] {6, 99999}))
                        .build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "pairs[0].next_token_ids[1]: must be in 0..",
                () -> stub().score(ScoreRequest.newBuilder().addPairs(idPair(new int[] {1, 5}, new int[0])
                        .addNextTokenIds(3).addNextTokenIds(-1)).build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "pairs[0].response_token_ids: must be empty with next_token_ids",
                () -> stub().score(ScoreRequest.newBuilder().addPairs(idPair(new int[] {1, 5}, new int[] {6})
                        .addNextTokenIds(3)).build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "pairs[1].next_token_ids: is empty",
                () -> stub().score(ScoreRequest.newBuilder().addPairs(idPair(new int[] {1}, new int[0])
                        .addNextTokenIds(3)).addPairs(idPair(new int[] {1}, new int[0])).build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "pairs[0].prompt_token_ids: is empty",
                () -> stub().score(ScoreRequest.newBuilder().addPairs(idPair(new int[0], new int[] {6})).build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "pairs[1]: holds texts but pairs[0] holds token ids",
                () -> stub().score(ScoreRequest.newBuilder().addPairs(idPair(new int[] {1}, new int[] {6}))
                        .addPairs(PromptResponse.newBuilder().setPrompt("query : add 1 2")).build()));
        assertRejected(Status.Code.INVALID_ARGUMENT,
                "pairs[0]: prompt and response are 200 tokens; the model has 128",
                () -> stub().score(ScoreRequest.newBuilder().addPairs(idPair(new int[150], new int[50])).build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "location: empty",
                () -> stub().loadModel(LoadModelRequest.newBuilder().setName("policy").setVersion(3).build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "location: " + dir.resolve("absent") + " is not a directory",
                () -> stub().loadModel(LoadModelRequest.newBuilder().setLocation(dir.resolve("absent").toString()).build()));
    }

    @Test
    void aMalformedCheckpointFailsItsLoadAndTheServedModelStays() throws Exception {
        Path bad = Files.createDirectories(dir.resolve("bad"));
        Files.copy(v1.resolve("tokenizer.json"), bad.resolve("tokenizer.json"));
        Files.copy(v1.resolve("config.json"), bad.resolve("config.json"));
        byte[] weights = Files.readAllBytes(v1.resolve("model.safetensors"));
        Files.write(bad.resolve("model.safetensors"), Arrays.copyOf(weights, weights.length / 3));
        assertRejected(Status.Code.FAILED_PRECONDITION, "cannot load " + bad,
                () -> stub().loadModel(LoadModelRequest.newBuilder().setVersion(5).setLocation(bad.toString()).build()));
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> stub().loadModel(LoadModelRequest.newBuilder().setVersion(5).setLocation(bad.toString()).build()));
        assertTrue(e.getStatus().getDescription().contains("model.safetensors"), e.getStatus().getDescription());
        assertEquals(0, stub().listModels(ListModelsRequest.getDefaultInstance()).getModelsList().stream()
                .filter(m -> m.getName().equals("policy")).findFirst().orElseThrow().getVersion());
    }

    @Test
    void aHotLoadDuringAStreamDropsNothingAndLaterSamplesCarryTheNewVersion() throws Exception {
        LoadModelResponse first = stub().loadModel(LoadModelRequest.newBuilder().setName("hot").setVersion(0)
                .setLocation(v0.toString()).build());
        assertFalse(first.hasPrevious());
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            prompts.add("query : add " + (i % 10) + " " + (i / 10));
        }
        GenerateRequest request = GenerateRequest.newBuilder().setModel("hot").addAllPrompts(prompts).setN(2)
                .setSampling(steer.proto.v1.SamplingParams.newBuilder().setTemperature(0.7f).setMaxNewTokens(24)).build();
        List<Sample> received = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch firstSample = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<Throwable> error = new AtomicReference<>();
        GeneratorGrpc.newStub(channel).withDeadlineAfter(120, TimeUnit.SECONDS).generateStream(request,
                new StreamObserver<>() {
                    @Override
                    public void onNext(Sample s) {
                        received.add(s);
                        firstSample.countDown();
                    }

                    @Override
                    public void onError(Throwable t) {
                        error.set(t);
                        done.countDown();
                    }

                    @Override
                    public void onCompleted() {
                        done.countDown();
                    }
                });
        assertTrue(firstSample.await(60, TimeUnit.SECONDS));
        LoadModelResponse swapped = stub().loadModel(LoadModelRequest.newBuilder().setName("hot").setVersion(1)
                .setLocation(v1.toString()).build());
        assertEquals(0, swapped.getPrevious().getVersion());
        assertEquals(1, swapped.getModel().getVersion());
        assertTrue(done.await(120, TimeUnit.SECONDS));
        assertEquals(null, error.get());
        assertEquals(128, received.size(), "every sample arrives");
        assertEquals(0, received.get(0).getModelVersion());
        assertEquals(1, received.get(received.size() - 1).getModelVersion(), "batches after the load use version 1");
        // the continuous scheduler binds a sequence to the instance current when it is admitted: those running at
        // the load finish on version 0 beside the new version's, so the stream may interleave the two as they finish
        // (each sample says which made it); none is lost, and every sequence admitted after the load uses version 1
        assertTrue(received.stream().allMatch(s -> s.getModelVersion() == 0 || s.getModelVersion() == 1));
        long v1 = received.stream().filter(s -> s.getModelVersion() == 1).count();
        assertTrue(v1 > 0 && v1 < received.size(), "both versions sampled: " + v1 + " of " + received.size());
        java.util.Set<String> slots = new java.util.HashSet<>();
        received.forEach(s -> slots.add(s.getPromptIndex() + "/" + s.getSampleIndex()));
        assertEquals(128, slots.size(), "each (prompt, sample) once");
        assertTrue(received.stream().allMatch(s -> s.getModel().equals("hot")));
    }

    /** TSO's matrix: the committed small, medium and large SFT models served beside the policy, each by its name. */
    @Test
    void threeSizesAreServedAtOnceAndEachStampsItsSamplesWithItsNameAndVersion() {
        Path world = Path.of(System.getProperty("steer.world.models.dir"));
        List<String> sizes = List.of("small", "medium", "large");
        for (int i = 0; i < sizes.size(); i++) {
            LoadModelResponse r = stub().loadModel(LoadModelRequest.newBuilder().setName("sft-" + sizes.get(i))
                    .setVersion(10 + i).setLocation(world.resolve(sizes.get(i)).toString()).build());
            assertFalse(r.hasPrevious());
            assertEquals(0, r.getEvictedCount(), "no budget: loading a name evicts nothing");
            assertEquals(4 * r.getModel().getParameters(), r.getModel().getMemoryBytes(), "float32 weights");
        }
        ListModelsResponse listed = stub().listModels(ListModelsRequest.getDefaultInstance());
        assertEquals(0, listed.getMemoryBudgetBytes());
        assertEquals(listed.getModelsList().stream().mapToLong(ModelInfo::getMemoryBytes).sum(), listed.getMemoryUsedBytes());
        long previousBytes = 0;
        for (int i = 0; i < sizes.size(); i++) {
            String name = "sft-" + sizes.get(i);
            ModelInfo m = listed.getModelsList().stream().filter(x -> x.getName().equals(name)).findFirst().orElseThrow();
            assertEquals(10 + i, m.getVersion());
            assertEquals(world.resolve(sizes.get(i)).toAbsolutePath().normalize().toString(), m.getLocation());
            assertTrue(m.getMemoryBytes() > previousBytes, name + " is larger than the size before it");
            assertFalse(m.getPinned());
            previousBytes = m.getMemoryBytes();
        }
        assertTrue(listed.getModelsList().stream().filter(m -> m.getName().equals("policy")).findFirst().orElseThrow()
                .getPinned(), "the start model is pinned");
        for (int i = 0; i < sizes.size(); i++) {
            String name = "sft-" + sizes.get(i);
            GenerateResponse r = stub().generate(GenerateRequest.newBuilder(greedy(6, "query : add 3 4", "query : sort 2 1"))
                    .setModel(name).setN(2).build());
            assertEquals(4, r.getSamplesCount());
            for (Sample s : r.getSamplesList()) {
                assertEquals(name, s.getModel());
                assertEquals(10 + i, s.getModelVersion());
            }
        }
    }

    @Test
    void readinessAndMetricsAreExported() throws Exception {
        assertTrue(service.get("/q/health/ready").startsWith("200 "));
        stub().generate(greedy(5, "query : add 1 2"));
        assertTrue(service.metric("steer_generator_tokens_total") >= 5);
        assertTrue(service.metric("steer_generator_batch_size_sequences_count") >= 1);
        assertTrue(service.get("/q/metrics").contains("steer_generator_queue_depth"));
        assertTrue(service.get("/q/metrics").contains("steer_generator_request_seconds_bucket"));
    }
}
