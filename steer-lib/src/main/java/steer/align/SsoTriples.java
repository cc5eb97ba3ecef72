package steer.align;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import steer.world.Feature;
import steer.world.FeatureAllocation;
import steer.world.Task;

/**
 * SSO's prompts and triples for one iteration (Xiang et al. 2024, arXiv 2410.17131, §3 and Algorithm 1).
 *
 * <p>Each query gets features allocated, then x = the query, x+ = the query under the features' good principle,
 * x- = under the bad one ({@link Feature#positivePrompt}, {@link Feature#negativePrompt}). Allocation is by the
 * world's rule, or by asking the policy itself ({@link FeatureAllocation#instruction}) and drawing from the
 * features it names. Either way one feature is drawn uniformly and concision added with probability 0.2, as in
 * the authors' code; the paper's single feature per query is the same draw with probability 0.
 *
 * <p>After sampling y° under x, y+ under x+ and y- under x-, a triple is dropped as degenerate when y+ equals y-
 * or either equals y° (white space at the ends ignored), as the authors' code filters: such a triple carries no
 * preference signal (y+ = y-) or makes the self-steering loss compare a response with itself.
 */
public final class SsoTriples {

    private SsoTriples() {
    }

    /**
     * Prompts allocated by a model, with the number of answers that could not be read.
     *
     * @param prompts   one per task, in task order
     * @param fallbacks answers that named no feature, so the task was allocated by rule instead
     */
    public record Allocation(List<SteeredPrompt> prompts, int fallbacks) {

        /** Copies the prompts, unmodifiable. */
        public Allocation {
            prompts = List.copyOf(prompts);
        }
    }

    /**
     * The triples kept after filtering.
     *
     * @param kept    the non-degenerate triples, in prompt order
     * @param dropped how many were degenerate
     */
    public record TripleSet(List<SsoTriple> kept, int dropped) {

        /** Copies the triples, unmodifiable. */
        public TripleSet {
            kept = List.copyOf(kept);
        }
    }

    /**
     * Allocates features by the world's rule ({@link FeatureAllocation#draw(Task, java.util.random.RandomGenerator,
     * double)}, concision added with probability {@link FeatureAllocation#DEFAULT_CONCISION_PROBABILITY}).
     *
     * @param tasks the iteration's queries
     * @param seed  the allocation seed (see {@link Seeds}); the same seed gives the same allocation
     * @return one steered prompt per task, in order
     */
    public static List<SteeredPrompt> allocateByRule(List<Task> tasks, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<SteeredPrompt> out = new ArrayList<>(tasks.size());
        for (Task t : tasks) {
            out.add(steer(t, FeatureAllocation.draw(t, random, FeatureAllocation.DEFAULT_CONCISION_PROBABILITY)));
        }
        return out;
    }

    /**
     * The allocation questions to ask the policy, one per task ({@code allocate query : <query> features :}).
     *
     * @param tasks the iteration's queries
     * @return the prompts, in task order
     */
    public static List<String> allocationQuestions(List<Task> tasks) {
        List<String> out = new ArrayList<>(tasks.size());
        for (Task t : tasks) {
            out.add(FeatureAllocation.instruction(t));
        }
        return out;
    }

    /**
     * Allocates features from the policy's answers to {@link #allocationQuestions}: one feature drawn from those
     * the answer names (plus concision with probability 0.2). An answer naming no feature falls back to the
     * rule for that task and is counted. Both paths take the same draws from the random stream, so one bad
     * answer does not change the other tasks' allocations.
     *
     * @param tasks   the iteration's queries
     * @param answers the generated answers, one per task, in order
     * @param seed    the allocation seed
     * @return the prompts and the number of fallbacks
     * @throws IllegalArgumentException if the lists differ in length
     */
    public static Allocation allocateFromAnswers(List<Task> tasks, List<String> answers, long seed) {
        if (answers.size() != tasks.size()) {
            throw new IllegalArgumentException("need one allocation answer per task: " + tasks.size() + " tasks, "
                    + answers.size() + " answers");
        }
        SplittableRandom random = new SplittableRandom(seed);
        List<SteeredPrompt> out = new ArrayList<>(tasks.size());
        int fallbacks = 0;
        for (int i = 0; i < tasks.size(); i++) {
            Task t = tasks.get(i);
            List<Feature> named = FeatureAllocation.parseAnswer(answers.get(i));
            if (named.isEmpty()) {
                fallbacks++;
                named = FeatureAllocation.relevant(t);
            }
            out.add(steer(t, FeatureAllocation.draw(named, random, FeatureAllocation.DEFAULT_CONCISION_PROBABILITY)));
        }
        return new Allocation(out, fallbacks);
    }

    private static SteeredPrompt steer(Task t, List<Feature> features) {
        return new SteeredPrompt(t.query(), Feature.positivePrompt(t, features), Feature.negativePrompt(t, features),
                features);
    }

    /**
     * Joins the prompts with their sampled responses and drops the degenerate triples.
     *
     * @param prompts the steered prompts
     * @param yOrig   y° per prompt, sampled under x
     * @param yPlus   y+ per prompt, sampled under x+
     * @param yMinus  y- per prompt, sampled under x-
     * @return the kept triples and the number dropped
     * @throws IllegalArgumentException if the lists differ in length
     */
    public static TripleSet build(List<SteeredPrompt> prompts, List<String> yOrig, List<String> yPlus,
                                  List<String> yMinus) {
        int n = prompts.size();
        if (yOrig.size() != n || yPlus.size() != n || yMinus.size() != n) {
            throw new IllegalArgumentException("need one response per prompt and role: " + n + " prompts, y° "
                    + yOrig.size() + ", y+ " + yPlus.size() + ", y- " + yMinus.size());
        }
        List<SsoTriple> kept = new ArrayList<>(n);
        int dropped = 0;
        for (int i = 0; i < n; i++) {
            if (degenerate(yOrig.get(i), yPlus.get(i), yMinus.get(i))) {
                dropped++;
                continue;
            }
            SteeredPrompt p = prompts.get(i);
            kept.add(new SsoTriple(p.prompt(), p.promptPlus(), p.promptMinus(), yPlus.get(i), yMinus.get(i),
                    yOrig.get(i), p.featureLabel()));
        }
        return new TripleSet(kept, dropped);
    }

    /**
     * Whether a triple is degenerate: y+ = y-, y+ = y° or y- = y°, comparing stripped text.
     *
     * @param yOrig  y°
     * @param yPlus  y+
     * @param yMinus y-
     * @return true if the triple should be dropped
     */
    public static boolean degenerate(String yOrig, String yPlus, String yMinus) {
        String o = yOrig.strip();
        String p = yPlus.strip();
        String m = yMinus.strip();
        return p.equals(m) || p.equals(o) || m.equals(o);
    }
}
