package steer.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.model.LanguageModel;
import steer.model.SamplingParams;
import steer.model.TextCompletion;
import steer.world.TinyWorldModel;

class BatchedGeneratorTest {

    @TempDir
    Path dir;

    private static List<GeneratedSample> join(List<CompletableFuture<List<GeneratedSample>>> parts) throws Exception {
        List<GeneratedSample> out = new ArrayList<>();
        for (CompletableFuture<List<GeneratedSample>> p : parts) {
            out.addAll(p.get(30, TimeUnit.SECONDS));
        }
        return out;
    }

    @Test
    void concurrentGreedyJobsShareBatchesAndGetWhatTheModelGivesAlone() throws Exception {
        Path m = TinyWorldModel.write(dir.resolve("m"), 5);
        List<String> prompts = List.of("query : add 3 4", "query : sort 5 2 9", "query : reverse a b c");
        List<Integer> batchSizes = Collections.synchronizedList(new ArrayList<>());
        try (ModelRegistry registry = new ModelRegistry(Optional.empty());
             BatchedGenerator generator = new BatchedGenerator(registry, new MicroBatcher.Settings(Duration.ofMillis(50), 4, 64),
                     (n, size, nanos) -> batchSizes.add(size));
             LanguageModel alone = LanguageModel.load(m)) {
            registry.load("policy", 7, m);
            SamplingParams greedy = SamplingParams.greedy(6);
            var first = generator.submit(new BatchedGenerator.Job("policy", prompts, 2, greedy, List.of(), false), Long.MAX_VALUE);
            var second = generator.submit(new BatchedGenerator.Job("policy", prompts.subList(0, 1), 1, greedy, List.of(), false),
                    Long.MAX_VALUE);
            List<GeneratedSample> a = join(first);
            List<GeneratedSample> b = join(second);
            List<TextCompletion> expected = alone.complete(prompts, greedy, List.of());
            assertEquals(6, a.size());
            for (GeneratedSample s : a) {
                assertEquals(s.promptIndex(), a.indexOf(s) / 2);
                assertEquals(s.sampleIndex(), a.indexOf(s) % 2);
                assertArrayEquals(expected.get(s.promptIndex()).tokenIds(), s.tokenIds());
                assertEquals(expected.get(s.promptIndex()).text(), s.text());
                assertEquals("policy", s.model());
                assertEquals(7, s.modelVersion());
            }
            assertArrayEquals(expected.get(0).tokenIds(), b.get(0).tokenIds());
            // 7 sequences in batches of at most 4: the job's second chunk (2) and the other job (1) shared one
            assertEquals(List.of(4, 3), batchSizes);
        }
    }

    @Test
    void aSeededSampledJobIsReproducibleAndEqualsTheLibrarysSamples() throws Exception {
        Path m = TinyWorldModel.write(dir.resolve("m"), 6);
        List<String> prompts = List.of("query : add 3 4", "query : count a a b");
        SamplingParams sampled = new SamplingParams(8, 0.9, 0.95, 0, 42);
        try (ModelRegistry registry = new ModelRegistry(Optional.empty());
             BatchedGenerator generator = new BatchedGenerator(registry, MicroBatcher.Settings.defaults(), (n, size, nanos) -> { });
             LanguageModel alone = LanguageModel.load(m)) {
            registry.load("policy", 0, m);
            BatchedGenerator.Job job = new BatchedGenerator.Job("policy", prompts, 1, sampled, List.of("."), true);
            var one = generator.submit(job, Long.MAX_VALUE);
            var two = generator.submit(new BatchedGenerator.Job("policy", prompts, 1, sampled, List.of("."), true), Long.MAX_VALUE);
            List<GeneratedSample> x = join(one);
            List<GeneratedSample> y = join(two);
            List<TextCompletion> expected = alone.complete(prompts, sampled, List.of("."));
            for (int i = 0; i < 2; i++) {
                assertArrayEquals(expected.get(i).tokenIds(), x.get(i).tokenIds());
                assertArrayEquals(expected.get(i).tokenIds(), y.get(i).tokenIds(), "equal requests never merge");
                assertEquals(42, x.get(i).seed());
            }
        }
    }
}
