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
 * @param models        samples from the run's other models (TSO's matrix); null when the loop offers none
 */
public record RoundContext(RunSettings settings, int round, int split, List<Task> tasks, long policyVersion,
                           PolicySampling policy, Judging judge, ModelSampling models) {

    /** Copies the tasks, unmodifiable. */
    public RoundContext {
        tasks = List.copyOf(tasks);
    }

    /** A round that samples only from the policy. */
    public RoundContext(RunSettings settings, int round, int split, List<Task> tasks, long policyVersion,
                        PolicySampling policy, Judging judge) {
        this(settings, round, split, tasks, policyVersion, policy, judge, null);
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

    /**
     * Sampling from models other than the policy's sampling version: TSO's model matrix of sizes × versions. Each is
     * served by the generator under its own name beside the policy, loaded when first asked and kept; chunks are
     * seeded as {@link PolicySampling#sample} seeds them, with the model's name in the role.
     */
    public interface ModelSampling {

        /**
         * {@code n} samples per prompt from a named model at version 0 (another size's SFT model).
         *
         * @param name     its name on the generator
         * @param location its checkpoint directory
         * @return per prompt, its n texts, in prompt order
         */
        List<List<String>> sampleModel(String name, String location, String role, List<String> prompts, int n,
                                       SamplingSettings sampling);

        /**
         * {@code n} samples per prompt from an earlier version of the run's policy (version 0 is the SFT model).
         *
         * @param version a version of the run that exists already
         * @return per prompt, its n texts, in prompt order
         */
        List<List<String>> samplePolicyVersion(long version, String role, List<String> prompts, int n,
                                               SamplingSettings sampling);
    }

    /** The run's judge: p(A better than B | x) from the A/B token logits, averaged over both orders. */
    public interface Judging {

        /**
         * The rubric score of each (x, y): the expected score over the rubric's score tokens (TSO's evaluator,
         * 2.0–10.0 in the oracle world), not only the most likely one, so that a mean over samples is meaningful.
         *
         * @param prompts   the prompts
         * @param responses one non-empty response per prompt
         * @return the expected scores, in order
         */
        List<Double> rubric(List<String> prompts, List<String> responses);

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
