package steer.serving;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import steer.model.LanguageModel;
import steer.model.ResponseLogProbs;
import steer.model.SequenceScorer;

/**
 * Log-probs of (prompt, response) pairs for concurrent callers: jobs for the same model that arrive together
 * are scored in shared forward passes of at most {@code maxBatchSize} pairs. Pairs given as text: the prompt is
 * encoded with BOS, the response on its own without special tokens (no EOS is appended). Pairs given as token ids
 * are scored as given, so a caller scores exactly the ids it sampled. Prompt tokens never count.
 */
public final class BatchedScorer implements AutoCloseable {

    /**
     * A scoring job: texts, or token ids.
     *
     * @param model       the served model's name
     * @param prompts     prompts; empty when the job holds ids
     * @param responses   one response per prompt
     * @param promptIds   prompts as token ids; empty when the job holds texts
     * @param responseIds one response's ids per prompt
     * @param nextTokens  per prompt, candidate next tokens whose log-probs after the prompt are wanted (the
     *                    responses then empty); empty for none
     */
    public record Job(String model, List<String> prompts, List<String> responses, List<int[]> promptIds,
                      List<int[]> responseIds, List<int[]> nextTokens) {

        /** A job of texts. */
        public Job(String model, List<String> prompts, List<String> responses) {
            this(model, prompts, responses, List.of(), List.of(), List.of());
        }

        /** A job of token ids. */
        public static Job ofTokens(String model, List<int[]> promptIds, List<int[]> responseIds) {
            return new Job(model, List.of(), List.of(), promptIds, responseIds, List.of());
        }

        /** The log-probs of candidate next tokens after each prompt, from one forward pass per batch of prompts. */
        public static Job ofNextTokens(String model, List<int[]> promptIds, List<int[]> nextTokens) {
            List<int[]> none = new ArrayList<>(promptIds.size());
            promptIds.forEach(p -> none.add(new int[0]));
            return new Job(model, List.of(), List.of(), promptIds, none, nextTokens);
        }

        /** Pairs in the job. */
        public int size() {
            return prompts.isEmpty() ? promptIds.size() : prompts.size();
        }
    }

    /**
     * A job's scores.
     *
     * @param scores       one per pair, in order
     * @param model        the name of the model that scored them
     * @param modelVersion its checkpoint version
     * @param nextTokens   per pair, the log-probs of its candidate next tokens; empty when none were asked
     */
    public record Result(List<ResponseLogProbs> scores, String model, long modelVersion, List<float[]> nextTokens) {
    }

    private final ModelRegistry registry;
    private final MicroBatcher<Queued, Result> batcher;
    private final int maxBatchSize;

    /**
     * @param registry the served models
     * @param settings window, batch size (pairs) and queue capacity (jobs)
     * @param listener observes each batch
     */
    public BatchedScorer(ModelRegistry registry, MicroBatcher.Settings settings, MicroBatcher.Listener listener) {
        this.registry = registry;
        this.maxBatchSize = settings.maxBatchSize();
        // a reproducible job keys by a token of its own (an Object: equal requests must not merge either)
        this.batcher = new MicroBatcher<>("scorer", settings, q -> q.alone() != null ? q.alone() : q.job().model(),
                queued -> run(queued.stream().map(Queued::job).toList()), listener);
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
     * Checks that every pair of ids is a sequence of the model: ids within its vocabulary, a prompt of at least one
     * token, and the pair within its context.
     *
     * @throws UnknownModelException if the model is not served
     * @throws InvalidFieldException naming {@code pairs[i].prompt_token_ids[j]} (or {@code response_token_ids}) for
     *                               an id outside the vocabulary, or {@code pairs[i]} for a pair too long
     */
    public void checkTokens(String model, List<int[]> promptIds, List<int[]> responseIds) {
        try (ModelRegistry.Lease lease = registry.acquire(model)) {
            int positions = lease.info().maxPositions();
            int vocab = lease.info().vocabSize();
            for (int i = 0; i < promptIds.size(); i++) {
                String pair = Validation.indexed("pairs", i);
                if (promptIds.get(i).length == 0) {
                    throw new InvalidFieldException(pair + ".prompt_token_ids", "is empty; a prompt needs at least one"
                            + " token (BOS)");
                }
                checkIds(pair + ".prompt_token_ids", promptIds.get(i), vocab);
                checkIds(pair + ".response_token_ids", responseIds.get(i), vocab);
                int tokens = promptIds.get(i).length + responseIds.get(i).length;
                if (tokens > positions) {
                    throw new InvalidFieldException(pair, "prompt and response are " + tokens
                            + " tokens; the model has " + positions + " positions");
                }
            }
        }
    }

    /**
     * Checks a job's candidate next tokens: at least one per pair, each within the model's vocabulary.
     *
     * @throws InvalidFieldException naming {@code pairs[i].next_token_ids} (or one of its ids)
     */
    public void checkNextTokens(String model, List<int[]> nextTokens) {
        try (ModelRegistry.Lease lease = registry.acquire(model)) {
            for (int i = 0; i < nextTokens.size(); i++) {
                String field = Validation.indexed("pairs", i) + ".next_token_ids";
                if (nextTokens.get(i).length == 0) {
                    throw new InvalidFieldException(field, "is empty; pairs[0] asks for next-token log-probs, so"
                            + " every pair of the request names its candidates");
                }
                checkIds(field, nextTokens.get(i), lease.info().vocabSize());
            }
        }
    }

    private static void checkIds(String field, int[] ids, int vocab) {
        for (int j = 0; j < ids.length; j++) {
            if (ids[j] < 0 || ids[j] >= vocab) {
                throw new InvalidFieldException(Validation.indexed(field, j), "must be in 0.." + (vocab - 1)
                        + " (the model's vocabulary), got " + ids[j]);
            }
        }
    }

    /**
     * Queues a job that may share forward passes with other jobs of its model.
     *
     * @throws QueueFullException if the queue is full
     */
    public CompletableFuture<Result> submit(Job job, long deadlineNanoTime) {
        return submit(job, false, deadlineNanoTime);
    }

    /**
     * Queues a job.
     *
     * @param reproducible score it in batches of its own, so that its log-probs are the same bits whatever else is
     *                     scored at the time: a row's log-probs move in their last bits with the batch it is padded
     *                     into (the CPU kernels are not batch-invariant), enough to turn a near-tie of two scores
     * @throws QueueFullException if the queue is full
     */
    public CompletableFuture<Result> submit(Job job, boolean reproducible, long deadlineNanoTime) {
        return batcher.submit(new Queued(job, reproducible ? new Object() : null), Math.max(1, job.size()),
                deadlineNanoTime);
    }

    /** A queued job; {@code alone}: a batch key of its own when it is batched only with itself, else null. */
    private record Queued(Job job, Object alone) {
    }

    /** Jobs waiting for a batch. */
    public int queueDepth() {
        return batcher.queueDepth();
    }

    private List<Result> run(List<Job> jobs) {
        List<Job> scored = jobs.stream().filter(j -> j.nextTokens().isEmpty()).toList();
        List<Job> next = jobs.stream().filter(j -> !j.nextTokens().isEmpty()).toList();
        java.util.Map<Job, Result> done = new java.util.IdentityHashMap<>();
        if (!scored.isEmpty()) {
            List<Result> r = score(scored);
            for (int i = 0; i < scored.size(); i++) {
                done.put(scored.get(i), r.get(i));
            }
        }
        if (!next.isEmpty()) {
            List<Result> r = nextTokens(next);
            for (int i = 0; i < next.size(); i++) {
                done.put(next.get(i), r.get(i));
            }
        }
        List<Result> out = new ArrayList<>(jobs.size());
        jobs.forEach(j -> out.add(done.get(j)));
        return out;
    }

    /** Candidate next tokens' log-probs: log-softmax of each prompt's next-token logits, at the candidates. */
    private List<Result> nextTokens(List<Job> jobs) {
        try (ModelRegistry.Lease lease = registry.acquire(jobs.get(0).model())) {
            List<int[]> prompts = new ArrayList<>();
            jobs.forEach(j -> prompts.addAll(j.promptIds()));
            List<float[]> logits = new ArrayList<>(prompts.size());
            for (int from = 0; from < prompts.size(); from += maxBatchSize) {
                int to = Math.min(prompts.size(), from + maxBatchSize);
                logits.addAll(List.of(SequenceScorer.nextTokenLogits(lease.model().decoder(),
                        prompts.subList(from, to))));
            }
            List<Result> results = new ArrayList<>(jobs.size());
            int row = 0;
            for (Job j : jobs) {
                List<ResponseLogProbs> empty = new ArrayList<>(j.size());
                List<float[]> picked = new ArrayList<>(j.size());
                for (int i = 0; i < j.size(); i++, row++) {
                    float[] z = logits.get(row);
                    int[] candidates = j.nextTokens().get(i);
                    float[] lp = new float[candidates.length];
                    for (int c = 0; c < candidates.length; c++) {
                        lp[c] = steer.model.Sampler.logProb(z, 0, z.length, candidates[c]);
                    }
                    picked.add(lp);
                    empty.add(new ResponseLogProbs(0, 0, new float[0]));
                }
                results.add(new Result(List.copyOf(empty), lease.info().name(), lease.info().version(),
                        List.copyOf(picked)));
            }
            return results;
        }
    }

    private List<Result> score(List<Job> jobs) {
        try (ModelRegistry.Lease lease = registry.acquire(jobs.get(0).model())) {
            LanguageModel model = lease.model();
            List<int[]> prompts = new ArrayList<>();
            List<int[]> responses = new ArrayList<>();
            for (Job j : jobs) {
                if (j.prompts().isEmpty()) {
                    prompts.addAll(j.promptIds());
                    responses.addAll(j.responseIds());
                }
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
                results.add(new Result(List.copyOf(all.subList(row, row + j.size())), lease.info().name(),
                        lease.info().version(), List.of()));
                row += j.size();
            }
            return results;
        }
    }

    @Override
    public void close() {
        batcher.close();
    }
}
