package steer.world;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The fixed, seeded splits of the oracle world: queries for SFT demonstrations, disjoint prompt sets for the
 * alignment iterations, and a held-out evaluation set.
 *
 * <p>Splits are disjoint by query <em>body</em> (the query without its secret clause), which is stricter than
 * disjoint by query text: {@code add 3 4} in the held-out set means neither {@code add 3 4} nor
 * {@code secret k1 . add 3 4} appears anywhere else, so evaluation never scores a body the model trained on.
 * Within a split bodies are distinct too. Tasks are drawn in one stream from {@code new SplittableRandom(seed)}
 * in the order held-out, iteration 1, 2, …, SFT, and a draw whose body was already taken is redrawn; so the
 * held-out and iteration sets do not change when only the SFT size changes.
 *
 * @param sft        queries for SFT demonstrations
 * @param iterations the prompt sets of the alignment iterations, all of the same size
 * @param heldOut    the evaluation queries
 */
public record WorldSplits(List<Task> sft, List<List<Task>> iterations, List<Task> heldOut) {

    /**
     * Copies the lists, unmodifiable.
     */
    public WorldSplits {
        sft = List.copyOf(sft);
        List<List<Task>> copies = new ArrayList<>();
        for (List<Task> it : iterations) {
            copies.add(List.copyOf(it));
        }
        iterations = List.copyOf(copies);
        heldOut = List.copyOf(heldOut);
    }

    /**
     * The default splits for a seed: {@link SplitSizes#defaults()} and {@link TaskGenerator#defaults()}.
     *
     * @param seed the random seed
     * @return the splits; the same seed always gives the same splits
     */
    public static WorldSplits of(long seed) {
        return of(seed, SplitSizes.defaults(), TaskGenerator.defaults());
    }

    /**
     * The splits for a seed, sizes and generator.
     *
     * @param seed      the random seed
     * @param sizes     the split sizes
     * @param generator the task generator
     * @return the splits
     * @throws IllegalArgumentException if the world has too few distinct bodies for the sizes
     */
    public static WorldSplits of(long seed, SplitSizes sizes, TaskGenerator generator) {
        SplittableRandom random = new SplittableRandom(seed);
        Set<String> taken = new HashSet<>();
        List<Task> heldOut = draw(sizes.heldOut(), generator, random, taken);
        List<List<Task>> iterations = new ArrayList<>();
        for (int i = 0; i < sizes.iterations(); i++) {
            iterations.add(draw(sizes.iterationSize(), generator, random, taken));
        }
        List<Task> sft = draw(sizes.sft(), generator, random, taken);
        return new WorldSplits(sft, iterations, heldOut);
    }

    private static List<Task> draw(int n, TaskGenerator generator, SplittableRandom random, Set<String> taken) {
        List<Task> tasks = new ArrayList<>();
        int misses = 0;
        while (tasks.size() < n) {
            Task t = generator.sample(random);
            if (taken.add(t.body())) {
                tasks.add(t);
                misses = 0;
            } else if (++misses > 100_000) {
                throw new IllegalArgumentException("the world has too few distinct queries for these split sizes;"
                        + " found " + taken.size() + " distinct bodies");
            }
        }
        return tasks;
    }

    /**
     * The prompt set of one alignment iteration.
     *
     * @param i the iteration, from 1
     * @return its tasks
     * @throws IndexOutOfBoundsException if there is no such iteration
     */
    public List<Task> iteration(int i) {
        return iterations.get(i - 1);
    }
}
