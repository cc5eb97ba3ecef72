package steer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.CheckpointException;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.LoraCheckpoint;
import steer.checkpoint.LoraConfig;
import steer.checkpoint.LoraConfig.Target;
import steer.world.TinyWorldModel;

/** A LoRA adapter put in front of a loaded model's weights: the merged model's numbers, and no copy or leak of the base. */
class LanguageModelAdapterTest {

    @TempDir
    Path dir;

    static final LoraConfig LORA = new LoraConfig(2, 4, EnumSet.of(Target.Q, Target.V, Target.O, Target.DOWN), 0, null);
    static final List<String> PROMPTS = List.of("query : add 3 4", "query : sort 5 2 9");
    static final List<String> RESPONSES = List.of("answer : 7 .", "answer : 2 5 9 .");

    /** The base with the adapter folded in by {@link LoraCheckpoint#merge}, as {@code ./steer lora merge} writes it. */
    static Path writeMerged(Path out, Path base, Path adapter) throws IOException {
        HfCheckpoint model = HfCheckpoint.load(base);
        LoraCheckpoint lora = LoraCheckpoint.load(adapter, model.config());
        HfCheckpoint.save(out, model.config(), lora.merge(model.config(), model.tensors()));
        Files.copy(base.resolve("tokenizer.json"), out.resolve("tokenizer.json"));
        return out;
    }

    private static List<ResponseLogProbs> score(LanguageModel m) {
        return SequenceScorer.scoreToJava(m.decoder(), PROMPTS.stream().map(p -> m.tokenizer().encode(p)).toList(),
                RESPONSES.stream().map(r -> m.tokenizer().encodeWithoutSpecialTokens(r)).toList());
    }

    private static double maxDifference(List<ResponseLogProbs> a, List<ResponseLogProbs> b) {
        double most = 0;
        for (int i = 0; i < a.size(); i++) {
            for (int t = 0; t < a.get(i).perToken().length; t++) {
                most = Math.max(most, Math.abs(a.get(i).perToken()[t] - b.get(i).perToken()[t]));
            }
        }
        return most;
    }

    private static int arrays(NDManager m) {
        return m.getManagedArrays().size();
    }

    @Test
    void anAdaptedViewScoresAsTheMergedModelAndClosingItFreesOnlyTheAdapter() throws IOException {
        Path base = TinyWorldModel.write(dir.resolve("base"), 1);
        Path adapter = TinyWorldModel.writeAdapter(dir.resolve("adapter"), base, LORA, 2, 0.3);
        Path merged = writeMerged(dir.resolve("merged"), base, adapter);
        List<ResponseLogProbs> expected;
        try (LanguageModel m = LanguageModel.load(merged)) {
            expected = score(m);
        }
        try (LanguageModel model = LanguageModel.load(base)) {
            NDManager weights = model.decoder().manager();
            int before = arrays(weights);
            List<ResponseLogProbs> plain = score(model);
            // the adapter moves the numbers, so matching the merged model is not matching the base
            assertTrue(maxDifference(plain, expected) > 1e-2, "adapter effect " + maxDifference(plain, expected));
            try (LanguageModel adapted = model.withAdapter(adapter)) {
                assertSame(model.tokenizer(), adapted.tokenizer());
                assertSame(weights, adapted.decoder().manager());
                // per layer, per target, A and B; and the scale
                int adapterArrays = 2 * LORA.targets().size() * model.decoder().config().numLayers() + 1;
                assertEquals(before + adapterArrays, arrays(weights), "the adapter's matrices, not a copy of the base");
                assertTrue(maxDifference(score(adapted), expected) < 1e-4, "max difference "
                        + maxDifference(score(adapted), expected));
                assertEquals(model.parameterCount() + adapted.decoder().adapter().parameterCount(), adapted.parameterCount());
            }
            assertEquals(before, arrays(weights), "closing the view frees its adapter and nothing of the base");
            assertTrue(weights.isOpen());
            assertEquals(0, maxDifference(score(model), plain), "the base is untouched");
        }
    }

    @Test
    void aReplacedAdapterIsFreedWithItsViewAndAMisfitLeavesNothingAllocated() throws IOException {
        Path base = TinyWorldModel.write(dir.resolve("base"), 1);
        Path first = TinyWorldModel.writeAdapter(dir.resolve("first"), base, LORA, 3, 0.3);
        Path second = TinyWorldModel.writeAdapter(dir.resolve("second"), base, LoraConfig.of(4, EnumSet.of(Target.UP)), 4, 0.3);
        try (LanguageModel model = LanguageModel.load(base)) {
            NDManager weights = model.decoder().manager();
            int before = arrays(weights);
            int firstArrays = 2 * LORA.targets().size() * model.decoder().config().numLayers() + 1;
            int secondArrays = 2 * model.decoder().config().numLayers() + 1;
            LanguageModel one = model.withAdapter(first);
            // on a view, a new adapter replaces the view's rather than stacking on it
            LanguageModel two = one.withAdapter(second);
            assertEquals(EnumSet.of(Target.UP), two.decoder().adapter().config().targets());
            assertEquals(before + firstArrays + secondArrays, arrays(weights));
            one.close();
            assertEquals(before + secondArrays, arrays(weights));
            two.close();
            assertEquals(before, arrays(weights));

            // rank 3 in adapter_config.json, rank 2 in the tensors: refused with the file and tensor named
            Path misfit = TinyWorldModel.writeAdapter(dir.resolve("misfit"), base, LORA, 5, 0.3);
            Files.writeString(misfit.resolve(LoraConfig.FILE_NAME),
                    Files.readString(misfit.resolve(LoraConfig.FILE_NAME)).replace("\"r\" : 2", "\"r\" : 3"));
            CheckpointException e = assertThrows(CheckpointException.class, () -> model.withAdapter(misfit));
            assertTrue(e.getMessage().startsWith(misfit.resolve(LoraCheckpoint.WEIGHTS_FILE) + ": tensor "
                    + "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight: expected shape [3, 32]"), e.getMessage());
            Files.delete(misfit.resolve(LoraCheckpoint.WEIGHTS_FILE));
            assertThrows(CheckpointException.class, () -> model.withAdapter(misfit));
            assertEquals(before, arrays(weights));
        }
    }
}
