package steer.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.model.LanguageModel;
import steer.model.SamplingParams;
import steer.model.TextCompletion;
import steer.world.TinyWorldModel;

/** The continuous scheduler: same samples as the static one, and no sequence waits for an unrelated one. */
class ContinuousBatchingTest {

    @TempDir
    Path dir;

    private static List<GeneratedSample> join(List<CompletableFuture<List<GeneratedSample>>> parts) throws Exception {
        List<GeneratedSample> out = new ArrayList<>();
        for (CompletableFuture<List<GeneratedSample>> p : parts) {
            out.addAll(p.get(60, TimeUnit.SECONDS));
        }
        return out;
    }

    private static BatchedGenerator continuous(ModelRegistry registry, int maxBatchSize, int threads,
                                               MicroBatcher.Listener listener) {
        return new BatchedGenerator(registry, new MicroBatcher.Settings(Duration.ZERO, maxBatchSize, 64),
                BatchedGenerator.Scheduler.CONTINUOUS, threads, false, listener);
    }

    @Test
    void aQueuedSequenceWhoseDeadlinePassedIsDroppedUnrunAndCounted() throws Exception {
        Path m = TinyWorldModel.write(dir.resolve("m"), 5);
        AtomicInteger dropped = new AtomicInteger();
        MicroBatcher.Listener listener = new MicroBatcher.Listener() {
            @Override
            public void batchRan(int n, int size, long nanos) {
            }

            @Override
            public void requestDropped() {
                dropped.incrementAndGet();
            }
        };
        try (ModelRegistry registry = new ModelRegistry(Optional.empty());
             BatchedGenerator generator = continuous(registry, 1, 1, listener)) {
            registry.load("policy", 1, m);
            // one slot: a long job holds it while a second job waits past its deadline
            var busy = generator.submit(new BatchedGenerator.Job("policy", List.of("query : add 3 4"), 1,
                    SamplingParams.greedy(64), List.of(), false), Long.MAX_VALUE);
            var late = generator.submit(new BatchedGenerator.Job("policy", List.of("query : add 1 2", "query : add 2 2"),
                    1, SamplingParams.greedy(4), List.of(), false), System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1));
            join(busy);
            for (CompletableFuture<List<GeneratedSample>> f : late) {
                java.util.concurrent.ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
                        java.util.concurrent.ExecutionException.class, () -> f.get(60, TimeUnit.SECONDS));
                assertTrue(e.getCause() instanceof RequestExpiredException, e.getCause().toString());
            }
            assertEquals(2, dropped.get(), "both waiting sequences dropped unrun");
        }
    }

    @Test
    void overlappingJobsGetWhatEachGetsAloneGreedyAndSeeded() throws Exception {
        Path m = TinyWorldModel.write(dir.resolve("m"), 5);
        List<String> prompts = List.of("query : add 3 4", "query : sort 5 2 9", "query : reverse a b c");
        SamplingParams greedy = SamplingParams.greedy(12);
        SamplingParams seeded = new SamplingParams(10, 0.9, 0.95, 0, 42);
        SamplingParams other = new SamplingParams(7, 1.3, 1, 5, 3);
        try (ModelRegistry registry = new ModelRegistry(Optional.empty());
             BatchedGenerator generator = continuous(registry, 5, 2, (n, size, nanos) -> { });
             LanguageModel alone = LanguageModel.load(m)) {
            registry.load("policy", 7, m);
            // three jobs of different parameters in flight together, in batches of at most 5 sequences
            var a = generator.submit(new BatchedGenerator.Job("policy", prompts, 2, greedy, List.of(), false), Long.MAX_VALUE);
            var b = generator.submit(new BatchedGenerator.Job("policy", prompts.subList(0, 2), 2, seeded, List.of("."), true),
                    Long.MAX_VALUE);
            var c = generator.submit(new BatchedGenerator.Job("policy", prompts.subList(1, 3), 1, other, List.of(), true),
                    Long.MAX_VALUE);
            List<GeneratedSample> ga = join(a), gb = join(b), gc = join(c);

            List<TextCompletion> expectedA = alone.complete(prompts, greedy, List.of());
            for (GeneratedSample s : ga) {
                assertArrayEquals(expectedA.get(s.promptIndex()).tokenIds(), s.tokenIds());
                assertEquals(expectedA.get(s.promptIndex()).text(), s.text());
                assertEquals(7, s.modelVersion());
            }
            // a seeded job's sequence s samples as stream s % maxBatchSize of a static chunk: here stream s of one call
            List<String> bPrompts = List.of(prompts.get(0), prompts.get(0), prompts.get(1), prompts.get(1));
            List<TextCompletion> expectedB = alone.complete(bPrompts, seeded, List.of("."));
            for (int i = 0; i < 4; i++) {
                assertEquals(i / 2, gb.get(i).promptIndex());
                assertEquals(i % 2, gb.get(i).sampleIndex());
                assertArrayEquals(expectedB.get(i).tokenIds(), gb.get(i).tokenIds(), "seeded sample " + i);
                assertArrayEquals(expectedB.get(i).logProbs(), gb.get(i).logProbs(), 1e-4f);
                assertEquals(expectedB.get(i).text(), gb.get(i).text());
                assertEquals(42, gb.get(i).seed());
            }
            List<TextCompletion> expectedC = alone.complete(prompts.subList(1, 3), other, List.of());
            for (int i = 0; i < 2; i++) {
                assertArrayEquals(expectedC.get(i).tokenIds(), gc.get(i).tokenIds(), "top-k sample " + i);
            }
        }
    }

    /**
     * A reproducible job's samples are the same bits alone and beside other work: its parts run in batches of their
     * own.
     * Sharing a batch would move its log-probs in their last bits (the CPU kernels are not batch-invariant), and
     * now and then its tokens.
     */
    @Test
    void aReproducibleJobGetsTheSameBitsAloneAndAmongOtherJobs() throws Exception {
        Path m = TinyWorldModel.write(dir.resolve("m"), 6);
        List<String> prompts = List.of("query : add 3 4", "query : sort 5 2 9 1", "query : reverse a b c d e",
                "query : count x y x");
        SamplingParams seeded = new SamplingParams(14, 1.0, 0.95, 0, 1234);
        BatchedGenerator.Job job = new BatchedGenerator.Job("policy", prompts, 5, seeded, List.of(), true, true);
        List<GeneratedSample> alone;
        try (ModelRegistry registry = new ModelRegistry(Optional.empty());
             BatchedGenerator generator = continuous(registry, 6, 2, (n, size, nanos) -> { })) {
            registry.load("policy", 0, m);
            alone = join(generator.submit(job, Long.MAX_VALUE));
        }
        assertEquals(20, alone.size());
        for (int round = 0; round < 3; round++) {
            try (ModelRegistry registry = new ModelRegistry(Optional.empty());
                 BatchedGenerator generator = continuous(registry, 6, 2, (n, size, nanos) -> { })) {
                registry.load("policy", 0, m);
                // unseeded and other seeded jobs before, beside and after it, of other lengths
                List<List<CompletableFuture<List<GeneratedSample>>>> others = new ArrayList<>();
                for (int i = 0; i <= round; i++) {
                    others.add(generator.submit(new BatchedGenerator.Job("policy", prompts.subList(i, Math.min(prompts.size(), i + 1 + round)), 3,
                            new SamplingParams(5 + 7 * i, 1.2, 1, 0, 0), List.of(), false), Long.MAX_VALUE));
                }
                var again = generator.submit(job, Long.MAX_VALUE);
                others.add(generator.submit(new BatchedGenerator.Job("policy", prompts, 2, SamplingParams.greedy(9),
                        List.of(), false), Long.MAX_VALUE));
                others.add(generator.submit(new BatchedGenerator.Job("policy", prompts.subList(1, 3), 4,
                        new SamplingParams(11, 0.8, 0.9, 4, 77), List.of(), true), Long.MAX_VALUE));
                List<GeneratedSample> got = join(again);
                for (var o : others) {
                    join(o);
                }
                for (int i = 0; i < alone.size(); i++) {
                    assertArrayEquals(alone.get(i).tokenIds(), got.get(i).tokenIds(), "round " + round + " sample " + i);
                    // exact: not one bit of a log-prob moves
                    assertArrayEquals(alone.get(i).logProbs(), got.get(i).logProbs(), 0f, "round " + round + " sample "
                            + i);
                }
            }
        }
    }

    @Test
    void theContinuousAndStaticSchedulersGiveTheSameSeededSamples() throws Exception {
        Path m = TinyWorldModel.write(dir.resolve("m"), 8);
        List<String> prompts = List.of("query : add 1 2", "query : count a b b", "query : copy x y");
        SamplingParams seeded = new SamplingParams(9, 1.0, 0.9, 0, 11);
        try (ModelRegistry registry = new ModelRegistry(Optional.empty());
             BatchedGenerator cont = continuous(registry, 4, 2, (n, size, nanos) -> { });
             BatchedGenerator stat = new BatchedGenerator(registry, new MicroBatcher.Settings(Duration.ofMillis(1), 4, 64),
                     (n, size, nanos) -> { })) {
            registry.load("policy", 0, m);
            BatchedGenerator.Job job = new BatchedGenerator.Job("policy", prompts, 3, seeded, List.of(), true);
            List<GeneratedSample> x = join(cont.submit(job, Long.MAX_VALUE));
            List<GeneratedSample> y = join(stat.submit(job, Long.MAX_VALUE));
            assertEquals(9, x.size());
            for (int i = 0; i < 9; i++) {
                assertArrayEquals(y.get(i).tokenIds(), x.get(i).tokenIds(), "sample " + i + " (chunks of 4)");
            }
        }
    }

    @Test
    void deviceSamplingGivesTheJavaSamplersSeededSamples() throws Exception {
        Path m = TinyWorldModel.write(dir.resolve("m"), 8);
        List<String> prompts = List.of("query : add 1 2", "query : count a b b", "query : copy x y");
        try (ModelRegistry registry = new ModelRegistry(Optional.empty());
             BatchedGenerator device = new BatchedGenerator(registry, new MicroBatcher.Settings(Duration.ZERO, 4, 64),
                     BatchedGenerator.Scheduler.CONTINUOUS, 2, true, (n, size, nanos) -> { });
             BatchedGenerator stat = new BatchedGenerator(registry, new MicroBatcher.Settings(Duration.ofMillis(1), 4, 64),
                     (n, size, nanos) -> { })) {
            registry.load("policy", 0, m);
            for (SamplingParams p : List.of(new SamplingParams(12, 0.7, 0.8, 0, 5), new SamplingParams(12, 1.0, 1, 4, 6),
                    SamplingParams.greedy(12))) {
                BatchedGenerator.Job job = new BatchedGenerator.Job("policy", prompts, 3, p, List.of(), true);
                List<GeneratedSample> x = join(device.submit(job, Long.MAX_VALUE));
                List<GeneratedSample> y = join(stat.submit(job, Long.MAX_VALUE));
                for (int i = 0; i < 9; i++) {
                    assertArrayEquals(y.get(i).tokenIds(), x.get(i).tokenIds(), "sample " + i + " " + p);
                    assertArrayEquals(y.get(i).logProbs(), x.get(i).logProbs(), 1e-4f);
                }
            }
        }
    }

    /**
     * Holds the decode loop at a token boundary while the test submits, so what the test asserts is the scheduler's
     * order and not how fast the loop ran while the test thread was descheduled (a busy CI machine ran 22 steps of
     * the tiny model between two lines once).
     */
    private static final class StepGate implements MicroBatcher.Listener {
        final AtomicInteger steps = new AtomicInteger();
        final AtomicInteger stepsOfTwo = new AtomicInteger();
        private volatile java.util.concurrent.CountDownLatch release;
        private final java.util.concurrent.Semaphore held = new java.util.concurrent.Semaphore(0);

        @Override
        public void batchRan(int requests, int size, long runNanos) {
            steps.incrementAndGet();
            if (requests == 2) {
                stepsOfTwo.incrementAndGet();
            }
            java.util.concurrent.CountDownLatch r = release;
            if (r != null) {
                held.release();
                try {
                    if (!r.await(60, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("the test never released the decode loop");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        /** Returns once the loop is held after a step; the next step runs only after {@link #open}. */
        java.util.concurrent.CountDownLatch hold() throws InterruptedException {
            java.util.concurrent.CountDownLatch r = new java.util.concurrent.CountDownLatch(1);
            release = r;
            assertTrue(held.tryAcquire(60, TimeUnit.SECONDS), "the decode loop ran no step");
            return r;
        }

        void open(java.util.concurrent.CountDownLatch r) {
            release = null;
            r.countDown();
        }
    }

    @Test
    void aShortRequestDoesNotWaitForALongOneAndACancelledSequenceFreesItsSlot() throws Exception {
        Path m = TinyWorldModel.write(dir.resolve("m"), 2);  // greedy runs these prompts 100 tokens without EOS
        StepGate gate = new StepGate();
        try (ModelRegistry registry = new ModelRegistry(Optional.empty());
             BatchedGenerator generator = continuous(registry, 2, 1, gate);
             LanguageModel alone = LanguageModel.load(m)) {
            registry.load("policy", 0, m);
            SamplingParams longRun = SamplingParams.greedy(100);
            assertEquals(100, alone.complete(List.of("query : add 0 1"), longRun, List.of()).get(0).tokenIds().length,
                    "the long request really runs 100 tokens (no EOS on the way)");
            var running = generator.submit(new BatchedGenerator.Job("policy", List.of("query : add 0 1"), 1, longRun,
                    List.of(), false), Long.MAX_VALUE);
            var held = gate.hold();   // the long one is a step or more in
            int stepsBefore = gate.steps.get();
            var shortOne = generator.submit(new BatchedGenerator.Job("policy", List.of("query : add 5 1"), 1,
                    SamplingParams.greedy(3), List.of(), false), Long.MAX_VALUE);
            gate.open(held);
            join(shortOne);
            assertFalse(running.get(0).isDone(), "the short request finished while the long one still ran");
            assertTrue(stepsBefore < 100, "held at step " + stepsBefore);
            // the short one joined at the next token boundary and ran its steps beside the long one
            assertTrue(gate.stepsOfTwo.get() >= 1 && gate.stepsOfTwo.get() <= 3,
                    "steps run with both sequences: " + gate.stepsOfTwo.get());

            // both slots busy: a long one and another; cancel the long one and the third request takes its slot
            held = gate.hold();
            var second = generator.submit(new BatchedGenerator.Job("policy", List.of("query : add 2 1"), 1, longRun,
                    List.of(), false), Long.MAX_VALUE);
            running.get(0).cancel(false);
            var third = generator.submit(new BatchedGenerator.Job("policy", List.of("query : add 7 1"), 1,
                    SamplingParams.greedy(3), List.of(), false), Long.MAX_VALUE);
            gate.open(held);
            join(third);
            assertFalse(second.get(0).isDone(), "the third request ran in the cancelled one's slot, beside the second");
            assertEquals(100, join(second).get(0).tokenIds().length);
        }
    }

    @Test
    void aLongMixedLoadLeavesNoNativeArraysBehind() throws Exception {
        Path m = TinyWorldModel.write(dir.resolve("m"), 3);
        try (ModelRegistry registry = new ModelRegistry(Optional.empty());
             BatchedGenerator generator = new BatchedGenerator(registry, new MicroBatcher.Settings(Duration.ZERO, 6, 400),
                     BatchedGenerator.Scheduler.CONTINUOUS, 2, true, (n, size, nanos) -> { })) {
            registry.load("policy", 0, m);
            ai.djl.ndarray.NDManager weights;
            try (ModelRegistry.Lease lease = registry.acquire("policy")) {
                weights = lease.model().decoder().manager();
            }
            int before = weights.getManagedArrays().size();
            java.util.SplittableRandom r = new java.util.SplittableRandom(4);
            List<CompletableFuture<List<GeneratedSample>>> all = new ArrayList<>();
            for (int i = 0; i < 150; i++) {
                SamplingParams p = i % 3 == 0 ? SamplingParams.greedy(1 + r.nextInt(40))
                        : new SamplingParams(1 + r.nextInt(40), 0.8, i % 2 == 0 ? 0.9 : 1, i % 5, i);
                var parts = generator.submit(new BatchedGenerator.Job("policy", List.of("query : add " + i + " 1",
                        "query : sort " + (i % 7) + " 2"), 1 + r.nextInt(3), p, i % 4 == 0 ? List.of(".") : List.of(),
                        true), Long.MAX_VALUE);
                if (i % 10 == 0) {
                    parts.get(0).cancel(false);   // a caller that leaves: its sequence is dropped or evicted
                }
                all.addAll(parts);
                if (i % 25 == 0) {
                    Thread.sleep(20);
                }
            }
            for (CompletableFuture<List<GeneratedSample>> f : all) {
                try {
                    f.get(120, TimeUnit.SECONDS);
                } catch (java.util.concurrent.CancellationException e) {
                    // cancelled above
                }
            }
            // an empty batch closes after its last step; give the workers a moment to get there
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (weights.getManagedArrays().size() != before && System.nanoTime() < until) {
                Thread.sleep(10);
            }
            assertEquals(before, weights.getManagedArrays().size(), "every cache and step array was freed");
        }
    }
}
