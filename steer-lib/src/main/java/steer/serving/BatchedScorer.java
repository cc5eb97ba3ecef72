package steer.serving;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import steer.model.LanguageModel;
import steer.model.ResponseLogProbs;
import steer.model.SequenceScorer;

/**
 * Log-probs of (prompt, response) pairs for concurrent callers: jobs for the same model that arrive together
 * are scored in shared forward passes of at most {@code maxBatchSize} pairs. The prompt is encoded with BOS,
 * the response on its own without special tokens (no EOS is appended), and prompt tokens never count.
 */
public final class BatchedScorer implements AutoCloseable {

    /**
     * A scoring job.
     *
     * @param model     the served model's name
     * @param prompts   prompts
     * @param responses one response per prompt
     */
    public record Job(String model, List<String> prompts, List<String> responses) {
    }

    /**
     * A job's scores.
     *
     * @param scores       one per pair, in order
     * @param model        the name of the model that scored them
     * @param modelVersion its checkpoint version
     */
    public record Result(List<ResponseLogProbs> scores, String model, long modelVersion) {
    }

    private final ModelRegistry registry;
    private final MicroBatcher<Job, Result> batcher;
    private final int maxBatchSize;

    /**
     * @param registry the served models
     * @param settings window, batch size (pairs) and queue capacity (jobs)
     * @param listener observes each batch
     */
    public BatchedScorer(ModelRegistry registry, MicroBatcher.Settings settings, MicroBatcher.Listener listener) {
        this.registry = registry;
        this.maxBatchSize = settings.maxBatchSize();
        this.batcher = new MicroBatcher<>("scorer", settings, Job::model, this::run, listener);
    }

    /**
     * Checks that every pair fits the model's context.
     *
     * @throws UnknownModelException if the model is not served
     * @throws InvalidFieldException naming {@code pairs[i]} if a pair is too long
     */
    public void checkLengths(String model, List<String> prompts, List<String> responses) {
        try (ModelRegistry.Lease lease = registry.acquire(model)) {
            int positions = lease.info().maxPositions();
            for (int i = 0; i < prompts.size(); i++) {
                int tokens = lease.model().tokenizer().encode(prompts.get(i)).length
                        + lease.model().tokenizer().encodeWithoutSpecialTokens(responses.get(i)).length;
                if (tokens > positions) {
                    throw new InvalidFieldException(Validation.indexed("pairs", i), "prompt and response are " + tokens
                            + " tokens; the model has " + positions + " positions");
                }
            }
        }
    }

    /**
     * Queues a job.
     *
     * @throws QueueFullException if the queue is full
     */
    public CompletableFuture<Result> submit(Job job, long deadlineNanoTime) {
        return batcher.submit(job, Math.max(1, job.prompts().size()), deadlineNanoTime);
    }

    /** Jobs waiting for a batch. */
    public int queueDepth() {
        return batcher.queueDepth();
    }

    private List<Result> run(List<Job> jobs) {
        try (ModelRegistry.Lease lease = registry.acquire(jobs.get(0).model())) {
            LanguageModel model = lease.model();
            List<int[]> prompts = new ArrayList<>();
            List<int[]> responses = new ArrayList<>();
            for (Job j : jobs) {
                for (int i = 0; i < j.prompts().size(); i++) {
                    prompts.add(model.tokenizer().encode(j.prompts().get(i)));
                    responses.add(model.tokenizer().encodeWithoutSpecialTokens(j.responses().get(i)));
                }
            }
            List<ResponseLogProbs> all = new ArrayList<>(prompts.size());
            for (int from = 0; from < prompts.size(); from += maxBatchSize) {
                int to = Math.min(prompts.size(), from + maxBatchSize);
                all.addAll(SequenceScorer.scoreToJava(model.decoder(), prompts.subList(from, to), responses.subList(from, to)));
            }
            List<Result> results = new ArrayList<>(jobs.size());
            int row = 0;
            for (Job j : jobs) {
                results.add(new Result(List.copyOf(all.subList(row, row + j.prompts().size())), lease.info().name(),
                        lease.info().version()));
                row += j.prompts().size();
            }
            return results;
        }
    }

    @Override
    public void close() {
        batcher.close();
    }
}
