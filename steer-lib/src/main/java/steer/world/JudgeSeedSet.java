package steer.world;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The labelled seed set of judge examples (OSP's preference augmentation, TSO's evaluator training data):
 * pairs of responses drawn from a {@link ResponseMix} with oracle labels, of which a fixed share is flipped
 * to stand in for noisy human annotation.
 *
 * <p>Exactly round(flipRate·n) examples are flipped, chosen by a seeded shuffle, so the noise level is the
 * one asked for rather than a random draw around it. The two responses of a pair always have different
 * oracle scalars, so every oracle label is defined.
 */
public final class JudgeSeedSet {

    /** The default share of flipped labels. */
    public static final double DEFAULT_FLIP_RATE = 0.15;

    private JudgeSeedSet() {
    }

    /**
     * Generates a seed set with 15% of labels flipped and the default response mixture.
     *
     * @param tasks the tasks to draw queries from (e.g. the SFT split), not empty
     * @param size  the number of examples, at least 0
     * @param seed  the random seed
     * @return the examples
     */
    public static List<JudgeSeedExample> generate(List<Task> tasks, int size, long seed) {
        return generate(tasks, size, DEFAULT_FLIP_RATE, ResponseMix.defaults(), seed);
    }

    /**
     * Generates a seed set.
     *
     * @param tasks    the tasks to draw queries from, not empty
     * @param size     the number of examples, at least 0
     * @param flipRate the share of flipped labels, in [0, 1]
     * @param mix      the response mixture the pairs are drawn from
     * @param seed     the random seed
     * @return the examples; the same arguments always give the same list
     * @throws IllegalArgumentException if tasks is empty, size is negative or flipRate is outside [0, 1]
     */
    public static List<JudgeSeedExample> generate(List<Task> tasks, int size, double flipRate, ResponseMix mix,
            long seed) {
        if (tasks.isEmpty() || size < 0) {
            throw new IllegalArgumentException("need tasks and a size of at least 0, got " + tasks.size()
                    + " tasks and size " + size);
        }
        ResponseMix.check("flipRate", flipRate);
        SplittableRandom random = new SplittableRandom(seed);
        boolean[] flip = new boolean[size];
        int flips = (int) Math.round(flipRate * size);
        int[] order = shuffled(size, random);
        for (int i = 0; i < flips; i++) {
            flip[order[i]] = true;
        }
        List<JudgeSeedExample> examples = new ArrayList<>();
        for (int i = 0; i < size; i++) {
            examples.add(example(tasks.get(random.nextInt(tasks.size())), mix, flip[i], random));
        }
        return examples;
    }

    /** One labelled pair with distinct oracle scalars; the best or the empty response stands in when the mixture keeps tying. */
    static JudgeSeedExample example(Task task, ResponseMix mix, boolean flipped, SplittableRandom random) {
        String a = mix.sample(task, random);
        String b = mix.sample(task, random);
        for (int tries = 0; tries < 20 && score(task, a) == score(task, b); tries++) {
            b = mix.sample(task, random);
        }
        if (score(task, a) == score(task, b)) {
            // The best response scores 1.0 and the empty one 0.15, so one of them differs from a.
            b = score(task, a) == 1.0 ? "" : Oracle.best(task);
        }
        String oracle = JudgeInstructions.pairwiseAnswer(task, a, b);
        String other = oracle.equals(JudgeInstructions.ANSWER_A) ? JudgeInstructions.ANSWER_B
                : JudgeInstructions.ANSWER_A;
        return new JudgeSeedExample(task, a, b, oracle, flipped ? other : oracle, flipped);
    }

    private static double score(Task task, String response) {
        return Oracle.score(task, response).scalar();
    }

    private static int[] shuffled(int n, SplittableRandom random) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
        }
        return order;
    }
}
