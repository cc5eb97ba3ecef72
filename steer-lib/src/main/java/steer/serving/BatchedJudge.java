package steer.serving;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import steer.judge.AnswerTokens;
import steer.judge.PairwiseJudge;
import steer.judge.PairwiseTemplate;
import steer.judge.RubricJudge;
import steer.judge.RubricTemplate;

/**
 * Judging for concurrent callers: comparisons (or ratings) for the same model and template that arrive
 * together run as one {@link PairwiseJudge#compare} (or {@link RubricJudge#rate}) call of at most
 * {@code maxBatchSize} items; each result names the model version that judged it.
 */
public final class BatchedJudge implements AutoCloseable {

    /** Results carry the model that produced them. */
    public record Judged<T>(List<T> results, String model, long modelVersion) {
    }

    /** {@code alone}: a token of its own when the job is batched only with itself, else null. */
    private record PairwiseJob(String model, PairwiseTemplate template, List<PairwiseJudge.Item> items, Object alone) {
        Object key() {
            return alone != null ? alone : List.of(model, template.id());
        }
    }

    private record RubricJob(String model, RubricTemplate template, List<RubricJudge.Item> items, Object alone) {
        Object key() {
            return alone != null ? alone : List.of(model, template.id());
        }
    }

    private final ModelRegistry registry;
    private final int maxBatchSize;
    private final MicroBatcher<PairwiseJob, Judged<PairwiseJudge.Verdict>> pairwise;
    private final MicroBatcher<RubricJob, Judged<RubricJudge.Rating>> rubric;

    /**
     * @param registry the served models
     * @param settings window, batch size (items) and queue capacity (jobs, per kind)
     * @param listener observes each batch
     */
    public BatchedJudge(ModelRegistry registry, MicroBatcher.Settings settings, MicroBatcher.Listener listener) {
        this.registry = registry;
        this.maxBatchSize = settings.maxBatchSize();
        this.pairwise = new MicroBatcher<>("judge-pairwise", settings, PairwiseJob::key, this::runPairwise, listener);
        this.rubric = new MicroBatcher<>("judge-rubric", settings, RubricJob::key, this::runRubric, listener);
    }

    /**
     * Checks that both orders of every comparison fit the model's context.
     *
     * @param field the request field of the items, e.g. {@code items}; a single item is checked as {@code field}
     * @throws UnknownModelException if the model is not served
     * @throws InvalidFieldException naming the item if a prompt is too long
     * @throws steer.judge.JudgeTemplateException if the template's answers are not single tokens of the model,
     *                                            before any work is queued
     */
    public void checkPairwiseLengths(String field, String model, PairwiseTemplate template, List<PairwiseJudge.Item> items) {
        try (ModelRegistry.Lease lease = registry.acquire(model)) {
            AnswerTokens.pairwise(lease.model().tokenizer(), template);
            PairwiseJudge judge = new PairwiseJudge(template);
            for (int i = 0; i < items.size(); i++) {
                requireFits(items.size() == 1 ? field : Validation.indexed(field, i),
                        judge.promptTokens(lease.model(), items.get(i)), lease.info().maxPositions());
            }
        }
    }

    /**
     * Checks that every rubric prompt fits the model's context.
     *
     * @throws UnknownModelException if the model is not served
     * @throws InvalidFieldException if a prompt is too long
     */
    public void checkRubricLengths(String field, String model, RubricTemplate template, List<RubricJudge.Item> items) {
        try (ModelRegistry.Lease lease = registry.acquire(model)) {
            RubricJudge judge = new RubricJudge(template);
            for (int i = 0; i < items.size(); i++) {
                requireFits(items.size() == 1 ? field : Validation.indexed(field, i),
                        judge.promptTokens(lease.model(), items.get(i)), lease.info().maxPositions());
            }
        }
    }

    private static void requireFits(String field, int tokens, int positions) {
        if (tokens > positions) {
            throw new InvalidFieldException(field, "the judge prompt is " + tokens + " tokens; the model has " + positions
                    + " positions");
        }
    }

    /**
     * Queues comparisons.
     *
     * @param reproducible judge them in batches of their own, so that the verdicts are the same bits whatever else is
     *                     judged at the time (a row's logits move in their last bits with the batch it is padded into);
     *                     false lets jobs of the same model and template share forward passes
     * @throws QueueFullException if the queue is full
     */
    public CompletableFuture<Judged<PairwiseJudge.Verdict>> compare(String model, PairwiseTemplate template,
                                                                     List<PairwiseJudge.Item> items, boolean reproducible,
                                                                     long deadlineNanoTime) {
        return pairwise.submit(new PairwiseJob(model, template, items, reproducible ? new Object() : null),
                Math.max(1, items.size()), deadlineNanoTime);
    }

    /**
     * Queues ratings.
     *
     * @param reproducible rate them in batches of their own, as {@link #compare(String, PairwiseTemplate, List,
     *                     boolean, long)} does
     * @throws QueueFullException if the queue is full
     */
    public CompletableFuture<Judged<RubricJudge.Rating>> rate(String model, RubricTemplate template,
                                                              List<RubricJudge.Item> items, boolean reproducible,
                                                              long deadlineNanoTime) {
        return rubric.submit(new RubricJob(model, template, items, reproducible ? new Object() : null),
                Math.max(1, items.size()), deadlineNanoTime);
    }

    /** Jobs waiting for a batch, both kinds. */
    public int queueDepth() {
        return pairwise.queueDepth() + rubric.queueDepth();
    }

    private List<Judged<PairwiseJudge.Verdict>> runPairwise(List<PairwiseJob> jobs) {
        try (ModelRegistry.Lease lease = registry.acquire(jobs.get(0).model)) {
            PairwiseJudge judge = new PairwiseJudge(jobs.get(0).template);
            List<PairwiseJudge.Item> items = new ArrayList<>();
            jobs.forEach(j -> items.addAll(j.items));
            List<PairwiseJudge.Verdict> all = new ArrayList<>(items.size());
            for (int from = 0; from < items.size(); from += maxBatchSize) {
                all.addAll(judge.compare(lease.model(), items.subList(from, Math.min(items.size(), from + maxBatchSize))));
            }
            List<Judged<PairwiseJudge.Verdict>> out = new ArrayList<>(jobs.size());
            int row = 0;
            for (PairwiseJob j : jobs) {
                out.add(new Judged<>(List.copyOf(all.subList(row, row + j.items.size())), lease.info().name(),
                        lease.info().version()));
                row += j.items.size();
            }
            return out;
        }
    }

    private List<Judged<RubricJudge.Rating>> runRubric(List<RubricJob> jobs) {
        try (ModelRegistry.Lease lease = registry.acquire(jobs.get(0).model)) {
            RubricJudge judge = new RubricJudge(jobs.get(0).template);
            List<RubricJudge.Item> items = new ArrayList<>();
            jobs.forEach(j -> items.addAll(j.items));
            List<RubricJudge.Rating> all = new ArrayList<>(items.size());
            for (int from = 0; from < items.size(); from += maxBatchSize) {
                all.addAll(judge.rate(lease.model(), items.subList(from, Math.min(items.size(), from + maxBatchSize))));
            }
            List<Judged<RubricJudge.Rating>> out = new ArrayList<>(jobs.size());
            int row = 0;
            for (RubricJob j : jobs) {
                out.add(new Judged<>(List.copyOf(all.subList(row, row + j.items.size())), lease.info().name(),
                        lease.info().version()));
                row += j.items.size();
            }
            return out;
        }
    }

    @Override
    public void close() {
        pairwise.close();
        rubric.close();
    }
}
