package steer.judge.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.LoraCheckpoint;
import steer.checkpoint.LoraConfig;
import steer.judge.JudgeTemplates;
import steer.judge.PairwiseJudge;
import steer.judge.RubricJudge;
import steer.launch.ServiceProcess;
import steer.model.LanguageModel;
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
import steer.proto.v1.LoadModelRequest;
import steer.proto.v1.RubricRequest;
import steer.proto.v1.RubricScoreBatchRequest;
import steer.proto.v1.RubricScoreBatchResponse;
import steer.proto.v1.RubricScoreResponse;
import steer.world.TinyWorldModel;

/** The packaged judge over real gRPC on loopback, judging with a tiny random world model. */
class JudgeServiceIT {

    @TempDir
    static Path dir;

    static Path model;
    static ServiceProcess service;
    static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        model = TinyWorldModel.write(dir.resolve("judge"), 31);
        // the world's pairwise prompt as data, and one whose answer "A B" is two tokens of the world's vocabulary
        Path copy = Files.writeString(dir.resolve("world-copy.json"), "{\"id\": \"world-copy\", \"kind\": \"pairwise\", "
                + "\"user\": \"judge query : {prompt} response A : {response_a} response B : {response_b} better :\", "
                + "\"answers\": [\"A\", \"B\"]}");
        Path twoTokens = Files.writeString(dir.resolve("two-tokens.json"), "{\"id\": \"two-tokens\", \"kind\": \"pairwise\", "
                + "\"user\": \"judge query : {prompt} response A : {response_a} response B : {response_b} better :\", "
                + "\"answers\": [\"A B\", \"B\"]}");
        service = ServiceProcess.startUnderTest("JudgeServiceIT", Map.of("steer.judge.model-location", model.toString(),
                "steer.judge.templates", copy + "," + twoTokens));
        channel = NettyChannelBuilder.forTarget(service.address()).usePlaintext().build();
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        service.close();
    }

    private static JudgeGrpc.JudgeBlockingStub stub() {
        return JudgeGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    private static CompareRequest compare(String prompt, String a, String b) {
        return CompareRequest.newBuilder().setPrompt(prompt).setResponseA(a).setResponseB(b).build();
    }

    private static final List<PairwiseJudge.Item> ITEMS = List.of(
            new PairwiseJudge.Item("add 3 4", "answer : 7 .", "answer : 8 ."),
            new PairwiseJudge.Item("sort 5 2 9", "answer : 2 5 9 .", "answer : 9 5 2 ."),
            new PairwiseJudge.Item("add 3 4", "answer : 7 .", ""));

    private static List<PairwiseJudge.Verdict> inProcess() {
        try (LanguageModel m = LanguageModel.load(model)) {
            return new PairwiseJudge(JudgeTemplates.world().pairwise("template_id", "")).compare(m, ITEMS);
        }
    }

    private static void assertSame(PairwiseJudge.Verdict v, Comparison c) {
        assertSameValues(v, c);
        assertEquals("judge", c.getModel());
        assertEquals(0, c.getModelVersion());
    }

    private static void assertSameValues(PairwiseJudge.Verdict v, Comparison c) {
        assertEquals(v.pABetter(), c.getPABetter(), 1e-5);
        assertEquals(v.pAB(), c.getPABetterAb(), 1e-5);
        assertEquals(v.pBA(), c.getPABetterBa(), 1e-5);
        assertEquals(v.ab().a(), c.getLogitsAb().getLogitA(), 1e-4);
        assertEquals(v.ab().b(), c.getLogitsAb().getLogitB(), 1e-4);
        assertEquals(v.ba().a(), c.getLogitsBa().getLogitA(), 1e-4);
        assertEquals(v.ba().b(), c.getLogitsBa().getLogitB(), 1e-4);
    }

    private static void assertCompareMatchesTheLibrary() {
        assertSame(inProcess().get(0), stub().compare(compare("add 3 4", "answer : 7 .", "answer : 8 .")));
    }

    @Test
    void everyComparisonEqualsThePairwiseJudgeInProcess() {
        List<PairwiseJudge.Verdict> expected = inProcess();
        assertSame(expected.get(0), stub().compare(compare("add 3 4", "answer : 7 .", "answer : 8 .")));
        CompareBatchResponse batch = stub().compareBatch(CompareBatchRequest.newBuilder()
                .addItems(compare("add 3 4", "answer : 7 .", "answer : 8 ."))
                .addItems(compare("sort 5 2 9", "answer : 2 5 9 .", "answer : 9 5 2 .")).build());
        assertSame(expected.get(0), batch.getComparisons(0));
        assertSame(expected.get(1), batch.getComparisons(1));
        assertSame(expected.get(2), stub().compareWithEmpty(CompareWithEmptyRequest.newBuilder().setPrompt("add 3 4")
                .setResponse("answer : 7 .").build()));
        CompareBatchResponse empties = stub().compareWithEmptyBatch(CompareWithEmptyBatchRequest.newBuilder()
                .addItems(CompareWithEmptyRequest.newBuilder().setPrompt("add 3 4").setResponse("answer : 7 .")).build());
        assertSame(expected.get(2), empties.getComparisons(0));
    }

    /**
     * A pinned judge and a policy-following one side by side, as an OSP run and a Self-Rewarding run need: loading
     * and reloading one name never touches the other, and each answer names the model and version that gave it.
     */
    @Test
    void twoNamedModelsServeSideBySide() {
        Path other = TinyWorldModel.write(dir.resolve("policy-v3"), 32);
        stub().loadModel(LoadModelRequest.newBuilder().setName("policy@run-a").setVersion(3)
                .setLocation(other.toString()).build());
        List<PairwiseJudge.Verdict> expectedOther;
        try (LanguageModel m = LanguageModel.load(other)) {
            expectedOther = new PairwiseJudge(JudgeTemplates.world().pairwise("template_id", "")).compare(m, ITEMS);
        }
        CompareRequest.Builder item = compare("add 3 4", "answer : 7 .", "answer : 8 .").toBuilder();
        Comparison pinned = stub().compare(item.setModel("judge").build());
        Comparison following = stub().compare(item.setModel("policy@run-a").build());
        assertSame(inProcess().get(0), pinned);
        assertEquals(0, pinned.getModelVersion());
        assertSameValues(expectedOther.get(0), following);
        assertTrue(Math.abs(following.getPABetter() - pinned.getPABetter()) > 1e-6, "another model, another verdict");
        assertEquals("policy@run-a", following.getModel());
        assertEquals(3, following.getModelVersion());
        // the policy moves on: the pinned judge stays as it was
        stub().loadModel(LoadModelRequest.newBuilder().setName("policy@run-a").setVersion(4)
                .setLocation(model.toString()).build());
        assertEquals(4, stub().compare(item.setModel("policy@run-a").build()).getModelVersion());
        Comparison still = stub().compare(item.setModel("judge").build());
        assertEquals(0, still.getModelVersion());
        assertSame(inProcess().get(0), still);
        // other tests may load models of their own into the same service; these two are served
        var listed = stub().listModels(steer.proto.v1.ListModelsRequest.getDefaultInstance());
        var served = listed.getModelsList();
        assertTrue(served.stream().map(m -> m.getName()).toList().containsAll(List.of("judge", "policy@run-a")),
                served.toString());
        // the start model is pinned (never evicted to make room); each reports its float32 weights' bytes
        long used = 0;
        for (var m : served) {
            assertEquals(m.getName().equals("judge"), m.getPinned(), m.getName());
            assertEquals(4 * m.getParameters(), m.getMemoryBytes(), m.getName());
            used += m.getMemoryBytes();
        }
        assertEquals(0, listed.getMemoryBudgetBytes());
        assertEquals(used, listed.getMemoryUsedBytes());
    }

    /**
     * A policy-following judge takes the trainer's LoRA adapter onto the base it serves: its verdicts are those of
     * the checkpoint merged by {@link LoraCheckpoint#merge}.
     */
    @Test
    void anAdapterLoadedOntoAServedBaseJudgesAsTheMergedCheckpoint() throws Exception {
        LoraConfig lora = new LoraConfig(2, 4, EnumSet.of(LoraConfig.Target.Q, LoraConfig.Target.V), 0, null);
        Path adapter = TinyWorldModel.writeAdapter(dir.resolve("follower-adapter"), model, lora, 8, 0.3);
        HfCheckpoint base = HfCheckpoint.load(model);
        Path merged = dir.resolve("follower-merged");
        HfCheckpoint.save(merged, base.config(), LoraCheckpoint.load(adapter, base.config()).merge(base.config(), base.tensors()));
        Files.copy(model.resolve("tokenizer.json"), merged.resolve("tokenizer.json"));
        List<PairwiseJudge.Verdict> expected;
        try (LanguageModel m = LanguageModel.load(merged)) {
            expected = new PairwiseJudge(JudgeTemplates.world().pairwise("template_id", "")).compare(m, ITEMS);
        }
        stub().loadModel(LoadModelRequest.newBuilder().setName("follower").setVersion(0).setLocation(model.toString()).build());
        var loaded = stub().loadModel(LoadModelRequest.newBuilder().setName("follower").setVersion(1)
                .setLocation(adapter.toString()).build()).getModel();
        assertEquals(model.toAbsolutePath().normalize().toString(), loaded.getBaseLocation());
        CompareRequest.Builder item = compare("add 3 4", "answer : 7 .", "answer : 8 .").toBuilder().setModel("follower");
        Comparison adapted = stub().compare(item.build());
        assertSameValues(expected.get(0), adapted);
        assertEquals(1, adapted.getModelVersion());
        assertTrue(Math.abs(adapted.getLogitsAb().getLogitA() - inProcess().get(0).ab().a()) > 1e-3,
                "the adapter changes the verdict's logits");
        assertCompareMatchesTheLibrary(); // the pinned judge is untouched
    }

    @Test
    void aCheckpointsCalibrationIsServedBesideTheRawProbability() {
        Path calibrated = TinyWorldModel.write(dir.resolve("calibrated-judge"), 33);
        steer.judge.CalibrationFile.write(calibrated, JudgeTemplates.PAIRWISE, 2.0);
        stub().loadModel(LoadModelRequest.newBuilder().setName("calibrated").setVersion(1)
                .setLocation(calibrated.toString()).build());
        PairwiseJudge.Verdict expected;
        try (LanguageModel m = LanguageModel.load(calibrated)) {
            expected = new PairwiseJudge(JudgeTemplates.world().pairwise("template_id", "")).compare(m, ITEMS).get(0);
        }
        CompareRequest item = compare("add 3 4", "answer : 7 .", "answer : 8 .").toBuilder().setModel("calibrated")
                .build();
        Comparison c = stub().compare(item);
        assertSameValues(expected, c);
        assertTrue(c.hasPABetterCalibrated());
        assertEquals(2.0, c.getCalibrationTemperature());
        assertEquals(steer.judge.CalibrationFile.calibrated(expected.ab(), expected.ba(), 2.0), c.getPABetterCalibrated(),
                1e-6);
        assertTrue(Math.abs(c.getPABetterCalibrated() - 0.5) < Math.abs(c.getPABetter() - 0.5) + 1e-9,
                "T = 2 pulls toward 1/2");
        assertEquals(c.getPABetterCalibrated(), stub().compareBatch(steer.proto.v1.CompareBatchRequest.newBuilder()
                .addItems(item).build()).getComparisons(0).getPABetterCalibrated(), 1e-12);
        // a checkpoint without a calibration: only the raw probability
        assertTrue(!stub().compare(item.toBuilder().setModel("judge").build()).hasPABetterCalibrated());
    }

    @Test
    void rubricScoreEqualsTheRubricJudgeInProcess() {
        RubricJudge.Rating expected;
        try (LanguageModel m = LanguageModel.load(model)) {
            expected = new RubricJudge(JudgeTemplates.world().rubric("template_id", "")).rate(m,
                    List.of(new RubricJudge.Item("add 3 4", "answer : 7 ."))).get(0);
        }
        RubricScoreResponse r = stub().rubricScore(RubricRequest.newBuilder().setPrompt("add 3 4").setResponse("answer : 7 .").build());
        assertEquals(expected.expectedScore(), r.getExpectedScore(), 1e-4);
        assertEquals(expected.mostLikely(), r.getMostLikelyScore());
        assertEquals(9, r.getDistributionCount());
        for (int i = 0; i < 9; i++) {
            assertEquals(i + 2, r.getDistribution(i).getScore());
            assertEquals(expected.probabilities()[i], r.getDistribution(i).getProbability(), 1e-5);
        }
        assertEquals("judge", r.getModel());
    }

    private static RubricRequest rubric(String model, String prompt, String response) {
        return RubricRequest.newBuilder().setModel(model).setPrompt(prompt).setResponse(response).build();
    }

    private static final List<RubricJudge.Item> RUBRIC_ITEMS = List.of(
            new RubricJudge.Item("add 3 4", "answer : 7 ."),
            new RubricJudge.Item("add 3 4", "answer : 8 ."),
            new RubricJudge.Item("sort 5 2 9", "answer : 2 5 9 ."));

    private static RubricScoreBatchRequest rubricBatch(String model, List<RubricJudge.Item> items) {
        RubricScoreBatchRequest.Builder b = RubricScoreBatchRequest.newBuilder();
        items.forEach(i -> b.addItems(rubric(model, i.prompt(), i.response())));
        return b.build();
    }

    /** The distribution covers every score token 2..10, sums to 1 and gives the expected score. */
    private static void assertSameRating(RubricJudge.Rating expected, RubricScoreResponse r) {
        assertEquals(9, r.getDistributionCount());
        double sum = 0;
        double expectation = 0;
        for (int i = 0; i < 9; i++) {
            assertEquals(i + 2, r.getDistribution(i).getScore());
            assertEquals(expected.probabilities()[i], r.getDistribution(i).getProbability(), 1e-5);
            sum += r.getDistribution(i).getProbability();
            expectation += r.getDistribution(i).getScore() * r.getDistribution(i).getProbability();
        }
        assertEquals(1, sum, 1e-9);
        assertEquals(expectation, r.getExpectedScore(), 1e-9);
        assertEquals(expected.expectedScore(), r.getExpectedScore(), 1e-4);
        assertEquals(expected.mostLikely(), r.getMostLikelyScore());
    }

    @Test
    void rubricScoreBatchEqualsTheSingleRubricScoreInOrder() {
        RubricScoreBatchResponse batch = stub().rubricScoreBatch(rubricBatch("", RUBRIC_ITEMS));
        assertEquals(RUBRIC_ITEMS.size(), batch.getScoresCount());
        for (int i = 0; i < RUBRIC_ITEMS.size(); i++) {
            RubricScoreResponse single = stub().rubricScore(rubric("", RUBRIC_ITEMS.get(i).prompt(),
                    RUBRIC_ITEMS.get(i).response()));
            RubricScoreResponse batched = batch.getScores(i);
            assertEquals(single.getExpectedScore(), batched.getExpectedScore(), 1e-5, "item " + i);
            assertEquals(single.getMostLikelyScore(), batched.getMostLikelyScore(), "item " + i);
            for (int s = 0; s < 9; s++) {
                assertEquals(single.getDistribution(s).getScore(), batched.getDistribution(s).getScore());
                assertEquals(single.getDistribution(s).getProbability(), batched.getDistribution(s).getProbability(), 1e-6);
            }
            assertEquals("judge", batched.getModel());
        }
        assertTrue(Math.abs(batch.getScores(0).getExpectedScore() - batch.getScores(1).getExpectedScore()) > 1e-6,
                "in order: different responses, different scores");
    }

    @Test
    void rubricScoreBatchNamesTheBadItem() {
        assertRejected(Status.Code.INVALID_ARGUMENT, "items: 0 items; need 1..256",
                () -> stub().rubricScoreBatch(RubricScoreBatchRequest.getDefaultInstance()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "items[3].response: empty", () -> stub().rubricScoreBatch(
                rubricBatch("", List.of(RUBRIC_ITEMS.get(0), RUBRIC_ITEMS.get(1), RUBRIC_ITEMS.get(2),
                        new RubricJudge.Item("add 1 2", " ")))));
        assertRejected(Status.Code.INVALID_ARGUMENT, "items[1].prompt: empty", () -> stub().rubricScoreBatch(
                rubricBatch("", List.of(RUBRIC_ITEMS.get(0), new RubricJudge.Item("", "answer : 3 .")))));
        assertRejected(Status.Code.NOT_FOUND, "items[1].model: no model named 'nope'", () -> stub().rubricScoreBatch(
                RubricScoreBatchRequest.newBuilder().addItems(rubric("", "add 1 2", "a"))
                        .addItems(rubric("nope", "add 1 2", "a")).build()));
        assertRejected(Status.Code.NOT_FOUND, "items[0].template_id: no rubric template 'pairwise'",
                () -> stub().rubricScoreBatch(RubricScoreBatchRequest.newBuilder()
                        .addItems(rubric("", "add 1 2", "a").toBuilder().setTemplateId("pairwise")).build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "items[0].prompt: 10000 characters; at most 8192",
                () -> stub().rubricScoreBatch(rubricBatch("", List.of(new RubricJudge.Item("x".repeat(10000), "a")))));
        assertRejected(Status.Code.INVALID_ARGUMENT, "items[1]: the judge prompt is", () -> stub().rubricScoreBatch(
                rubricBatch("", List.of(RUBRIC_ITEMS.get(0), new RubricJudge.Item("add" + " 1".repeat(150), "answer : 2 .")))));
        RubricScoreBatchRequest.Builder tooMany = RubricScoreBatchRequest.newBuilder();
        for (int i = 0; i < 257; i++) {
            tooMany.addItems(rubric("", "add 1 2", "answer : 3 ."));
        }
        assertRejected(Status.Code.INVALID_ARGUMENT, "items: 257 items; need 1..256",
                () -> stub().rubricScoreBatch(tooMany.build()));
    }

    /**
     * TSO's evaluator (models/world/medium-evaluator) served under its own name beside the SFT model it was trained
     * from: each name rates with its own checkpoint, and a batch naming both is refused.
     */
    @Test
    void theEvaluatorServesUnderItsOwnNameBesideSft() {
        Path models = Path.of(System.getProperty("steer.world.models.dir"));
        Path sft = models.resolve("medium");
        Path evaluator = models.resolve("medium-evaluator");
        stub().loadModel(LoadModelRequest.newBuilder().setName("sft").setVersion(1).setLocation(sft.toString()).build());
        stub().loadModel(LoadModelRequest.newBuilder().setName("evaluator").setVersion(1)
                .setLocation(evaluator.toString()).build());
        RubricScoreBatchResponse bySft = stub().rubricScoreBatch(rubricBatch("sft", RUBRIC_ITEMS));
        RubricScoreBatchResponse byEvaluator = stub().rubricScoreBatch(rubricBatch("evaluator", RUBRIC_ITEMS));
        for (var entry : Map.of(sft, bySft, evaluator, byEvaluator).entrySet()) {
            List<RubricJudge.Rating> expected;
            try (LanguageModel m = LanguageModel.load(entry.getKey())) {
                expected = new RubricJudge(JudgeTemplates.world().rubric("template_id", "")).rate(m, RUBRIC_ITEMS);
            }
            for (int i = 0; i < RUBRIC_ITEMS.size(); i++) {
                assertSameRating(expected.get(i), entry.getValue().getScores(i));
            }
        }
        assertEquals("evaluator", byEvaluator.getScores(0).getModel());
        assertEquals("sft", bySft.getScores(0).getModel());
        assertTrue(Math.abs(bySft.getScores(0).getExpectedScore() - byEvaluator.getScores(0).getExpectedScore()) > 1e-4,
                "the evaluator is not the SFT model");
        assertRejected(Status.Code.INVALID_ARGUMENT, "items[1].model: every item of a batch must name the same model",
                () -> stub().rubricScoreBatch(RubricScoreBatchRequest.newBuilder()
                        .addItems(rubric("evaluator", "add 3 4", "answer : 7 ."))
                        .addItems(rubric("sft", "add 3 4", "answer : 7 .")).build()));
    }

    private static void assertRejected(Status.Code code, String message, Supplier<?> call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::get);
        assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().startsWith(message), e.getStatus().getDescription());
        assertCompareMatchesTheLibrary(); // the service still answers correctly
    }

    @Test
    void everyValidationRuleAnswersItsStatusAndNamesTheField() {
        assertRejected(Status.Code.INVALID_ARGUMENT, "prompt: empty", () -> stub().compare(compare("", "a", "b")));
        assertRejected(Status.Code.INVALID_ARGUMENT, "response_a: empty", () -> stub().compare(compare("add 1 2", " ", "b")));
        assertRejected(Status.Code.INVALID_ARGUMENT, "prompt: 10000 characters; at most 8192",
                () -> stub().compare(compare("x".repeat(10000), "a", "b")));
        assertRejected(Status.Code.INVALID_ARGUMENT, "prompt: the judge prompt is",
                () -> stub().compare(compare("add" + " 1".repeat(150), "answer : 2 .", "answer : 3 .")));
        assertRejected(Status.Code.NOT_FOUND, "model: no model named 'nope'",
                () -> stub().compare(CompareRequest.newBuilder(compare("add 1 2", "a", "b")).setModel("nope").build()));
        assertRejected(Status.Code.NOT_FOUND, "template_id: no pairwise template 'fancy'",
                () -> stub().compare(CompareRequest.newBuilder(compare("add 1 2", "a", "b")).setTemplateId("fancy").build()));
        assertRejected(Status.Code.NOT_FOUND, "template_id: no rubric template 'pairwise'", () -> stub().rubricScore(
                RubricRequest.newBuilder().setPrompt("add 1 2").setResponse("a").setTemplateId("pairwise").build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "response: empty", () -> stub().rubricScore(
                RubricRequest.newBuilder().setPrompt("add 1 2").build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "items: 0 items; need 1..256",
                () -> stub().compareBatch(CompareBatchRequest.getDefaultInstance()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "items[1].prompt: empty", () -> stub().compareBatch(CompareBatchRequest
                .newBuilder().addItems(compare("add 1 2", "a", "b")).addItems(compare("", "a", "b")).build()));
        assertRejected(Status.Code.NOT_FOUND, "items[1].model: no model named 'other'", () -> stub().compareBatch(
                CompareBatchRequest.newBuilder().addItems(compare("add 1 2", "a", "b"))
                        .addItems(CompareRequest.newBuilder(compare("add 1 2", "a", "b")).setModel("other")).build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "items[0].response_a: empty", () -> stub().compareWithEmptyBatch(
                CompareWithEmptyBatchRequest.newBuilder().addItems(CompareWithEmptyRequest.newBuilder().setPrompt("add 1 2")).build()));
        assertRejected(Status.Code.INVALID_ARGUMENT, "location: empty",
                () -> stub().loadModel(LoadModelRequest.newBuilder().setVersion(2).build()));
    }

    /**
     * Template files named in steer.judge.templates are listed and judge; a template whose answers are not single
     * tokens of the model is listed as unusable with the reason, and a comparison with it is refused
     * (FAILED_PRECONDITION) naming the template, the answer and its token ids; the service answers afterwards.
     */
    @Test
    void configuredTemplatesAreListedAndJudgeAndMultiTokenAnswersAreRefused() {
        ListTemplatesResponse listed = stub().listTemplates(ListTemplatesRequest.getDefaultInstance());
        assertEquals("judge", listed.getModel());
        Map<String, JudgeTemplate> byId = new java.util.HashMap<>();
        listed.getTemplatesList().forEach(t -> byId.put(t.getId(), t));
        assertTrue(byId.keySet().containsAll(List.of("pairwise", "rubric", "osp", "world-copy", "two-tokens")), byId.keySet().toString());
        JudgeTemplate copy = byId.get("world-copy");
        assertEquals("pairwise", copy.getKind());
        assertEquals("A", copy.getAnswerA());
        assertEquals(dir.resolve("world-copy.json").toString(), copy.getSource());
        assertTrue(copy.getUsable(), copy.getUnusableReason());
        assertEquals(2, byId.get("rubric").getMinScore());
        assertEquals(10, byId.get("rubric").getMaxScore());
        JudgeTemplate two = byId.get("two-tokens");
        assertTrue(!two.getUsable() && two.getUnusableReason().contains("answer 'A B'")
                && two.getUnusableReason().contains("is 2 tokens"), two.getUnusableReason());

        // the same prompt as the world's template, so the same verdict
        assertSame(inProcess().get(0), stub().compare(CompareRequest.newBuilder(compare("add 3 4", "answer : 7 .",
                "answer : 8 .")).setTemplateId("world-copy").build()));
        assertRejected(Status.Code.FAILED_PRECONDITION, "template 'two-tokens': answer 'A B' (as ' A B') is 2 tokens",
                () -> stub().compare(CompareRequest.newBuilder(compare("add 3 4", "answer : 7 .", "answer : 8 ."))
                        .setTemplateId("two-tokens").build()));
        assertCompareMatchesTheLibrary();
    }

    @Test
    void latencyHistogramAndBatchSizesAreExported() throws Exception {
        stub().compare(compare("add 1 2", "answer : 3 .", "answer : 4 ."));
        String metrics = service.get("/q/metrics");
        assertTrue(metrics.contains("steer_judge_request_seconds_bucket"), metrics);
        assertTrue(service.metric("steer_judge_batch_size_items_count") >= 1);
        assertTrue(metrics.contains("steer_judge_queue_depth"));
    }
}
