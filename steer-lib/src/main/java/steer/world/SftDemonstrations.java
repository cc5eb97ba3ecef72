package steer.world;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Generates the imperfect SFT demonstrations of the oracle world from a list of tasks (normally
 * {@link WorldSplits#sft()}), by {@link DemoMixture}:
 *
 * <ul>
 *   <li>{@link DemoKind#PLAIN}: the query, answered by {@link ResponseMix#sample}: right or wrong, padded,
 *       leaking, malformed, independently drawn — room for alignment to improve.</li>
 *   <li>{@link DemoKind#GOOD_PRINCIPLE} / {@link DemoKind#BAD_PRINCIPLE} (equally likely): features drawn by
 *       {@link FeatureAllocation#draw}, prompt = principle + query (SSO's x+ or x-). With probability
 *       {@code principleFollowRate} the response does what the principle says — the best response under a
 *       good principle, {@link Responses#violating} the features under a bad one — else it is a
 *       {@code responses} draw, as noise.</li>
 *   <li>{@link DemoKind#ALLOCATION}: {@link FeatureAllocation#instruction} and its rule answer.</li>
 *   <li>{@link DemoKind#JUDGE_PAIRWISE}: two responses with different oracle scalars in both orders, each
 *       answered {@code A} or {@code B} by the oracle (flipped with probability {@code judgeLabelNoise}).</li>
 *   <li>{@link DemoKind#JUDGE_RUBRIC}: a {@code responses} draw, answered with its oracle rubric score (with
 *       probability {@code judgeLabelNoise} another draw's score).</li>
 * </ul>
 *
 * <p>The demonstrations are oracle-derived in their labels but imperfect on purpose; the models trained on
 * them are what the alignment methods start from.
 */
public final class SftDemonstrations {

    private SftDemonstrations() {
    }

    /**
     * Generates demonstrations with the default mixture.
     *
     * @param tasks the tasks, not empty
     * @param count the number of demonstrations, at least 0
     * @param seed  the random seed
     * @return exactly {@code count} demonstrations; the same arguments always give the same list
     */
    public static List<Demo> generate(List<Task> tasks, int count, long seed) {
        return generate(tasks, count, DemoMixture.defaults(), seed);
    }

    /**
     * Generates demonstrations.
     *
     * @param tasks   the tasks, not empty; each demonstration draws one uniformly
     * @param count   the number of demonstrations, at least 0
     * @param mixture the mixture
     * @param seed    the random seed
     * @return exactly {@code count} demonstrations; the same arguments always give the same list
     * @throws IllegalArgumentException if tasks is empty or count negative
     */
    public static List<Demo> generate(List<Task> tasks, int count, DemoMixture mixture, long seed) {
        if (tasks.isEmpty() || count < 0) {
            throw new IllegalArgumentException("need tasks and a count of at least 0, got " + tasks.size()
                    + " tasks and count " + count);
        }
        SplittableRandom random = new SplittableRandom(seed);
        double[] weights = {mixture.plainWeight(), mixture.principleWeight(), mixture.allocationWeight(),
            mixture.pairwiseWeight(), mixture.rubricWeight()};
        double total = 0;
        for (double w : weights) {
            total += w;
        }
        List<Demo> demos = new ArrayList<>();
        while (demos.size() < count) {
            Task task = tasks.get(random.nextInt(tasks.size()));
            double u = random.nextDouble() * total;
            int kind = 0;
            while (kind < weights.length - 1 && (u >= weights[kind] || weights[kind] == 0)) {
                u -= weights[kind];
                kind++;
            }
            switch (kind) {
                case 0 -> demos.add(new Demo(DemoKind.PLAIN, task, List.of(), task.query(),
                        mixture.responses().sample(task, random)));
                case 1 -> demos.add(principled(task, mixture, random));
                case 2 -> demos.add(new Demo(DemoKind.ALLOCATION, task, List.of(),
                        FeatureAllocation.instruction(task), FeatureAllocation.answer(task)));
                case 3 -> {
                    JudgeSeedExample pair = JudgeSeedSet.example(task, mixture.responses(),
                            random.nextDouble() < mixture.judgeLabelNoise(), random);
                    demos.add(new Demo(DemoKind.JUDGE_PAIRWISE, task, List.of(), pair.pairwisePrompt(),
                            pair.label()));
                    if (demos.size() < count) {
                        demos.add(new Demo(DemoKind.JUDGE_PAIRWISE, task, List.of(), pair.swappedPrompt(),
                                pair.swappedLabel()));
                    }
                }
                default -> demos.add(rubric(task, mixture, random));
            }
        }
        return demos;
    }

    private static Demo principled(Task task, DemoMixture mixture, SplittableRandom random) {
        List<Feature> features = FeatureAllocation.draw(task, random, mixture.concisionProbability());
        boolean good = random.nextBoolean();
        boolean follow = random.nextDouble() < mixture.principleFollowRate();
        String response;
        if (!follow) {
            response = mixture.responses().sample(task, random);
        } else if (good) {
            response = Oracle.best(task);
        } else {
            response = mixture.clearViolations() ? Responses.violatingClearly(task, features, random)
                    : Responses.violating(task, features, random);
        }
        String prompt = good ? Feature.positivePrompt(task, features) : Feature.negativePrompt(task, features);
        return new Demo(good ? DemoKind.GOOD_PRINCIPLE : DemoKind.BAD_PRINCIPLE, task, features, prompt, response);
    }

    private static Demo rubric(Task task, DemoMixture mixture, SplittableRandom random) {
        String response = mixture.responses().sample(task, random);
        String labelled = random.nextDouble() < mixture.judgeLabelNoise()
                ? mixture.responses().sample(task, random) : response;
        return new Demo(DemoKind.JUDGE_RUBRIC, task, List.of(), JudgeInstructions.rubric(task.query(), response),
                JudgeInstructions.rubricAnswer(task, labelled));
    }
}
