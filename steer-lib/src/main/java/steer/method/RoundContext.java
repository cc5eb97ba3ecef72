package steer.method;

import java.util.List;
import steer.align.RunSettings;
import steer.align.SamplingSettings;
import steer.world.Task;

/**
 * What a method's {@link AlignmentMethod#buildRound} gets: the round's prompts and the services to ask.
 *
 * @param settings      the run's settings
 * @param round         the round, from 0
 * @param split         the iteration split its prompts come from, from 0
 * @param tasks         the round's queries, in split order
 * @param policyVersion the policy version that samples the round
 * @param policy        samples from that version
 * @param judge         the run's judge ({@link AlignmentMethod#judge}); null when the method has none
 */
public record RoundContext(RunSettings settings, int round, int split, List<Task> tasks, long policyVersion,
                           PolicySampling policy, Judging judge) {

    /** Copies the tasks, unmodifiable. */
    public RoundContext {
        tasks = List.copyOf(tasks);
    }

    /** Sampling from the round's policy version. */
    public interface PolicySampling {

        /**
         * {@code n} samples per prompt. Chunks of prompts are seeded from the run's seed, {@code role}, the round
         * and the chunk's index, so the texts depend on nothing else (not on which replica sampled a chunk).
         *
         * @param role     what the samples are for ({@code y_orig}, {@code k_samples}, …): part of their seed
         * @param prompts  the prompts
         * @param n        samples per prompt, at least 1
         * @param sampling how to sample
         * @return per prompt, its n texts, in prompt order
         */
        List<List<String>> sample(String role, List<String> prompts, int n, SamplingSettings sampling);
    }

    /** The run's judge: p(A better than B | x) from the A/B token logits, averaged over both orders. */
    public interface Judging {

        /**
         * p(y ≻ empty | x) for each (x, y): OSP's score for ranking a prompt's samples.
         *
         * @param prompts   the prompts
         * @param responses one response per prompt
         * @return the probabilities, in order
         */
        List<Double> againstEmpty(List<String> prompts, List<String> responses);

        /**
         * p(a ≻ b | x) for each triple, the mean of both orders of presentation.
         *
         * @return the probabilities, in order
         */
        List<Double> compare(List<String> prompts, List<String> a, List<String> b);
    }
}
