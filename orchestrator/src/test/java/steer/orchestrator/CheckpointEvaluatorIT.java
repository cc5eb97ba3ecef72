package steer.orchestrator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.opentelemetry.api.OpenTelemetry;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.align.EvalMetrics;
import steer.align.RunWorld;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.LoraConfig;
import steer.launch.FreePorts;
import steer.launch.ServiceProcess;
import steer.model.DecoderInit;
import steer.model.LanguageModel;
import steer.proto.v1.GeneratorGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.ModelInfo;
import steer.tokenizer.Tokenizer;
import steer.world.EvaluatedModel;
import steer.world.Task;
import steer.world.TinyWorldModel;
import steer.world.WorldEvaluation;
import steer.world.WorldModelSize;
import steer.world.WorldVocabulary;

/**
 * Evaluation on the packaged generator-svc (a process on loopback) gives the reports of the same model loaded in
 * this process, for the SFT model, a LoRA adapter version and a full checkpoint, and loads nothing onto the
 * generator but the policy's versions; for a run state that predates keeping the SFT model's answers, they are
 * sampled again under {@code policy@<run>/v0}.
 */
class CheckpointEvaluatorIT {

    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

    @TempDir
    static Path dir;

    static Path base;
    static Path adapter;
    static Path checkpoint;
    static ServiceProcess generator;
    static PolicyClient policy;

    @BeforeAll
    static void start() {
        base = model("sft", 1);
        checkpoint = model("v000002", 2);
        adapter = TinyWorldModel.writeAdapter(dir.resolve("v000001-adapter"), base,
                LoraConfig.of(4, EnumSet.of(LoraConfig.Target.Q, LoraConfig.Target.V)), 9, 0.3);
        generator = new ServiceProcess("generator", ROOT.resolve("generator-svc/target/quarkus-app/quarkus-run.jar"),
                FreePorts.next(), Map.of("steer.generator.model-location", base.toString(),
                "quarkus.otel.sdk.disabled", "true"), Path.of("target", "service-logs")).start()
                .awaitReady(Duration.ofSeconds(90));
        policy = new PolicyClient(config(generator.address()), OpenTelemetry.noop());
    }

    @AfterAll
    static void stop() {
        if (policy != null) {
            policy.close();
        }
        if (generator != null) {
            generator.close();
        }
    }

    private static Path model(String name, long seed) {
        Path m = dir.resolve(name);
        WorldVocabulary.writeTokenizer(m);
        int vocab;
        try (Tokenizer t = Tokenizer.load(m)) {
            vocab = t.vocabSize();
        }
        DecoderConfig c = new WorldModelSize(32, 2, 2, 1, 64, 1e-3, 1).config(vocab);
        HfCheckpoint.save(m, c, new DecoderInit(0.5, false).tensors(c, seed));
        return m;
    }

    private static OrchestratorConfig config(String generators) {
        return (OrchestratorConfig) Proxy.newProxyInstance(OrchestratorConfig.class.getClassLoader(),
                new Class<?>[] {OrchestratorConfig.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "generatorAddress" -> generators;
                    case "judgeAddress", "judgeApiKey", "generatorAdminKey" -> Optional.empty();
                    case "policyModel" -> "policy";
                    case "loadDeadline", "generateDeadline" -> Duration.ofSeconds(60);
                    case "generateChunk" -> 64;
                    case "callRetryWindow" -> Duration.ZERO;
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    /** The report of {@code dir} loaded here (an adapter onto the SFT model), against the SFT model's answers. */
    private static WorldEvaluation.Evaluated inProcess(Path model, List<String> sftAnswers, List<Task> queries) {
        try (LanguageModel sft = LanguageModel.load(base);
             LanguageModel m = model.equals(base) ? null : model.equals(adapter) ? sft.withAdapter(adapter)
                     : LanguageModel.load(model)) {
            return WorldEvaluation.evaluate(EvaluatedModel.of(m == null ? sft : m), sftAnswers, queries,
                    WorldEvaluation.Settings.defaults(3));
        }
    }

    @Test
    void versionsEvaluatedOnTheGeneratorReportWhatTheyReportLoadedInProcess() throws InterruptedException {
        List<Task> queries = RunWorld.of(0, 1).heldOut(40);
        try (CheckpointEvaluator evaluator = new CheckpointEvaluator(base, policy, null, "policy")) {
            WorldEvaluation.Evaluated sft = evaluator.evaluateBaseline(queries, 3);
            WorldEvaluation.Evaluated sftHere = inProcess(base, null, queries);
            assertEquals(sftHere.report(), sft.report());
            assertEquals(sftHere.answers(), sft.answers());
            assertEquals(40, sft.answers().size());

            // a LoRA version: the adapter is hot-loaded onto the SFT model the generator serves as the policy
            Map<String, Double> lora = evaluator.evaluate(1, adapter.toString(), sft.answers(), queries, 3);
            assertEquals(EvalMetrics.of(inProcess(adapter, sft.answers(), queries).report()), lora);
            assertNotEquals(EvalMetrics.of(sft.report()).get("on_policy"), lora.get("on_policy"),
                    "the adapter changes the model");

            // a full checkpoint
            Map<String, Double> full = evaluator.evaluate(2, checkpoint.toString(), sft.answers(), queries, 3);
            assertEquals(EvalMetrics.of(inProcess(checkpoint, sft.answers(), queries).report()), full);
            assertTrue(full.get("win_rate") >= 0 && full.get("win_rate") <= 1);

            // a version that is not in the store fails the evaluation, naming it and the generator's status
            RunFailure missing = assertThrows(RunFailure.class,
                    () -> evaluator.evaluate(3, dir.resolve("v000009").toString(), sft.answers(), queries, 3));
            assertTrue(missing.getMessage().contains("v000009") && missing.getMessage().contains("INVALID_ARGUMENT"),
                    missing.getMessage());
            // the baseline's answers must be those of the same queries
            assertThrows(IllegalArgumentException.class,
                    () -> evaluator.evaluate(2, checkpoint.toString(), sft.answers().subList(0, 5), queries, 3));
        }
        List<ModelInfo> served = servedModels();
        assertEquals(1, served.size(), "evaluation loads nothing beside the policy: " + served);
        assertEquals(2, served.get(0).getVersion(), "the policy serves the last version evaluated");

        // a run state written before the SFT model's answers were kept: they are sampled again under a name of the
        // run's own, the policy's name serving a later version by then, and they are the baseline's answers
        try (CheckpointEvaluator evaluator = new CheckpointEvaluator(base, policy, null, "policy")) {
            assertEquals(inProcess(base, null, queries).answers(), evaluator.sftAnswers("r1", queries, 3));
        }
        assertEquals(List.of("policy", "policy@r1/v0"), servedModels().stream().map(ModelInfo::getName).sorted()
                .toList());
    }

    private static List<ModelInfo> servedModels() throws InterruptedException {
        ManagedChannel channel = NettyChannelBuilder.forTarget(generator.address()).usePlaintext().build();
        try {
            return GeneratorGrpc.newBlockingStub(channel).listModels(ListModelsRequest.getDefaultInstance())
                    .getModelsList();
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void withoutTheSftModelsTokenizerEvaluationFailsNamingTheSetting() {
        try (CheckpointEvaluator evaluator = new CheckpointEvaluator(null, policy, null, "policy")) {
            RunFailure e = assertThrows(RunFailure.class,
                    () -> evaluator.evaluateBaseline(RunWorld.of(0, 1).heldOut(8), 3));
            assertTrue(e.getMessage().contains("steer.orchestrator.base-model"), e.getMessage());
        }
        try (CheckpointEvaluator evaluator = new CheckpointEvaluator(dir.resolve("nothing"), policy, null, "policy")) {
            RunFailure e = assertThrows(RunFailure.class,
                    () -> evaluator.evaluateBaseline(RunWorld.of(0, 1).heldOut(8), 3));
            assertFalse(e.getMessage().isEmpty());
            assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
        }
    }
}
