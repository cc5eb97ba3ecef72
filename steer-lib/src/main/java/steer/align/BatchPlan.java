package steer.align;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * How one iteration's examples become pair batches: each epoch is a seeded shuffle of all examples cut into
 * batches of {@code batchSize} (the last one of an epoch may be smaller); batches are numbered across epochs,
 * and each has the id {@code <run>-it<i>-b<k>}. The plan depends only on its arguments, so a restarted
 * orchestrator plans the same ids and can tell which batches it already published: the batch id is the
 * trainer's idempotency key.
 *
 * @param batches the batches in publishing order
 */
public record BatchPlan(List<PlannedBatch> batches) {

    /**
     * One planned batch.
     *
     * @param id       {@code <run>-it<iteration>-b<index>}
     * @param index    position within the iteration, from 0, across epochs
     * @param epoch    the pass over the examples, from 0
     * @param examples indices into the iteration's example list
     */
    public record PlannedBatch(String id, int index, int epoch, List<Integer> examples) {

        /** Copies the indices, unmodifiable. */
        public PlannedBatch {
            examples = List.copyOf(examples);
        }
    }

    /** Copies the batches, unmodifiable. */
    public BatchPlan {
        batches = List.copyOf(batches);
    }

    /**
     * Plans an iteration's batches.
     *
     * @param runId     the run id
     * @param iteration the iteration, from 0
     * @param examples  number of examples, at least 0
     * @param batchSize examples per batch, at least 1
     * @param epochs    passes, at least 1
     * @param seed      the run's seed; each epoch shuffles with its own {@link Seeds#derive derived} seed
     * @return the plan; no batches when there are no examples
     */
    public static BatchPlan plan(String runId, int iteration, int examples, int batchSize, int epochs, long seed) {
        if (examples < 0 || batchSize < 1 || epochs < 1) {
            throw new IllegalArgumentException("need examples >= 0, batchSize >= 1, epochs >= 1; got " + examples
                    + ", " + batchSize + ", " + epochs);
        }
        List<PlannedBatch> out = new ArrayList<>();
        for (int epoch = 0; epoch < epochs; epoch++) {
            int[] order = shuffled(examples, new SplittableRandom(Seeds.derive(seed, "batches", iteration, epoch)));
            for (int from = 0; from < examples; from += batchSize) {
                List<Integer> part = new ArrayList<>();
                for (int j = from; j < Math.min(examples, from + batchSize); j++) {
                    part.add(order[j]);
                }
                int index = out.size();
                out.add(new PlannedBatch(batchId(runId, iteration, index), index, epoch, part));
            }
        }
        return new BatchPlan(out);
    }

    /**
     * A batch id.
     *
     * @return {@code <run>-it<iteration>-b<index>}
     */
    public static String batchId(String runId, int iteration, int index) {
        return runId + "-it" + iteration + "-b" + index;
    }

    /**
     * Number of batches {@link #plan} makes.
     *
     * @return epochs × ⌈examples / batchSize⌉
     */
    public static int count(int examples, int batchSize, int epochs) {
        return epochs * ((examples + batchSize - 1) / batchSize);
    }

    /**
     * The planned batches still to publish, in plan order: those neither recorded as published in the run's
     * state nor found already committed on the topic (a crash between the commit and saving the state leaves
     * them only on the topic).
     *
     * @param recorded batch ids the run state lists as published
     * @param onTopic  batch ids of this iteration read back from the topic with read_committed
     * @return the batches to publish
     */
    public List<PlannedBatch> unpublished(Collection<String> recorded, Collection<String> onTopic) {
        Set<String> seen = new HashSet<>(recorded);
        seen.addAll(onTopic);
        List<PlannedBatch> out = new ArrayList<>();
        for (PlannedBatch b : batches) {
            if (!seen.contains(b.id())) {
                out.add(b);
            }
        }
        return out;
    }

    /**
     * The planned ids.
     *
     * @return ids in plan order
     */
    public List<String> ids() {
        List<String> ids = new ArrayList<>(batches.size());
        for (PlannedBatch b : batches) {
            ids.add(b.id());
        }
        return ids;
    }

    /** Fisher–Yates over 0..n-1. */
    private static int[] shuffled(int n, SplittableRandom random) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }
}
