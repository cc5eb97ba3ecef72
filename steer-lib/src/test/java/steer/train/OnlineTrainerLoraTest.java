package steer.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HostTensor;
import steer.checkpoint.LoraCheckpoint;
import steer.checkpoint.LoraConfig;
import steer.checkpoint.SafetensorsReader;
import steer.data.SsoExample;
import steer.model.DecoderInit;
import steer.objective.ObjectiveFactory;
import steer.store.CheckpointStore;
import steer.store.StoredCheckpoint;
import steer.tokenizer.Tokenizer;
import steer.world.TinyWorldModel;
import steer.world.WorldVocabulary;

/** OnlineTrainer with LoRA: only the adapter trains and is saved, and a restart continues it bit for bit. */
class OnlineTrainerLoraTest {

    static final int PER_ITERATION = 3;
    static final LoraConfig LORA = new LoraConfig(2, 4, EnumSet.of(LoraConfig.Target.Q, LoraConfig.Target.V,
            LoraConfig.Target.DOWN), 0, null);

    @TempDir
    static Path base;
    static DecoderConfig config;
    /** Two iterations of SSO batches of run-l, training {@link #LORA}; iteration 1 measured against version 1. */
    static List<OnlineTrainer.Batch> batches;

    @BeforeAll
    static void tinyWorldModelAndTwoIterationsOfLoraBatches() {
        WorldVocabulary.writeTokenizer(base);
        try (Tokenizer t = Tokenizer.load(base)) {
            config = TinyWorldModel.SIZE.config(t.vocabSize());
            HfCheckpoint.save(base, config, new DecoderInit(0.5, false).tensors(config, 3));
            ExampleEncoder encoder = ExampleEncoder.forModel(t, config);
            Random r = new Random(11);
            batches = new ArrayList<>();
            for (int it = 0; it < 2; it++) {
                for (int i = 0; i < PER_ITERATION; i++) {
                    List<SsoExample> examples = List.of(OnlineTrainerTest.ssoExample(encoder, r),
                            OnlineTrainerTest.ssoExample(encoder, r));
                    batches.add(new OnlineTrainer.Batch("run-l", it, "it" + it + "-b" + i, it,
                            ObjectiveFactory.create("sso", Map.of()), i, PER_ITERATION, 0, 0, examples).withLora(LORA));
                }
            }
        }
    }

    static OnlineTrainer.Settings settings(Path root) {
        // the LoRA learning rate is high so that six steps move the adapter well clear of rounding
        return new OnlineTrainer.Settings(base, root.resolve("state"), new CheckpointStore(root.resolve("store")), null,
                AdamWConfig.defaults().withLr(2e-4), 1.0, 32, 1, 2, 1e-2);
    }

    @Test
    void trainsOnlyTheAdapterKeepsASmallStateAndRestartsBitForBit(@TempDir Path a, @TempDir Path b)
            throws IOException {
        try (OnlineTrainer uninterrupted = OnlineTrainer.open(settings(a))) {
            for (OnlineTrainer.Batch batch : batches) {
                assertInstanceOf(OnlineTrainer.Trained.class, uninterrupted.train(batch));
                uninterrupted.saveState();
            }
            assertEquals(2, uninterrupted.status().checkpointVersion());
            assertEquals(1e-2, uninterrupted.status().lastMetrics().get("lr"), 1e-12,
                    "a batch naming no learning rate trains at the trainer's LoRA rate");
            steer.store.StoredSnapshot requested = uninterrupted.snapshot();
            assertTrue(LoraCheckpoint.isAdapter(requested.location()), "a snapshot is an adapter too");
            assertFalse(Files.exists(requested.location().resolve("model.safetensors")));
        }

        // each version is a PEFT adapter directory on the base, with its checkpoint.json
        CheckpointStore storeA = new CheckpointStore(a.resolve("store"));
        assertEquals(List.of(1L, 2L), storeA.versions("run-l"));
        Path v2 = storeA.location("run-l", 2);
        assertTrue(LoraCheckpoint.isAdapter(v2));
        assertFalse(Files.exists(v2.resolve("model.safetensors")), "no full model in an adapter version");
        assertTrue(Files.isRegularFile(v2.resolve(Tokenizer.FILE_NAME)));
        LoraCheckpoint adapter = LoraCheckpoint.load(v2, config);
        assertEquals(LORA, adapter.config().withBaseModel(null));
        assertEquals(base.toAbsolutePath().normalize().toString(), adapter.config().baseModel());
        StoredCheckpoint info = storeA.read("run-l", 2);
        assertEquals(6, info.step());
        float maxB = 0;
        for (HostTensor t : adapter.tensors().values()) {
            if (t.name().contains("lora_B")) {
                for (float x : t.data()) {
                    maxB = Math.max(maxB, Math.abs(x));
                }
            }
        }
        assertTrue(maxB > 1e-4, "B starts at 0 and training moved it: max |B| " + maxB);
        assertNotEquals(bytes(storeA.location("run-l", 1).resolve(LoraCheckpoint.WEIGHTS_FILE)),
                bytes(v2.resolve(LoraCheckpoint.WEIGHTS_FILE)));

        // the durable state holds the adapter and AdamW moments of its matrices only, nothing of the base
        Path state = TrainerCheckpoint.latest(a.resolve("state/runs/run-l/states")).orElseThrow();
        assertFalse(Files.exists(state.resolve("model.safetensors")));
        Set<String> moments = SafetensorsReader.read(state.resolve(TrainerCheckpoint.OPTIMIZER_FILE)).keySet();
        long adapterMatrices = adapter.tensors().size();
        assertEquals(2 * adapterMatrices, moments.size(), "m and v of each adapter matrix: " + moments);
        assertTrue(moments.stream().allMatch(n -> n.contains(".lora_A") || n.contains(".lora_B")), moments.toString());
        long stateBytes = directoryBytes(state);
        long baseBytes = Files.size(base.resolve("model.safetensors"));
        assertTrue(stateBytes < baseBytes / 4, "state " + stateBytes + " bytes, base weights " + baseBytes);

        // the same batches with a crash after iteration 0's version was written but before its save, and one
        // after a plain step of iteration 1: the restarts draw nothing new and end on the same bits
        OnlineTrainer t = OnlineTrainer.open(settings(b));
        for (int i = 0; i < PER_ITERATION; i++) {
            t.train(batches.get(i));
            if (i < PER_ITERATION - 1) {
                t.saveState();
            }
        }
        t.close();
        t = OnlineTrainer.open(settings(b));
        assertEquals(1, assertInstanceOf(OnlineTrainer.Trained.class, t.train(batches.get(PER_ITERATION - 1)))
                .checkpoint().orElseThrow().version(), "the version written before the crash is reused");
        t.saveState();
        t.train(batches.get(PER_ITERATION));
        t.close();
        t = OnlineTrainer.open(settings(b));
        for (OnlineTrainer.Batch batch : batches.subList(PER_ITERATION, batches.size())) {
            t.train(batch);
            t.saveState();
        }
        assertEquals(6, t.status().step());
        t.close();
        CheckpointStore storeB = new CheckpointStore(b.resolve("store"));
        for (long v = 1; v <= 2; v++) {
            assertArrayEquals(bytes(storeA.location("run-l", v).resolve(LoraCheckpoint.WEIGHTS_FILE)),
                    bytes(storeB.location("run-l", v).resolve(LoraCheckpoint.WEIGHTS_FILE)), "version " + v);
        }
        Path stateB = TrainerCheckpoint.latest(b.resolve("state/runs/run-l/states")).orElseThrow();
        assertArrayEquals(bytes(state.resolve(TrainerCheckpoint.OPTIMIZER_FILE)),
                bytes(stateB.resolve(TrainerCheckpoint.OPTIMIZER_FILE)), "the same AdamW moments");
    }

    @Test
    void aRunKeepsTheLoraSettingsItStartedWithAcrossRestarts(@TempDir Path root) {
        OnlineTrainer.Batch first = batches.get(0);
        OnlineTrainer.Batch second = batches.get(1);
        LoraConfig rank4 = new LoraConfig(4, 4, LORA.targets(), 0, null);
        try (OnlineTrainer t = OnlineTrainer.open(settings(root))) {
            assertInstanceOf(OnlineTrainer.Trained.class, t.train(first));
            t.saveState();
            OnlineTrainer.Refused other = assertInstanceOf(OnlineTrainer.Refused.class, t.train(second.withLora(rank4)));
            assertEquals(OnlineTrainer.RefusalKind.CHANGED_LORA, other.kind());
            assertTrue(other.reason().contains("rank 4") && other.reason().contains("rank 2"), other.reason());
            // a full fine-tuning run of another id beside it, in the same trainer
            assertInstanceOf(OnlineTrainer.Trained.class, t.train(relabel(first, "run-f").withLora(null)));
            assertEquals(OnlineTrainer.RefusalKind.CHANGED_LORA, assertInstanceOf(OnlineTrainer.Refused.class,
                    t.train(relabel(second, "run-f"))).kind(), "a full fine-tuning run refuses an adapter");
            t.saveState();
        }
        try (OnlineTrainer t = OnlineTrainer.open(settings(root))) {
            OnlineTrainer.Refused none = assertInstanceOf(OnlineTrainer.Refused.class, t.train(second.withLora(null)));
            assertEquals(OnlineTrainer.RefusalKind.CHANGED_LORA, none.kind(), "the settings survive the restart");
            assertTrue(none.reason().contains("full fine-tuning"), none.reason());
            assertInstanceOf(OnlineTrainer.Trained.class, t.train(second));
            assertEquals(2, t.runs().stream().filter(s -> s.runId().equals("run-l")).findFirst().orElseThrow().step());
        }
    }

    private static OnlineTrainer.Batch relabel(OnlineTrainer.Batch b, String runId) {
        return new OnlineTrainer.Batch(runId, b.iteration(), b.batchId(), b.policyVersion(), b.objective(),
                b.batchIndex(), b.batchesInIteration(), b.learningRate(), b.totalSteps(), b.examples(),
                b.referenceVersion(), b.maxPolicyStaleness(), b.lora());
    }

    private static byte[] bytes(Path p) throws IOException {
        return Files.readAllBytes(p);
    }

    private static long directoryBytes(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            long n = 0;
            for (Path p : s.toList()) {
                n += Files.size(p);
            }
            return n;
        }
    }
}
