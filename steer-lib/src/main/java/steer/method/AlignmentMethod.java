package steer.method;

import java.util.Map;
import steer.align.RunSettings;

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
     * @return {@code sso}, {@code osp}, {@code self-rewarding} or {@code tso}
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
     * How many versions a batch's sampling version may lag the trainer's newest checkpoint of the run when it
     * trains: 0 samples round r+1 only once round r is trained and loaded; 1 samples round r+1 from the version
     * before while round r trains; TSO samples a whole iteration from its first version and trains it in T
     * mini-batches, so its last mini-batch lags by T − 1.
     *
     * @return at least 0
     */
    int maxPolicyStaleness();

    /**
     * The policy version that samples a round. Version 0 is the SFT model and round r's checkpoint is version r + 1;
     * the default samples round r from version max(0, r − {@link #maxPolicyStaleness()}), on-policy when the bound is
     * 0. A round is sampled as soon as its version is loaded, so this also says how far sampling runs ahead of
     * training ({@code RunProgress#next}).
     *
     * @param settings the run's settings
     * @param round    from 0
     * @return a version at most {@code round}
     */
    default long samplingVersion(RunSettings settings, int round) {
        return Math.max(0, round - maxPolicyStaleness());
    }

    /**
     * Passes over each round's examples.
     *
     * @param settings the run's settings
     * @return the run's {@code epochs} unless the method has its own (TSO: 2 per mini-batch)
     */
    default int epochsPerRound(RunSettings settings) {
        return settings.epochs();
    }

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
        BASE_MODEL,
        /**
         * The policy the round's training starts from, version r for round r: TSO's mini-batch schedule, where the
         * reference becomes the current policy after each mini-batch.
         */
        TRAINING_START;

        /**
         * The reference version of a round.
         *
         * @param policyVersion the version that sampled it
         * @param round         the round, from 0 (its training starts from version {@code round})
         * @return that version, 0, or the round
         */
        public long versionFor(long policyVersion, int round) {
            return switch (this) {
                case ROUND_START -> policyVersion;
                case BASE_MODEL -> 0;
                case TRAINING_START -> round;
            };
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
