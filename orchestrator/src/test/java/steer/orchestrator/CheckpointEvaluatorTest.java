package steer.orchestrator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.align.RunWorld;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.model.DecoderInit;
import steer.tokenizer.Tokenizer;
import steer.world.WorldModelSize;
import steer.world.WorldVocabulary;

/** Evaluation of real (tiny, untrained) world checkpoints read from directories, as the run loop does it. */
class CheckpointEvaluatorTest {

    @TempDir
    static Path dir;

    static Path base;
    static Path checkpoint;

    @BeforeAll
    static void models() {
        base = model("sft", 1);
        checkpoint = model("v000001", 2);
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

    @Test
    void aCheckpointIsScoredAgainstTheSftModelOnTheRunsHeldOutQueries() {
        RunWorld world = RunWorld.of(0, 1);
        try (CheckpointEvaluator evaluator = new CheckpointEvaluator(base)) {
            Map<String, Double> baseline = evaluator.evaluateBaseline(world.heldOut(8), 3);
            assertFalse(baseline.containsKey("win_rate"), "the baseline is not compared with itself");
            assertEquals(8.0, baseline.get("n"));
            Map<String, Double> m = evaluator.evaluate(checkpoint.toString(), world.heldOut(8), 3);
            for (String key : new String[] {"mean_score", "win_rate", "mean_length", "signal_accuracy", "on_policy",
                "judge_accuracy", "feature_accuracy"}) {
                assertTrue(m.containsKey(key), key + " in " + m);
            }
            assertTrue(m.get("win_rate") >= 0 && m.get("win_rate") <= 1);
            assertEquals(m, evaluator.evaluate(checkpoint.toString(), world.heldOut(8), 3), "seeded: the same figures again");
            RunFailure missing = assertThrows(RunFailure.class,
                    () -> evaluator.evaluate(dir.resolve("v000009").toString(), world.heldOut(8), 3));
            assertTrue(missing.getMessage().contains("v000009"));
        }
        try (CheckpointEvaluator withoutBase = new CheckpointEvaluator(null)) {
            RunFailure e = assertThrows(RunFailure.class, () -> withoutBase.evaluateBaseline(world().heldOut(8), 3));
            assertTrue(e.getMessage().contains("steer.orchestrator.base-model"));
        }
    }

    @Test
    void anAdapterVersionIsEvaluatedOnTheSftModelItWasTrainedOnAsItsMergedModelWouldBe() {
        RunWorld world = RunWorld.of(0, 1);
        steer.checkpoint.LoraConfig lora = steer.checkpoint.LoraConfig.of(4, java.util.EnumSet.of(
                steer.checkpoint.LoraConfig.Target.Q, steer.checkpoint.LoraConfig.Target.V,
                steer.checkpoint.LoraConfig.Target.DOWN));
        Path adapter = steer.world.TinyWorldModel.writeAdapter(dir.resolve("lora-v000001"), base, lora, 9, 0.3);
        // the same model as a full checkpoint: W + (α/r)·B·A folded in
        HfCheckpoint b = HfCheckpoint.load(base);
        Path merged = dir.resolve("merged");
        HfCheckpoint.save(merged, b.config(), steer.checkpoint.LoraCheckpoint.load(adapter, b.config())
                .merge(b.config(), b.tensors()));
        WorldVocabulary.writeTokenizer(merged);
        try (CheckpointEvaluator evaluator = new CheckpointEvaluator(base)) {
            Map<String, Double> asAdapter = evaluator.evaluate(adapter.toString(), world.heldOut(8), 3);
            Map<String, Double> asMerged = evaluator.evaluate(merged.toString(), world.heldOut(8), 3);
            Map<String, Double> sft = evaluator.evaluateBaseline(world.heldOut(8), 3);
            assertEquals(asMerged.keySet(), asAdapter.keySet());
            for (String key : asMerged.keySet()) {
                assertEquals(asMerged.get(key), asAdapter.get(key), 1e-3, key);
            }
            assertTrue(!asAdapter.get("on_policy").equals(sft.get("on_policy")), "the adapter changes the model: "
                    + asAdapter + " vs " + sft);
            // the baseline the adapter was put on is untouched: its figures are the same afterwards
            assertEquals(sft, evaluator.evaluateBaseline(world.heldOut(8), 3));
        }
    }

    private static RunWorld world() {
        return RunWorld.of(0, 1);
    }
}
