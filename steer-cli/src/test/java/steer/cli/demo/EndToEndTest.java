package steer.cli.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfConfigJson;
import steer.proto.v1.GetRunRequest;
import steer.proto.v1.IterationResult;
import steer.proto.v1.JudgeGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.ModelInfo;
import steer.proto.v1.OspSettings;
import steer.proto.v1.SelfRewardingSettings;
import steer.proto.v1.OrchestratorGrpc;
import steer.proto.v1.PairBatch;
import steer.proto.v1.Run;
import steer.proto.v1.RunConfig;
import steer.proto.v1.RunEvent;
import steer.proto.v1.RunState;
import steer.proto.v1.SampledTokens;
import steer.proto.v1.StartRunRequest;
import steer.proto.v1.StopRunRequest;
import steer.proto.v1.TrainerGrpc;
import steer.proto.v1.TrainerStatus;
import steer.proto.v1.TrainerStatusRequest;
import steer.proto.v1.TsoSettings;
import steer.proto.v1.WatchRunRequest;

/**
 * Short runs through every real part: the Kafka broker, the generator, judge, trainer and orchestrator processes on
 * loopback. SSO runs undisturbed, with its trainer or orchestrator killed, and stopped and resumed; an online OSP
 * run samples each round while the trainer trains the round before.
 */
class EndToEndTest {

    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();
    private static final int ITERATIONS = 2;

    // a stack per test, so each test's broker topics, store and trainer state hold only its own run
    @TempDir
    Path work;

    private LocalStack stack;
    private ManagedChannel orchestratorChannel;
    private ManagedChannel trainerChannel;

    /** Tags a test whose stack starts from the medium model, so TSO's matrix has a smaller and a larger size. */
    private static final String MEDIUM_STACK = "medium-stack";

    @BeforeEach
    void start(TestInfo test) throws IOException {
        LocalStack.Options options = new LocalStack.Options(ROOT, work, ROOT.resolve("models/world/small"));
        if (test.getTags().contains(MEDIUM_STACK)) {
            // the generator loads version 0 (a TSO negative) by its location: a copy under its allowed root
            Path medium = work.resolve("sft-model");
            Files.createDirectories(medium);
            try (Stream<Path> files = Files.list(ROOT.resolve("models/world/medium"))) {
                for (Path f : files.toList()) {
                    Files.copy(f, medium.resolve(f.getFileName().toString()));
                }
            }
            options = new LocalStack.Options(ROOT, work, medium, 1, work);
        }
        stack = LocalStack.start(options, line -> { });
        orchestratorChannel = NettyChannelBuilder.forTarget(stack.orchestrator().address()).usePlaintext().build();
        trainerChannel = NettyChannelBuilder.forTarget(stack.trainer().address()).usePlaintext().build();
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (orchestratorChannel != null) {
            orchestratorChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (trainerChannel != null) {
            trainerChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (stack != null) {
            stack.close();
        }
    }

    private static RunConfig config(String runId) {
        // 48 prompts, batches of 6: several optimizer steps per iteration, so a kill can land inside one
        return RunConfig.newBuilder().setRunId(runId).setAlgorithm("sso").setIterations(ITERATIONS).setSeed(3)
                .setPromptsPerIteration(48).setBatchSize(6).setEvalQueries(40).build();
    }

    @Test
    void ssoRunTrainsEveryBatchOnceAndMovesTheGeneratorOnPolicy() throws Exception {
        String runId = "e2e-straight";
        Run run = runToEnd(config(runId), null);
        assertEquals(RunState.RUN_STATE_SUCCEEDED, run.getState(), run.getError());

        // checkpoint versions advance once per iteration
        assertEquals(ITERATIONS, run.getIterationsCount());
        for (int i = 0; i < ITERATIONS; i++) {
            assertEquals(i, run.getIterations(i).getPolicyVersion(), "iteration " + i + " sampled from version " + i);
            assertEquals(i + 1, run.getIterations(i).getCheckpointVersion(), "iteration " + i + " wrote version " + (i + 1));
        }
        assertEquals(List.of("v000001", "v000002"), storedVersions(runId));

        // every published batch id trained exactly once
        List<PairBatch> published = publishedBatches(runId);
        assertTrained(runId, published);
        // every response travelled with the ids the generator sampled, and the trainer trained them
        for (PairBatch b : published) {
            for (var e : b.getSsoExamplesList()) {
                assertSampled(e.getYPlusTokens(), e.hasYPlusTokens(), "y+ of " + b.getBatchId());
                assertSampled(e.getYMinusTokens(), e.hasYMinusTokens(), "y- of " + b.getBatchId());
                assertSampled(e.getYOrigTokens(), e.hasYOrigTokens(), "y° of " + b.getBatchId());
            }
        }

        // the second iteration's samples came from the first iteration's checkpoint: its batches say so, and the
        // orchestrator refuses any sample whose model_version differs from the batch's policy version
        assertTrue(published.stream().filter(b -> b.getIteration() == 1).allMatch(b -> b.getPolicyVersion() == 1));
        assertTrue(published.stream().filter(b -> b.getIteration() == 0).allMatch(b -> b.getPolicyVersion() == 0));

        // one trace links the orchestrator's iteration to the trainer's steps for that iteration
        TraceCollector.CollectedSpan iteration = awaitSpan(s -> s.name().equals("orchestrator.iteration")
                && runId.equals(s.attributes().get("steer.run_id")) && "1".equals(s.attributes().get("steer.iteration")));
        TraceCollector.CollectedSpan step = awaitSpan(s -> s.name().equals("trainer.step")
                && s.traceId().equals(iteration.traceId()) && "1".equals(s.attributes().get("steer.iteration")));
        assertTrue(isAncestor(iteration, step), "the trainer's step descends from the orchestrator's iteration span");
        assertTrue(stack.traces().spans().stream().anyMatch(s -> s.traceId().equals(iteration.traceId())
                && s.service().contains("generator")), "the generator's calls are in the iteration's trace");
    }

    @Test
    void ospRunWithStalenessOneSamplesWhileTheTrainerTrainsAgainstThePinnedSftJudgeAndReference() throws Exception {
        String runId = "e2e-osp";
        int rounds = 4;
        // 24 prompts in rounds of 6, K = 4 samples: 12 ranked pairs = 2 batches of 6 per round
        RunConfig config = RunConfig.newBuilder().setRunId(runId).setAlgorithm("osp").setIterations(1).setSeed(3)
                .setPromptsPerIteration(24).setBatchSize(6).setEvalQueries(20)
                .setOsp(OspSettings.newBuilder().setSamplesPerPrompt(4).setPromptsPerRound(6).setMaxPolicyStaleness(1))
                .build();
        io.grpc.StatusRuntimeException unknown = org.junit.jupiter.api.Assertions.assertThrows(
                io.grpc.StatusRuntimeException.class, () -> OrchestratorGrpc.newBlockingStub(orchestratorChannel)
                        .startRun(StartRunRequest.newBuilder().setConfig(config.toBuilder().setRunId("e2e-osp-unknown")
                                .setOsp(config.getOsp().toBuilder().setJudgeModel("no-such-judge"))).build()));
        assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, unknown.getStatus().getCode());
        assertTrue(unknown.getStatus().getDescription().startsWith("config.osp.judge_model 'no-such-judge' is not"
                + " served by the judge, which serves [sft]"), unknown.getStatus().getDescription());

        Run run = runToEnd(config, null);
        assertEquals(RunState.RUN_STATE_SUCCEEDED, run.getState(), run.getError());
        assertEquals(rounds, run.getIterationsCount());

        List<PairBatch> published = publishedBatches(runId);
        assertTrained(runId, published, rounds);
        assertEquals(0, TrainerGrpc.newBlockingStub(trainerChannel).status(TrainerStatusRequest.getDefaultInstance())
                .getBatchesStale(), "no batch refused as staler than the bound");
        for (PairBatch b : published) {
            assertTrue(b.hasReferenceVersion() && b.getReferenceVersion() == 0, "every batch's reference is the SFT model");
            // round r samples from version r - 1 while round r - 1 trains: one version behind, the bound
            assertEquals(Math.max(0, b.getIteration() - 1), b.getPolicyVersion(), "round " + b.getIteration());
            assertEquals(1, b.getMaxPolicyStaleness());
            assertEquals("spce", b.getObjective().getName());
            assertTrue(b.getSoftPairsCount() > 0 && b.getSsoExamplesCount() == 0 && b.getPairsCount() == 0);
            for (var pair : b.getSoftPairsList()) {
                assertSampled(pair.getChosenTokens(), pair.hasChosenTokens(), "chosen of " + b.getBatchId());
                assertSampled(pair.getRejectedTokens(), pair.hasRejectedTokens(), "rejected of " + b.getBatchId());
            }
        }
        for (IterationResult r : run.getIterationsList()) {
            assertEquals("sft", r.getJudgeModel(), "round " + r.getIteration() + " judged by the pinned SFT model");
            assertEquals(0, r.getJudgeModelVersion());
            assertEquals(0, r.getReferenceVersion());
            assertEquals(6L * 4, r.getSamplesDrawn());
        }
        // the judge still serves the SFT model as version 0, from where it started: it was never reloaded
        ManagedChannel judgeChannel = NettyChannelBuilder.forTarget(stack.judge().address()).usePlaintext().build();
        try {
            List<ModelInfo> served = JudgeGrpc.newBlockingStub(judgeChannel).listModels(ListModelsRequest.getDefaultInstance())
                    .getModelsList();
            assertEquals(1, served.size(), served.toString());
            assertEquals("sft", served.get(0).getName());
            assertEquals(0, served.get(0).getVersion());
            assertEquals(ROOT.resolve("models/world/small").toAbsolutePath().normalize().toString(),
                    served.get(0).getLocation());
        } finally {
            judgeChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        // the traces: some round's sampling starts before the trainer has finished the round before. Asking the spans
        // to overlap was a race on a loaded machine: a round samples in about 0.6 s, about as long as the trainer may
        // lag behind the publish that precedes it; with staleness 0 the sampling would wait for the round's checkpoint
        List<TraceCollector.CollectedSpan> spans = awaitSpans(runId, rounds);
        boolean overlap = false;
        for (TraceCollector.CollectedSpan sample : spans) {
            if (!sample.name().equals("orchestrator.sample")) {
                continue;
            }
            String previous = Integer.toString(Integer.parseInt(sample.attributes().get("steer.iteration")) - 1);
            for (TraceCollector.CollectedSpan step : spans) {
                if (step.name().equals("trainer.step") && previous.equals(step.attributes().get("steer.iteration"))
                        && sample.startUnixNanos() < step.endUnixNanos()) {
                    overlap = true;
                }
            }
        }
        assertTrue(overlap, "a round's orchestrator.sample span starts before a trainer.step span of the round before"
                + " ends");
    }

    @Test
    void selfRewardingJudgesEachRoundWithThePolicyThatSampledIt() throws Exception {
        String runId = "e2e-self-rewarding";
        int rounds = 3;
        // 18 prompts in rounds of 6, K = 4, synchronous: round r is sampled and judged by version r
        RunConfig config = RunConfig.newBuilder().setRunId(runId).setAlgorithm("self-rewarding").setIterations(1)
                .setSeed(3).setPromptsPerIteration(18).setBatchSize(6).setEvalQueries(20)
                .setSelfRewarding(SelfRewardingSettings.newBuilder().setSamplesPerPrompt(4).setPromptsPerRound(6))
                .build();
        Run run = runToEnd(config, null);
        assertEquals(RunState.RUN_STATE_SUCCEEDED, run.getState(), run.getError());
        assertEquals(rounds, run.getIterationsCount());
        List<PairBatch> published = publishedBatches(runId);
        assertTrained(runId, published, rounds);
        for (PairBatch b : published) {
            assertEquals(b.getIteration(), b.getPolicyVersion(), "synchronous: round r sampled by version r");
            assertEquals(b.getPolicyVersion(), b.getReferenceVersion(), "the reference is the round's start");
            assertEquals("dpo", b.getObjective().getName());
            assertTrue(b.getPairsCount() > 0 && b.getSoftPairsCount() == 0, "hard labels");
            for (var pair : b.getPairsList()) {
                assertSampled(pair.getChosenTokens(), pair.hasChosenTokens(), "chosen of " + b.getBatchId());
                assertSampled(pair.getRejectedTokens(), pair.hasRejectedTokens(), "rejected of " + b.getBatchId());
            }
        }
        for (IterationResult r : run.getIterationsList()) {
            // version 0 is the SFT model the judge serves as sft; later versions are the run's own checkpoints
            assertEquals(r.getIteration() == 0 ? "sft" : "policy@" + runId, r.getJudgeModel());
            assertEquals(r.getIteration(), r.getJudgeModelVersion(), "judged by the version that sampled it");
            assertEquals(r.getIteration(), r.getReferenceVersion());
        }
        ManagedChannel judgeChannel = NettyChannelBuilder.forTarget(stack.judge().address()).usePlaintext().build();
        try {
            Map<String, Long> served = new HashMap<>();
            JudgeGrpc.newBlockingStub(judgeChannel).listModels(ListModelsRequest.getDefaultInstance()).getModelsList()
                    .forEach(m -> served.put(m.getName(), m.getVersion()));
            assertEquals(Map.of("sft", 0L, "policy@" + runId, (long) rounds - 1), served,
                    "the SFT judge beside the policy-following one, which is at the last round's version");
        } finally {
            judgeChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    @Tag(MEDIUM_STACK)
    void tsoRunDrawsItsMatrixByTheWeightsAndSwitchesTheReferenceAfterEveryMiniBatch() throws Exception {
        String runId = "e2e-tso";
        int rounds = 6;
        // two iterations of 24 prompts in T = 3 mini-batches of 8, 2 epochs each; per prompt a matrix pair and a
        // self pair (K = 4 samples split by the evaluator); batches of 4
        TsoSettings tso = TsoMatrix.settings(ROOT, work, null, null, null).setSelfSamples(4).build();
        RunConfig config = RunConfig.newBuilder().setRunId(runId).setAlgorithm("tso").setIterations(2).setSeed(3)
                .setPromptsPerIteration(24).setBatchSize(4).setEvalQueries(20).setTso(tso).build();
        Run run = runToEnd(config, null);
        assertEquals(RunState.RUN_STATE_SUCCEEDED, run.getState(), run.getError());
        assertEquals(rounds, run.getIterationsCount());

        List<PairBatch> published = publishedBatches(runId);
        assertTrained(runId, published, rounds);
        assertEquals(0, TrainerGrpc.newBlockingStub(trainerChannel).status(TrainerStatusRequest.getDefaultInstance())
                .getBatchesStale(), "no batch refused as staler than the bound");
        Map<Integer, Set<Long>> referencesPerIteration = new HashMap<>();
        for (PairBatch b : published) {
            int r = b.getIteration();
            assertEquals(r, b.getReferenceVersion(), "round r is measured against version r, where it starts");
            assertEquals(r / 3 * 3, b.getPolicyVersion(), "every mini-batch samples from its iteration's first version");
            assertEquals(2, b.getMaxPolicyStaleness(), "T - 1");
            assertEquals("dual-clip", b.getObjective().getName());
            assertEquals(400.0, b.getObjective().getParamsOrThrow("length_scale"));
            assertTrue(b.getPairsCount() > 0 && b.getSoftPairsCount() == 0 && b.getSsoExamplesCount() == 0);
            referencesPerIteration.computeIfAbsent(r / 3, k -> new TreeSet<>()).add(b.getReferenceVersion());
            for (var pair : b.getPairsList()) {
                assertTrue(Set.of("reference", "large", "self").contains(pair.getChosenSource()), pair.toString());
                assertTrue(Set.of("small", "policy@v0", "self").contains(pair.getRejectedSource()), pair.toString());
                assertEquals(pair.getChosenSource().equals("self"), pair.getRejectedSource().equals("self"));
                assertTrue(r >= 3 || !pair.getRejectedSource().equals("policy@v0"), "no earlier version in iteration 1");
                // the policy's own samples and its earlier version's carry their ids; reference answers and the
                // other sizes' samples (another model's tokenizer, in general) train from their text
                assertEquals(Set.of("self").contains(pair.getChosenSource()), pair.hasChosenTokens(), pair.toString());
                assertEquals(Set.of("self", "policy@v0").contains(pair.getRejectedSource()), pair.hasRejectedTokens(),
                        pair.toString());
                if (pair.hasChosenTokens()) {
                    assertSampled(pair.getChosenTokens(), true, "chosen of " + b.getBatchId());
                }
                if (pair.hasRejectedTokens()) {
                    assertSampled(pair.getRejectedTokens(), true, "rejected of " + b.getBatchId());
                }
            }
        }
        assertEquals(Map.of(0, Set.of(0L, 1L, 2L), 1, Set.of(3L, 4L, 5L)), referencesPerIteration,
                "the reference switches T = 3 times per iteration");
        assertEquals(5, TrainerGrpc.newBlockingStub(trainerChannel).status(TrainerStatusRequest.getDefaultInstance())
                .getRuns(0).getReferenceVersion(), "the trainer reports the last step's reference");

        // the sources of the trained pairs, against the mixture weights: positives 1/2 reference answers, 1/2 the
        // large model; negatives the small model in iteration 1, then 1/2 small and 1/2 version 0
        Map<String, Long> sources = new HashMap<>();
        long self = 0;
        long matrix = 0;
        long negatives2 = 0;
        long small2 = 0;
        for (IterationResult r : run.getIterationsList()) {
            assertEquals("evaluator", r.getJudgeModel(), "the self pairs are split by the evaluator");
            assertEquals(0, r.getJudgeModelVersion());
            for (Map.Entry<String, Long> e : r.getPairSourcesMap().entrySet()) {
                String[] side = e.getKey().split(">");
                if (side[0].equals("self")) {
                    self += e.getValue();
                    continue;
                }
                matrix += e.getValue();
                sources.merge(side[0], e.getValue(), Long::sum);
                if (r.getIteration() >= 3) {
                    negatives2 += e.getValue();
                    small2 += side[1].equals("small") ? e.getValue() : 0;
                } else {
                    assertEquals("small", side[1]);
                }
            }
        }
        assertTrue(matrix >= 40 && matrix <= 2 * 24, "one matrix pair per prompt, less the rare pair of the same text"
                + " twice: " + matrix);
        assertTrue(self > 0 && self <= 2 * 24, "self pairs where the evaluator split a prompt's samples: " + self);
        withinSamplingError(0.5, sources.getOrDefault("reference", 0L), matrix);
        withinSamplingError(0.5, small2, negatives2);
        // the generator served the matrix at once: the policy, the large and small models, the policy's version 0
        ManagedChannel generatorChannel = NettyChannelBuilder.forTarget(stack.generators().get(0).address())
                .usePlaintext().build();
        try {
            Map<String, Long> served = new HashMap<>();
            steer.proto.v1.GeneratorGrpc.newBlockingStub(generatorChannel).listModels(ListModelsRequest
                    .getDefaultInstance()).getModelsList().forEach(m -> served.put(m.getName(), m.getVersion()));
            assertEquals(Map.of("policy", (long) rounds, "large", 0L, "small", 0L, "policy@" + runId + "/v0", 0L),
                    served);
        } finally {
            generatorChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    /**
     * A response's ids as the generator sampled them: present, within the world models' vocabulary (the small and
     * medium models share it), and ending with EOS exactly when sampling stopped there.
     */
    private static void assertSampled(SampledTokens t, boolean present, String what) {
        assertTrue(present, what + " carries its sampled ids");
        DecoderConfig c = HfConfigJson.read(ROOT.resolve("models/world/small").resolve(HfConfigJson.FILE_NAME));
        assertTrue(Set.of("eos", "stop", "length").contains(t.getFinishReason()), what + ": " + t);
        assertTrue(t.getTokenIdsCount() > 0, what);
        assertTrue(t.getTokenIdsList().stream().allMatch(id -> id >= 0 && id < c.vocabSize()), what + ": " + t);
        int last = t.getTokenIds(t.getTokenIdsCount() - 1);
        assertEquals(t.getFinishReason().equals("eos"), c.eosTokenIds().contains(last), what + ": " + t);
    }

    /** A count within four binomial standard errors of its expected share of n. */
    private static void withinSamplingError(double share, long count, long n) {
        double sd = Math.sqrt(n * share * (1 - share));
        assertTrue(Math.abs(count - n * share) <= 4 * sd, count + " of " + n + ", expected a share of " + share);
    }

    /** The run's spans once every round's trainer steps and sampling spans have arrived. */
    private List<TraceCollector.CollectedSpan> awaitSpans(String runId, int rounds) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            List<TraceCollector.CollectedSpan> spans = stack.traces().spans().stream()
                    .filter(s -> runId.equals(s.attributes().get("steer.run_id"))).toList();
            long samples = spans.stream().filter(s -> s.name().equals("orchestrator.sample")).count();
            Set<String> trainedRounds = spans.stream().filter(s -> s.name().equals("trainer.step"))
                    .map(s -> s.attributes().get("steer.iteration")).collect(Collectors.toSet());
            if ((samples >= rounds && trainedRounds.size() >= rounds) || System.nanoTime() > deadline) {
                return spans;
            }
            sleep(200);
        }
    }

    @Test
    void aTrainerKilledMidIterationLosesNoBatchAndTrainsNoneTwice() throws Exception {
        String runId = "e2e-crash";
        TrainerGrpc.TrainerBlockingStub trainer = TrainerGrpc.newBlockingStub(trainerChannel);
        long[] killedAtStep = {-1};
        Run run = runToEnd(config(runId), event -> {
            // the second iteration's batches are on the topic: kill the trainer once it has taken one of them
            if (event.getIteration() == 1 && event.getPhase().equals("training")) {
                killedAtStep[0] = awaitSecondIterationStep(trainer);
                stack.crashAndRestartTrainer();
                return true;
            }
            return false;
        });
        assertEquals(RunState.RUN_STATE_SUCCEEDED, run.getState(), run.getError());
        List<PairBatch> published = publishedBatches(runId);
        assertTrue(killedAtStep[0] < published.size(), "killed at step " + killedAtStep[0] + " of " + published.size()
                + ": inside the second iteration");
        assertTrained(runId, published);
        assertEquals(List.of("v000001", "v000002"), storedVersions(runId));
    }

    @Test
    void anOrchestratorKilledMidRunResumesWithoutRepeatingWork() throws Exception {
        String runId = "e2e-orchestrator-crash";
        Run run = runToEnd(config(runId), event -> {
            // the second iteration's batches are committed to the topic and the trainer's checkpoint is awaited
            if (event.getIteration() == 1 && event.getPhase().equals("training")) {
                stack.crashAndRestartOrchestrator();
                return true;
            }
            return false;
        });
        if (run.getState() == RunState.RUN_STATE_RUNNING) {
            run = awaitEnd(runId);
        }
        assertEquals(RunState.RUN_STATE_SUCCEEDED, run.getState(), run.getError());
        assertEquals(ITERATIONS, run.getIterationsCount());
        List<PairBatch> published = publishedBatches(runId);
        assertTrained(runId, published); // also: no batch id on the topic twice
        assertEquals(List.of("v000001", "v000002"), storedVersions(runId));
        long firstIterationSpans = stack.traces().spans().stream().filter(s -> s.name().equals("orchestrator.iteration")
                && runId.equals(s.attributes().get("steer.run_id")) && "0".equals(s.attributes().get("steer.iteration"))).count();
        assertEquals(1, firstIterationSpans, "the finished first iteration was not run again");
    }

    @Test
    void aStoppedRunEndsStoppedAndStartRunResumesItToTheEnd() throws Exception {
        String runId = "e2e-stop";
        OrchestratorGrpc.OrchestratorBlockingStub orchestrator = OrchestratorGrpc.newBlockingStub(orchestratorChannel);
        Run stopped = runToEnd(config(runId), event -> {
            if (event.getIteration() == 0 && event.getPhase().equals("training")) {
                orchestrator.stopRun(StopRunRequest.newBuilder().setRunId(runId).build());
                return true;
            }
            return false;
        });
        assertEquals(RunState.RUN_STATE_STOPPED, stopped.getState(), stopped.getError());
        assertEquals(0, stopped.getCompletedIterations(), "stopped before its first iteration ended");

        Run resumed = runToEnd(config(runId), null); // the same id: resume where it stopped
        assertEquals(RunState.RUN_STATE_SUCCEEDED, resumed.getState(), resumed.getError());
        assertEquals(ITERATIONS, resumed.getIterationsCount());
        List<PairBatch> published = publishedBatches(runId);
        assertTrained(runId, published); // the first iteration's batches were not published again
        assertEquals(List.of("v000001", "v000002"), storedVersions(runId));
    }

    /** Follows a run (after an orchestrator restart) until it ends. */
    private Run awaitEnd(String runId) {
        OrchestratorGrpc.OrchestratorBlockingStub orchestrator = OrchestratorGrpc.newBlockingStub(orchestratorChannel);
        Iterator<RunEvent> events = orchestrator.withDeadlineAfter(10, TimeUnit.MINUTES).withWaitForReady()
                .watchRun(WatchRunRequest.newBuilder().setRunId(runId).build());
        while (events.hasNext()) {
            events.next();
        }
        return orchestrator.getRun(GetRunRequest.newBuilder().setRunId(runId).build());
    }

    /** Starts the run, follows its events (a hook may act once on one of them), and returns the finished run. */
    private Run runToEnd(RunConfig config, java.util.function.Predicate<RunEvent> hook) {
        OrchestratorGrpc.OrchestratorBlockingStub orchestrator = OrchestratorGrpc.newBlockingStub(orchestratorChannel);
        orchestrator.startRun(StartRunRequest.newBuilder().setConfig(config).build());
        Iterator<RunEvent> events = orchestrator.withDeadlineAfter(10, TimeUnit.MINUTES)
                .watchRun(WatchRunRequest.newBuilder().setRunId(config.getRunId()).build());
        boolean hooked = hook == null;
        try {
            while (events.hasNext()) {
                RunEvent e = events.next();
                if (!hooked) {
                    hooked = hook.test(e);
                }
            }
        } catch (io.grpc.StatusRuntimeException e) {
            if (!hooked) {
                throw e; // only a stream cut by the injected crash is expected
            }
        }
        Run run = orchestrator.withWaitForReady().getRun(GetRunRequest.newBuilder().setRunId(config.getRunId()).build());
        assertTrue(hooked, "the fault was injected; the run ended " + run.getState() + " " + run.getError());
        return run;
    }

    /** Waits until the trainer has taken a step of the second iteration; returns its step count then. */
    private static long awaitSecondIterationStep(TrainerGrpc.TrainerBlockingStub trainer) {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (System.nanoTime() < deadline) {
            TrainerStatus s = trainer.withDeadlineAfter(5, TimeUnit.SECONDS).status(TrainerStatusRequest.getDefaultInstance());
            if (s.getIteration() == 1) {
                return s.getStep();
            }
            sleep(20);
        }
        throw new AssertionError("the trainer never started the second iteration");
    }

    /** The trainer's durable state lists each published batch id once, and took one optimizer step per batch. */
    private void assertTrained(String runId, List<PairBatch> published) throws IOException {
        assertTrained(runId, published, ITERATIONS);
    }

    /** The same for a run of {@code rounds} rounds, each writing one version. */
    private void assertTrained(String runId, List<PairBatch> published, int rounds) throws IOException {
        Set<String> publishedIds = published.stream().map(PairBatch::getBatchId).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(published.size(), publishedIds.size(), "no batch id published twice");
        JsonNode state = latestTrainerState(runId);
        assertEquals(runId, state.findValue("run_id").asText());
        List<String> trained = new ArrayList<>();
        state.findValue("trained_batches").forEach(id -> trained.add(id.asText()));
        assertEquals(publishedIds, new TreeSet<>(trained), "every published batch trained");
        assertEquals(trained.size(), new TreeSet<>(trained).size(), "none trained twice");
        TrainerStatus status = TrainerGrpc.newBlockingStub(trainerChannel).status(TrainerStatusRequest.getDefaultInstance());
        assertEquals(runId, status.getRunId());
        assertEquals(published.size(), status.getBatchesTrained());
        Map<Integer, Long> perIteration = new HashMap<>();
        published.forEach(b -> perIteration.merge(b.getIteration(), 1L, Long::sum));
        assertEquals(rounds, perIteration.size());
        // one optimizer step per batch: the store's last version records the run's step count
        JsonNode last = new ObjectMapper().readTree(stack.store().resolve(runId)
                .resolve(String.format("v%06d", rounds)).resolve("checkpoint.json").toFile());
        assertEquals(published.size(), last.findValue("step").asLong(), "optimizer steps = published batches");
    }

    private JsonNode latestTrainerState(String runId) throws IOException {
        Path states = work.resolve("trainer-state/runs").resolve(runId).resolve("states");
        try (Stream<Path> dirs = Files.list(states)) {
            Path newest = dirs.filter(d -> d.getFileName().toString().startsWith("step-")).max(Path::compareTo)
                    .orElseThrow(() -> new AssertionError("no trainer state in " + states));
            return new ObjectMapper().readTree(newest.resolve("trainer_state.json").toFile());
        }
    }

    private List<String> storedVersions(String runId) throws IOException {
        try (Stream<Path> dirs = Files.list(stack.store().resolve(runId))) {
            return dirs.map(d -> d.getFileName().toString()).filter(n -> n.startsWith("v")).sorted().toList();
        }
    }

    /** Every pair batch of the run committed to the topic, read as the trainer reads it (read_committed). */
    private List<PairBatch> publishedBatches(String runId) throws IOException {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrapServers());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<PairBatch> batches = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor("steer.pair-batches").stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    PairBatch b = PairBatch.parseFrom(r.value());
                    if (b.getRunId().equals(runId)) {
                        batches.add(b);
                    }
                }
            }
        }
        assertFalse(batches.isEmpty(), "the run published batches");
        return batches;
    }

    private TraceCollector.CollectedSpan awaitSpan(java.util.function.Predicate<TraceCollector.CollectedSpan> p) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            var found = stack.traces().spans().stream().filter(p).findFirst();
            if (found.isPresent()) {
                return found.get();
            }
            sleep(200);
        }
        throw new AssertionError("no such span among " + stack.traces().spans().size() + " collected");
    }

    private boolean isAncestor(TraceCollector.CollectedSpan ancestor, TraceCollector.CollectedSpan span) {
        Map<String, String> parents = new HashMap<>();
        stack.traces().spans().forEach(s -> parents.put(s.spanId(), s.parentSpanId()));
        String at = span.parentSpanId();
        for (int hops = 0; hops < 64 && at != null && !at.isEmpty(); hops++) {
            if (at.equals(ancestor.spanId())) {
                return true;
            }
            at = parents.get(at);
        }
        return false;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
