package steer.orchestrator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusIntegrationTest;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import steer.proto.v1.GetRunRequest;
import steer.proto.v1.OrchestratorGrpc;
import steer.proto.v1.Run;
import steer.proto.v1.RunConfig;
import steer.proto.v1.RunEvent;
import steer.proto.v1.RunState;
import steer.proto.v1.OspSettings;
import steer.proto.v1.SamplingParams;
import steer.proto.v1.SelfRewardingSettings;
import steer.proto.v1.SsoSettings;
import steer.proto.v1.StartRunRequest;
import steer.proto.v1.StopRunRequest;
import steer.proto.v1.WatchRunRequest;

/** The packaged orchestrator over real gRPC on loopback. */
@QuarkusIntegrationTest
@WithTestResource(OrchestratorTestEnvironment.class)
class OrchestratorServiceIT {

    @TestHTTPResource("/")
    URL url;

    ManagedChannel channel;
    OrchestratorGrpc.OrchestratorBlockingStub api;

    @BeforeEach
    void connect() {
        channel = NettyChannelBuilder.forAddress(url.getHost(), url.getPort()).usePlaintext().build();
        api = OrchestratorGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    @AfterEach
    void disconnect() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    private static StartRunRequest start(UnaryOperator<RunConfig.Builder> edit) {
        return StartRunRequest.newBuilder().setConfig(edit.apply(RunConfig.newBuilder().setRunId("it-run")
                .setSkipEvaluation(true))).build();
    }

    private void rejected(String field, UnaryOperator<RunConfig.Builder> edit) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> api.startRun(start(edit)));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), field + ": " + e.getStatus());
        assertTrue(e.getStatus().getDescription().startsWith(field + " "), e.getStatus().getDescription());
    }

    @Test
    void everyStartRunRuleNamesItsField() {
        rejected("config.run_id", c -> c.setRunId("no spaces allowed"));
        rejected("config.algorithm", c -> c.setAlgorithm("dpo"));
        rejected("config.iterations", c -> c.setIterations(21));
        rejected("config.iterations", c -> c.setIterations(-2));
        rejected("config.prompts_per_iteration", c -> c.setPromptsPerIteration(501));
        rejected("config.batch_size", c -> c.setBatchSize(2000));
        rejected("config.learning_rate", c -> c.setLearningRate(0.5));
        rejected("config.learning_rate", c -> c.setLearningRate(-1e-4));
        rejected("config.epochs", c -> c.setEpochs(11));
        rejected("config.feature_allocation", c -> c.setFeatureAllocation("oracle"));
        rejected("config.eval_queries", c -> c.setEvalQueries(501));
        rejected("config.objective_params[alpha]", c -> c.putObjectiveParams("alpha", 2));
        rejected("config.objective_params[beta]", c -> c.putObjectiveParams("beta", -0.1));
        rejected("config.sampling.temperature", c -> c.setSampling(SamplingParams.newBuilder().setTemperature(9)));
        rejected("config.sampling.top_p", c -> c.setSampling(SamplingParams.newBuilder().setTopP(1.5f)));
        rejected("config.sampling.max_new_tokens", c -> c.setSampling(SamplingParams.newBuilder().setMaxNewTokens(-1)));
        rejected("config.sampling.top_k", c -> c.setSampling(SamplingParams.newBuilder().setTopK(-3)));
        rejected("config.evaluation_split", c -> c.setEvaluationSplit("test"));
        rejected("config.prompts_per_iteration", c -> c.setEvaluationSplit("validation").setPromptsPerIteration(450));
        rejected("config.method_settings", c -> c.setAlgorithm("sso").setOsp(OspSettings.getDefaultInstance()));
        rejected("config.method_settings", c -> c.setAlgorithm("osp-dpo")
                .setSelfRewarding(SelfRewardingSettings.getDefaultInstance()));
        rejected("config.sso.feature_allocation", c -> c.setSso(SsoSettings.newBuilder().setFeatureAllocation("ask")));
        rejected("config.sso.no_self_steering", c -> c.setAlgorithm("sso-no-g").putObjectiveParams("theta", 0.5));
        rejected("config.osp.samples_per_prompt", c -> c.setAlgorithm("osp").setOsp(OspSettings.newBuilder()
                .setSamplesPerPrompt(1)));
        rejected("config.osp.max_policy_staleness", c -> c.setAlgorithm("osp").setOsp(OspSettings.newBuilder()
                .setMaxPolicyStaleness(-1)));
        rejected("config.osp.beta", c -> c.setAlgorithm("osp-ipo").setOsp(OspSettings.newBuilder().setBeta(-0.5)));
        rejected("config.osp.loss", c -> c.setAlgorithm("osp").setOsp(OspSettings.newBuilder().setLoss("kto")));
        rejected("config.osp.pairing", c -> c.setAlgorithm("osp").setOsp(OspSettings.newBuilder().setPairing("best")));
        rejected("config.osp.judge_location", c -> c.setAlgorithm("osp").setOsp(OspSettings.newBuilder()
                .setJudgeLocation("relative/dir")));
        rejected("config.objective_params", c -> c.setAlgorithm("osp").putObjectiveParams("alpha", 0.5));
        rejected("config.self_rewarding.prompts_per_round", c -> c.setAlgorithm("self-rewarding")
                .setSelfRewarding(SelfRewardingSettings.newBuilder().setPromptsPerRound(501)));
        rejected("config.self_rewarding.beta", c -> c.setAlgorithm("self-rewarding")
                .setSelfRewarding(SelfRewardingSettings.newBuilder().setBeta(-1)));
        rejected("config.lora.rank", c -> c.setLora(steer.proto.v1.LoraSettings.newBuilder().setRank(0)));
        rejected("config.lora.alpha", c -> c.setLora(steer.proto.v1.LoraSettings.newBuilder().setRank(8).setAlpha(-8)));
        rejected("config.lora.targets", c -> c.setLora(steer.proto.v1.LoraSettings.newBuilder().setRank(8)
                .addTargets("embed")));
        rejected("config.lora", c -> c.setAlgorithm("self-rewarding").setLora(steer.proto.v1.LoraSettings.newBuilder()
                .setRank(8)));
        // nothing was created by the rejected requests
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> api.getRun(GetRunRequest.newBuilder().setRunId("it-run").build()));
        assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
    }

    @Test
    void aMethodThatAsksAJudgeNeedsOne() {
        for (String method : List.of("osp", "osp-random", "self-rewarding")) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> api.startRun(start(c -> c.setRunId("needs-judge").setAlgorithm(method))));
            assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode(), method);
            assertTrue(e.getStatus().getDescription().contains("steer.orchestrator.judge-address"),
                    e.getStatus().getDescription());
        }
    }

    @Test
    void unknownRunsAreNotFoundAndAMissingIdIsInvalid() {
        StatusRuntimeException get = assertThrows(StatusRuntimeException.class,
                () -> api.getRun(GetRunRequest.newBuilder().setRunId("never-started").build()));
        assertEquals(Status.Code.NOT_FOUND, get.getStatus().getCode());
        assertTrue(get.getStatus().getDescription().contains("never-started"));
        assertEquals(Status.Code.NOT_FOUND, assertThrows(StatusRuntimeException.class,
                () -> api.stopRun(StopRunRequest.newBuilder().setRunId("never-started").build())).getStatus().getCode());
        assertEquals(Status.Code.NOT_FOUND, assertThrows(StatusRuntimeException.class,
                () -> api.watchRun(WatchRunRequest.newBuilder().setRunId("never-started").build()).hasNext())
                .getStatus().getCode());
        StatusRuntimeException empty = assertThrows(StatusRuntimeException.class,
                () -> api.getRun(GetRunRequest.getDefaultInstance()));
        assertEquals(Status.Code.INVALID_ARGUMENT, empty.getStatus().getCode());
        assertTrue(empty.getStatus().getDescription().contains("run_id"));
    }

    @Test
    void evaluationWithoutTheSftModelIsAFailedPrecondition() {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> api.startRun(start(c -> c.setRunId("needs-eval").setSkipEvaluation(false))));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("steer.orchestrator.base-model"),
                e.getStatus().getDescription());
    }

    /**
     * The generator's address has no listener: the run's first call is retried for the retry window (3 s here), then
     * the run fails, says why, and can be resumed.
     */
    @Test
    void aRunWhoseGeneratorIsDownFailsWithTheReasonAndResumesOnRestart() throws Exception {
        String deadPort = System.getProperty(OrchestratorTestEnvironment.DEAD_GENERATOR_PORT_PROPERTY);
        Run started = api.startRun(start(c -> c.setRunId("dead-generator").setIterations(2).setBatchSize(8)
                .setPromptsPerIteration(16)));
        assertEquals("dead-generator", started.getRunId());
        assertEquals(RunState.RUN_STATE_RUNNING, started.getState());
        assertEquals(2, started.getConfig().getIterations());
        assertEquals(0.7f, started.getConfig().getSampling().getTemperature(), 1e-6, "defaults are spelled out");
        assertEquals("sso", started.getConfig().getAlgorithm());

        Run failed = lastSnapshot("dead-generator");
        assertEquals(RunState.RUN_STATE_FAILED, failed.getState());
        assertTrue(failed.getError().contains("generator at localhost:" + deadPort), failed.getError());
        assertTrue(failed.getError().contains("UNAVAILABLE"), failed.getError());
        assertEquals(0, failed.getCompletedIterations());
        assertEquals(failed, api.getRun(GetRunRequest.newBuilder().setRunId("dead-generator").build()));

        // the same id resumes the persisted run (with its stored config) instead of starting over
        Run resumed = api.startRun(start(c -> c.setRunId("dead-generator").setIterations(5)));
        assertEquals(RunState.RUN_STATE_RUNNING, resumed.getState());
        assertEquals(2, resumed.getConfig().getIterations(), "a resumed run keeps its settings");
        assertEquals(RunState.RUN_STATE_FAILED, lastSnapshot("dead-generator").getState());

        // and the service still answers
        HttpResponse<String> live = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create(url.toString() + "q/health/live")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, live.statusCode());
        HttpResponse<String> metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create(url.toString() + "q/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(metrics.body().contains("steer_orchestrator_runs_total{outcome=\"failed\"}"), "run outcome metric");
        assertFalse(api.getRun(GetRunRequest.newBuilder().setRunId("dead-generator").build()).getRunId().isEmpty());
    }

    /** Watches a run until its stream ends; returns the last snapshot. */
    private Run lastSnapshot(String runId) {
        List<RunEvent> events = new ArrayList<>();
        Iterator<RunEvent> it = OrchestratorGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
                .watchRun(WatchRunRequest.newBuilder().setRunId(runId).build());
        it.forEachRemaining(events::add);
        assertFalse(events.isEmpty(), "WatchRun starts with the current state");
        assertTrue(events.get(0).hasRun());
        Run last = null;
        for (RunEvent e : events) {
            if (e.hasRun()) {
                last = e.getRun();
            }
        }
        return last;
    }
}
