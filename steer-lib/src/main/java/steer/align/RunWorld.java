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
