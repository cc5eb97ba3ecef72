package steer.align;

import java.util.List;
import steer.world.SplitSizes;
import steer.world.Task;
import steer.world.TaskGenerator;
import steer.world.WorldSplits;

/**
 * The oracle world's prompts for a run: one disjoint prompt set per iteration and the held-out evaluation set.
 *
 * <p>The world's default splits have three iteration sets (SSO's 1:1:1 split). A longer run needs more, so the
 * splits are drawn with as many iteration sets as the run has iterations (at least three) and no SFT set.
 * {@link WorldSplits} draws held-out first, then iteration 1, 2, …, then SFT from one seeded stream, so the
 * held-out set and the first three iteration sets are exactly those of {@code WorldSplits.of(worldSeed)}, and
 * later sets are fresh bodies disjoint from held-out and from every other iteration. (They may repeat bodies of
 * the default SFT split; the SFT model saw those queries, never the held-out ones.)
 */
public final class RunWorld {

    /** Prompts in each iteration's split (the world's default). */
    public static final int ITERATION_SIZE = SplitSizes.defaults().iterationSize();
    /** Held-out evaluation queries (the world's default). */
    public static final int HELD_OUT_SIZE = SplitSizes.defaults().heldOut();
    /**
     * Queries at the end of each iteration split that a run evaluating on the validation split holds back from
     * training: where a method's settings are tuned, so that the held-out set never chooses them.
     */
    public static final int VALIDATION_PER_SPLIT = 100;

    private final WorldSplits splits;

    private RunWorld(WorldSplits splits) {
        this.splits = splits;
    }

    /**
     * The world of a run.
     *
     * @param worldSeed  the world's seed
     * @param iterations the run's iterations, at least 1
     * @return its prompt sets
     */
    public static RunWorld of(long worldSeed, int iterations) {
        SplitSizes d = SplitSizes.defaults();
        int sets = Math.max(d.iterations(), iterations);
        return new RunWorld(WorldSplits.of(worldSeed, new SplitSizes(0, sets, d.iterationSize(), d.heldOut()),
                TaskGenerator.defaults()));
    }

    /**
     * The prompts of one iteration.
     *
     * @param iteration the iteration, from 0
     * @param limit     at most this many, the first ones of the split
     * @return the tasks, in split order
     */
    public List<Task> iterationTasks(int iteration, int limit) {
        List<Task> all = splits.iterations().get(iteration);
        return all.subList(0, Math.min(limit, all.size()));
    }

    /**
     * A slice of one iteration's prompts: a round's.
     *
     * @param iteration the iteration split, from 0
     * @param from      the first prompt's index in the split
     * @param count     how many
     * @return the tasks, in split order
     */
    public List<Task> iterationTasks(int iteration, int from, int count) {
        return splits.iterations().get(iteration).subList(from, from + count);
    }

    /**
     * The validation queries of a run: the last {@link #VALIDATION_PER_SPLIT} of each of its iteration splits, split
     * by split. A run that evaluates on them trains on at most the first {@code ITERATION_SIZE -
     * VALIDATION_PER_SPLIT} prompts of each split, so it never trains on them.
     *
     * @param iterations the run's iteration splits
     * @param limit      at most this many
     * @return the tasks
     */
    public List<Task> validation(int iterations, int limit) {
        List<Task> out = new java.util.ArrayList<>();
        for (int i = 0; i < iterations; i++) {
            List<Task> all = splits.iterations().get(i);
            out.addAll(all.subList(all.size() - VALIDATION_PER_SPLIT, all.size()));
        }
        return out.subList(0, Math.min(limit, out.size()));
    }

    /**
     * The queries a run is evaluated on.
     *
     * @param settings the run's settings
     * @return the validation or held-out queries, limited to {@code settings.evalQueries()}
     */
    public List<Task> evaluationTasks(RunSettings settings) {
        return settings.evaluatesOnValidation() ? validation(settings.iterations(), settings.evalQueries())
                : heldOut(settings.evalQueries());
    }

    /**
     * The held-out evaluation queries.
     *
     * @param limit at most this many, the first ones of the set
     * @return the tasks
     */
    public List<Task> heldOut(int limit) {
        List<Task> all = splits.heldOut();
        return all.subList(0, Math.min(limit, all.size()));
    }
}
