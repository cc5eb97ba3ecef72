package steer.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.world.TinyWorldModel;

/**
 * A reproducible score job gets the same bits alone and while other jobs are scored: it is batched only with itself.
 * Merged into a batch padded to a longer companion, a row's log-probs move in their last bits.
 */
class ReproducibleScoringTest {

    @TempDir
    Path dir;

    private static final List<String> PROMPTS = List.of("query : add 3 4", "query : sort 5 2 9 1", "query : copy a b");
    private static final List<String> RESPONSES = List.of("7", "1 2 5 9", "a b");

    private static BatchedScorer.Result scoreAmongOthers(BatchedScorer scorer, boolean reproducible) throws Exception {
        List<CompletableFuture<BatchedScorer.Result>> others = new ArrayList<>();
        // a long companion first, so that a shared batch would be padded to it
        others.add(scorer.submit(new BatchedScorer.Job("policy", List.of("query : reverse a b c d e f g h i j k l"),
                List.of("l k j i h g f e d c b a")), Long.MAX_VALUE));
        CompletableFuture<BatchedScorer.Result> mine = scorer.submit(new BatchedScorer.Job("policy", PROMPTS, RESPONSES),
                reproducible, Long.MAX_VALUE);
        others.add(scorer.submit(new BatchedScorer.Job("policy", List.of("query : count x"), List.of("1")), Long.MAX_VALUE));
        for (CompletableFuture<BatchedScorer.Result> o : others) {
            o.get(60, TimeUnit.SECONDS);
        }
        return mine.get(60, TimeUnit.SECONDS);
    }

    @Test
    void aReproducibleJobScoresTheSameBitsAloneAndAmongOtherJobs() throws Exception {
        Path m = TinyWorldModel.write(dir.resolve("m"), 4);
        // a 50 ms window: jobs queued together would share a batch if allowed
        MicroBatcher.Settings settings = new MicroBatcher.Settings(Duration.ofMillis(50), 64, 16);
        try (ModelRegistry registry = new ModelRegistry(Optional.empty());
             BatchedScorer scorer = new BatchedScorer(registry, settings, (n, size, nanos) -> { })) {
            registry.load("policy", 0, m);
            BatchedScorer.Result alone = scorer.submit(new BatchedScorer.Job("policy", PROMPTS, RESPONSES), true,
                    Long.MAX_VALUE).get(60, TimeUnit.SECONDS);
            for (int round = 0; round < 3; round++) {
                BatchedScorer.Result got = scoreAmongOthers(scorer, true);
                assertEquals(alone.scores().size(), got.scores().size());
                for (int i = 0; i < PROMPTS.size(); i++) {
                    assertArrayEquals(alone.scores().get(i).perToken(), got.scores().get(i).perToken(), 0f,
                            "round " + round + " pair " + i);
                    assertEquals(alone.scores().get(i).sum(), got.scores().get(i).sum(), 0.0);
                }
            }
        }
    }
}
