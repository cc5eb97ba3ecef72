package steer.world;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.model.LanguageModel;

class WorldSftTest {

    @TempDir
    Path dir;

    /** A short run of a tiny size: the same seed gives the same bytes, and the loss falls. */
    @Test
    void sameSeedReproducesTheCheckpointExactly() throws Exception {
        WorldModelSize tiny = new WorldModelSize(32, 2, 2, 1, 64, 3e-3, 30);
        List<Double> losses = new ArrayList<>();
        WorldSft.train(tiny, dir.resolve("a"), 7, r -> losses.add(r.loss()));
        WorldSft.train(tiny, dir.resolve("b"), 7, r -> { });
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
            assertArrayEquals(Files.readAllBytes(dir.resolve("a").resolve(f)), Files.readAllBytes(dir.resolve("b").resolve(f)), f);
        }
        assertEquals(Files.readAllLines(dir.resolve("a").resolve("sft.jsonl")), Files.readAllLines(dir.resolve("b").resolve("sft.jsonl")));
        assertEquals(30, losses.size());
        assertTrue(losses.get(29) < losses.get(0), "loss " + losses.get(0) + " -> " + losses.get(29));
        assertFalse(Files.exists(dir.resolve("a").resolve("run")), "working files are removed");
        try (LanguageModel m = LanguageModel.load(dir.resolve("a"))) {
            assertEquals(WorldModelSize.MAX_POSITIONS, m.decoder().config().maxPositionEmbeddings());
        }
    }

    @Test
    void theThreeSizesHaveTheAdvertisedParameterCounts() {
        int vocab = WorldVocabulary.words().size() + 3;
        long[] expected = {200_000, 1_000_000, 4_000_000};
        WorldModelSize[] sizes = {WorldModelSize.SMALL, WorldModelSize.MEDIUM, WorldModelSize.LARGE};
        for (int i = 0; i < 3; i++) {
            long n = steer.model.DecoderInit.defaults().tensors(sizes[i].config(vocab), 0).values().stream()
                    .mapToLong(t -> t.size()).sum();
            assertTrue(n > 0.75 * expected[i] && n < 1.25 * expected[i], sizes[i] + " has " + n + " parameters");
        }
    }

    /** Small and large keep the recipe their committed checkpoints were trained with; medium has its own. */
    @Test
    void smallAndLargeKeepTheDefaultRecipe() {
        for (WorldModelSize s : new WorldModelSize[] {WorldModelSize.SMALL, WorldModelSize.LARGE}) {
            assertEquals(WorldSft.DEMONSTRATIONS, s.demonstrations());
            assertEquals(DemoMixture.defaults(), s.mixture());
            assertEquals(steer.train.LearningRateSchedule.forSteps(s.steps()), s.schedule());
        }
        assertEquals(1, WorldModelSize.SMALL.threads());
        assertEquals(2, WorldModelSize.LARGE.threads());
        assertEquals(1, WorldModelSize.MEDIUM.threads());
        assertEquals(DemoMixture.medium(), WorldModelSize.MEDIUM.mixture());
        assertEquals(5000, WorldModelSize.MEDIUM.withSteps(5000).steps());
        assertEquals(WorldModelSize.MEDIUM.mixture(), WorldModelSize.MEDIUM.withSteps(5000).mixture());
        for (int steps : new int[] {1, 7, 30, 2800, 3000, 8000, 12345}) {
            assertEquals(steer.train.LearningRateSchedule.forSteps(steps), WorldModelSize.SMALL.withSteps(steps).schedule());
        }
    }
}
