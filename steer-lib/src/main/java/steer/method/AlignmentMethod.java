package steer.method;

import java.util.Map;

/**
 * An alignment method: what one round of a run does between "the policy serves version v" and "these examples
 * train with this objective". The run's loop ({@code steer.orchestrator.RunLoop}), the records and the trainer know
 * only this contract, so a new method is a new class here, not edits to the loop.
 *
 * <p>A method decides, per round: how many prompts a round takes ({@link #promptsPerRound}), what to sample and
 * ask the judge and how examples are paired and filtered ({@link #buildRound}), the objective ({@link #objective}),
 * the reference model ({@link #reference}), the judge model ({@link #judge}) and how far sampling may run ahead of
 * training ({@link #maxPolicyStaleness}).
 */
public interface AlignmentMethod {

    /**
     * The method family's name.
     *
     * @return {@code sso}, {@code osp} or {@code self-rewarding}
     */
    String family();

    /**
     * Prompts per round, given the prompts of an iteration split the run trains on.
     *
     * @param promptsPerSplit the split's training prompts, at least 1
     * @return 1..promptsPerSplit (SSO: all of them, one round per iteration)
     */
    int promptsPerRound(int promptsPerSplit);

    /**
     * Examples a round of {@code prompts} prompts yields when nothing is filtered, for the learning-rate schedule.
     *
     * @param prompts the round's prompts
     * @return the planned examples
     */
    int plannedExamples(int prompts);

    /**
     * How many versions a round's sampling may lag the newest checkpoint: 0 samples round r+1 only once round r is
     * trained and loaded; 1 samples round r+1 from the version before while round r trains.
     *
     * @return 0 or 1
     */
    int maxPolicyStaleness();

    /**
     * The objective pair batches name.
     *
     * @param objectiveParams the run's overrides of the objective's defaults ({@code RunConfig.objective_params})
     * @return its name and parameters, as the trainer's {@code ObjectiveFactory} reads them
     */
    ObjectiveChoice objective(Map<String, Double> objectiveParams);

    /**
     * What the losses' log-ratios are measured against.
     *
     * @return the reference rule
     */
    Reference reference();

    /**
     * Which judge the rounds ask, if any.
     *
     * @return the judge rule
     */
    JudgeChoice judge();

    /**
     * Samples, judges, pairs and filters one round's examples.
     *
     * @param round the round's prompts and the services to ask
     * @return the examples to train, with what was dropped and spent
     */
    RoundExamples buildRound(RoundContext round);

    /**
     * An objective on the wire.
     *
     * @param name   an {@code ObjectiveFactory} name
     * @param params its parameters that differ from the defaults
     */
    record ObjectiveChoice(String name, Map<String, Double> params) {

        /** Copies the parameters, sorted, unmodifiable. */
        public ObjectiveChoice {
            params = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(params));
        }
    }

    /** What the trainer measures a round's losses against. */
    enum Reference {
        /** A frozen copy of the version that sampled the round (SSO, PBAA, Self-Rewarding). */
        ROUND_START,
        /** The run's base (SFT) model, version 0, for the whole run (OSP). */
        BASE_MODEL;

        /**
         * The reference version of a round.
         *
         * @param policyVersion the version that sampled it
         * @return that version, or 0
         */
        public long versionFor(long policyVersion) {
            return this == ROUND_START ? policyVersion : 0;
        }
    }

    /**
     * The judge of a run.
     *
     * @param kind     none, pinned or following the policy
     * @param model    for a pinned judge, its model name on the judge service
     * @param location for a pinned judge, the checkpoint to serve under that name; empty = the run's SFT model
     */
    record JudgeChoice(Kind kind, String model, String location) {

        /** How a run's judge relates to its policy. */
        public enum Kind {
            /** The method never asks a judge (SSO, PBAA). */
            NONE,
            /** One named model, loaded once and never reloaded during the run (OSP). */
            PINNED,
            /** The policy itself at the version that sampled the round (Self-Rewarding). */
            FOLLOWS_POLICY
        }

        /** No judge. */
        public static JudgeChoice none() {
            return new JudgeChoice(Kind.NONE, "", "");
        }

        /** The policy judges itself. */
        public static JudgeChoice followsPolicy() {
            return new JudgeChoice(Kind.FOLLOWS_POLICY, "", "");
        }

        /** A pinned judge. */
        public static JudgeChoice pinned(String model, String location) {
            return new JudgeChoice(Kind.PINNED, model, location == null ? "" : location);
        }
    }
}
