package steer.serving;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import steer.model.LanguageModel;
import steer.model.SamplingParams;
import steer.model.TextCompletion;

/**
 * Generation for concurrent callers: each job (prompts × n samples) is cut into chunks of at most
 * {@code maxBatchSize} sequences, and chunks of compatible jobs that arrive together run as one
 * {@link LanguageModel#complete} call.
 *
 * <p>Which jobs share a call, since one call samples with one {@link SamplingParams}:
 * <ul>
 *   <li>a reproducible job never shares a call, so it gives the same samples, bit for bit, whatever else is running;
 *   <li>greedy jobs with the same max_new_tokens and stop strings (argmax ignores seed, top-p and top-k; a row's
 *       logits move only in their last bits with its batch, which changes a token only at a near-tie);
 *   <li>sampled jobs without a seed and with equal parameters: the call draws a fresh seed, reported on each
 *       sample;
 *   <li>a sampled job with a seed never shares a call (stream i of each chunk draws from (seed, i), as
 *       {@link LanguageModel#complete} does).
 * </ul>
 *
 * <p>Every chunk leases the model when its batch starts, so after a hot load the remaining chunks of a running
 * job use the new version; each sample names the version that produced it.
 *
 * <p>That is the {@link Scheduler#STATIC} scheduler, where a batch runs until its longest sequence ends. With
 * {@link Scheduler#CONTINUOUS} every sequence is queued on its own and joins a running batch at a token boundary
 * ({@link ContinuousBatcher}); since each sequence keeps its own sampler, sampling parameters and stop strings,
 * any jobs share a batch, and a seeded sequence draws from the stream its static chunk would give it, so both
 * schedulers give the same seeded samples up to the last bits of the logits: the CPU kernels are not
 * batch-invariant, and a row's logits move in their last bits with its batch's shape, which now and then turns a
 * sampled token. A reproducible job's chunks are decoded in batches of their own under either scheduler, and its
 * samples depend on the request alone, bit for bit.
 */
public final class BatchedGenerator implements AutoCloseable {

    /**
     * A generation job.
     *
     * @param model   the served model's name
     * @param prompts the prompts, none empty
     * @param n       samples per prompt
     * @param params  sampling parameters (the seed is used only when {@code seeded})
     * @param stops   stop strings
     * @param seeded  whether the caller chose the seed
     * @param reproducible decode it in batches of its own, so that its samples are the same bits whatever else is
     *                generated at the time (a row's logits move in their last bits with its batch's shape, which now
     *                and then turns a sampled token); unseeded jobs cannot be reproducible
     */
    public record Job(String model, List<String> prompts, int n, SamplingParams params, List<String> stops,
                      boolean seeded, boolean reproducible) {

        public Job {
            if (reproducible && !seeded && params.temperature() != 0) {
                throw new IllegalArgumentException("a reproducible sampled job needs a seed");
            }
        }

        /** A job that may share batches with others. */
        public Job(String model, List<String> prompts, int n, SamplingParams params, List<String> stops,
                   boolean seeded) {
            this(model, prompts, n, params, stops, seeded, false);
        }

        /** Sequences in the job. */
        public int streams() {
            return prompts.size() * n;
        }
    }

    /** Part of a job: sequences {@code [from, to)} in prompt-major order. */
    private record Chunk(Job job, int from, int to) {
    }

    /** How sequences are batched. */
    public enum Scheduler {
        /** Requests gathered within a window run as one batch to its end (the {@link MicroBatcher}). */
        STATIC,
        /** Sequences join and leave a running batch at token boundaries ({@link ContinuousBatcher}). */
        CONTINUOUS
    }

    private final ModelRegistry registry;
    private final MicroBatcher<Chunk, List<GeneratedSample>> batcher;   // null when continuous
    private final ContinuousBatcher continuous;                         // null when static
    private final int maxBatchSize;
    private final SplittableRandom seeds = new SplittableRandom();

    /**
     * @param registry the served models
     * @param settings batch window, size (in sequences) and queue capacity (in chunks)
     * @param listener observes each batch
     */
    public BatchedGenerator(ModelRegistry registry, MicroBatcher.Settings settings, MicroBatcher.Listener listener) {
        this(registry, settings, Scheduler.STATIC, 1, false, listener);
    }

    /**
     * @param registry      the served models
     * @param settings      batch window (static only), size (in sequences; per decoding thread when continuous)
     *                      and queue capacity (in chunks of up to that many sequences)
     * @param scheduler     static or continuous batching
     * @param decodeThreads decoding threads of the continuous scheduler, at least 1
     * @param deviceSampling the continuous scheduler picks tokens in native ops, copying only the chosen ids and
     *                      log-probs to Java (the same draws as the Java sampler up to float32 rounding); the static
     *                      scheduler always samples in Java
     * @param listener      observes each batch (each decoding step, when continuous)
     */
    public BatchedGenerator(ModelRegistry registry, MicroBatcher.Settings settings, Scheduler scheduler,
                            int decodeThreads, boolean deviceSampling, MicroBatcher.Listener listener) {
        this.registry = registry;
        this.maxBatchSize = settings.maxBatchSize();
        if (scheduler == Scheduler.CONTINUOUS) {
            this.batcher = null;
            this.continuous = new ContinuousBatcher(registry, settings.maxBatchSize(), settings.queueCapacity(),
                    decodeThreads, deviceSampling, listener);
        } else {
            this.batcher = new MicroBatcher<>("generator", settings, BatchedGenerator::key, this::run, listener);
            this.continuous = null;
        }
    }

    private static Object key(Chunk c) {
        Job j = c.job;
        SamplingParams p = j.params;
        if (j.reproducible) {
            return new SameJob(j); // batched only with its own chunks, greedy or sampled
        }
        if (p.temperature() == 0) {
            return List.of("greedy", j.model, p.maxNewTokens(), j.stops);
        }
        if (j.seeded) {
            return new SameJob(j); // one seed per call: a seeded job batches only with its own chunks
        }
        return List.of("sampled", j.model, p.maxNewTokens(), p.temperature(), p.topP(), p.topK(), j.stops);
    }

    /**
     * Picks a seed for a caller that sent none.
     *
     * @return a random seed
     */
    public synchronized long pickSeed() {
        return seeds.nextLong();
    }

    /**
     * Checks that each prompt leaves room for max_new_tokens in the model's context.
     *
     * @throws UnknownModelException  if the model is not served
     * @throws InvalidFieldException  naming {@code prompts[i]} if a prompt is too long
     */
    public void checkPromptLengths(String model, List<String> prompts, int maxNewTokens) {
        try (ModelRegistry.Lease lease = registry.acquire(model)) {
            int positions = lease.info().maxPositions();
            for (int i = 0; i < prompts.size(); i++) {
                int tokens = lease.model().tokenizer().encode(prompts.get(i)).length;
                if (tokens + maxNewTokens > positions) {
                    throw new InvalidFieldException(Validation.indexed("prompts", i), tokens + " tokens; with max_new_tokens "
                            + maxNewTokens + " at most " + (positions - maxNewTokens) + " fit the model's " + positions
                            + " positions");
                }
            }
        }
    }

    /**
     * Queues a job.
     *
     * @param deadlineNanoTime {@link System#nanoTime()} after which chunks not yet started are dropped
     * @return one future per chunk (per sequence, when continuous), in order; together they hold the job's
     *     samples in prompt-major order
     * @throws QueueFullException if the queue cannot take every chunk (none of the job's chunks then runs)
     */
    public List<CompletableFuture<List<GeneratedSample>>> submit(Job job, long deadlineNanoTime) {
        if (continuous != null) {
            return continuous.submit(job, deadlineNanoTime);
        }
        List<CompletableFuture<List<GeneratedSample>>> parts = new ArrayList<>();
        try {
            for (int from = 0; from < job.streams(); from += maxBatchSize) {
                int to = Math.min(job.streams(), from + maxBatchSize);
                parts.add(batcher.submit(new Chunk(job, from, to), to - from, deadlineNanoTime));
            }
        } catch (QueueFullException e) {
            parts.forEach(f -> f.cancel(false));
            throw e;
        }
        return parts;
    }

    /** Requests (chunks) waiting for a batch. */
    public int queueDepth() {
        return continuous != null ? continuous.queueDepth() : batcher.queueDepth();
    }

    private List<List<GeneratedSample>> run(List<Chunk> chunks) {
        Job first = chunks.get(0).job;
        SamplingParams p = first.params;
        long seed = first.seeded || p.temperature() == 0 ? p.seed() : pickSeed();
        SamplingParams params = new SamplingParams(p.maxNewTokens(), p.temperature(), p.topP(), p.topK(), seed);
        List<String> prompts = new ArrayList<>();
        for (Chunk c : chunks) {
            for (int s = c.from; s < c.to; s++) {
                prompts.add(c.job.prompts.get(s / c.job.n));
            }
        }
        try (ModelRegistry.Lease lease = registry.acquire(first.model)) {
            List<TextCompletion> out = lease.model().complete(prompts, params, first.stops);
            List<List<GeneratedSample>> results = new ArrayList<>(chunks.size());
            int row = 0;
            for (Chunk c : chunks) {
                List<GeneratedSample> samples = new ArrayList<>(c.to - c.from);
                for (int s = c.from; s < c.to; s++, row++) {
                    TextCompletion t = out.get(row);
                    // a greedy sample reports its own request's seed: the batch's does not matter to argmax
                    long reported = p.temperature() == 0 ? c.job.params.seed() : seed;
                    samples.add(new GeneratedSample(s / c.job.n, s % c.job.n, t.text(), t.tokenIds(), t.logProbs(),
                            t.finishReason(), lease.info().name(), lease.info().version(), reported));
                }
                results.add(samples);
            }
            return results;
        }
    }

    @Override
    public void close() {
        if (continuous != null) {
            continuous.close();
        } else {
            batcher.close();
        }
    }

    /** Equal only for the same job instance: records compare by value, and two equal requests must not merge. */
    private static final class SameJob {
        private final Job job;

        SameJob(Job job) {
            this.job = job;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof SameJob other && other.job == job;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(job);
        }
    }
}
