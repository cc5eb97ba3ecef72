package steer.align;

import java.util.Optional;
import steer.method.AlignmentMethod;

/**
 * Where a run continues: the one place that reads a persisted {@link RunRecord} and decides the next action, so
 * that a fresh start and a restart after a crash take the same path. Each action, once done, is saved before the
 * next is decided; an action interrupted half-way is simply done again, which every action allows:
 *
 * <ul>
 *   <li>sampling again draws the same seeded samples, and nothing was published yet;</li>
 *   <li>publishing skips batches recorded or already committed on the topic ({@link BatchPlan#unpublished});</li>
 *   <li>waiting reads the checkpoint topic from its beginning, so an event published while the orchestrator
 *       was down is still found;</li>
 *   <li>loading a checkpoint version twice is harmless, and evaluation is seeded.</li>
 * </ul>
 */
public final class RunProgress {

    private RunProgress() {
    }

    /** What to do next. */
    public enum Action {
        /** Evaluate the SFT model once, as the baseline. */
        EVALUATE_BASELINE,
        /** Allocate, sample and filter the iteration's triples. */
        SAMPLE,
        /** Publish the iteration's pair batches. */
        PUBLISH,
        /** Wait for the trainer's checkpoint of the iteration. */
        AWAIT_CHECKPOINT,
        /** Load the checkpoint into the generator (and judge). */
        LOAD,
        /** Evaluate the checkpoint. */
        EVALUATE,
        /** Every iteration is finished. */
        FINISH
    }

    /**
     * The next action and the iteration it is for.
     *
     * @param action    what to do
     * @param iteration the iteration, from 0 (the number of iterations for {@link Action#FINISH}, -1 for the
     *                  baseline)
     */
    public record Step(Action action, int iteration) {
    }

    /**
     * Decides the next action of a run. Rounds go in order; once round i is published, the following rounds whose
     * sampling version ({@link AlignmentMethod#samplingVersion}) is at most i are sampled and published before
     * waiting for round i's checkpoint, so their sampling overlaps round i's training: with a staleness bound s the
     * rounds up to i + s (round j samples from version max(0, j − s)); for TSO the rest of the iteration, which all
     * samples from the version the iteration started from.
     *
     * @param run the persisted state
     * @return the next step
     */
    public static Step next(RunRecord run) {
        RunSettings s = run.settings();
        if (!s.skipEvaluation() && run.baselineMetrics().isEmpty()) {
            return new Step(Action.EVALUATE_BASELINE, -1);
        }
        int i = run.completedIterations();
        int total = s.totalRounds();
        if (i >= total) {
            return new Step(Action.FINISH, total);
        }
        Optional<IterationRecord> current = run.iteration(i);
        if (current.isEmpty()) {
            return new Step(Action.SAMPLE, i);
        }
        return switch (current.get().phase()) {
            case SAMPLED -> new Step(Action.PUBLISH, i);
            case PUBLISHED -> aheadOrAwait(run, i);
            case TRAINED -> new Step(Action.LOAD, i);
            case LOADED -> new Step(Action.EVALUATE, i);
            case EVALUATED -> throw new IllegalStateException("an evaluated round counts as completed");
        };
    }

    /**
     * The next round after i still to sample or publish whose sampling version is loaded already (version i is,
     * once round i − 1 is finished), else waiting for round i's checkpoint.
     */
    private static Step aheadOrAwait(RunRecord run, int i) {
        RunSettings s = run.settings();
        AlignmentMethod method = s.alignmentMethod();
        for (int j = i + 1; j < s.totalRounds() && method.samplingVersion(s, j) <= i; j++) {
            Optional<IterationRecord> ahead = run.iteration(j);
            if (ahead.isEmpty()) {
                return new Step(Action.SAMPLE, j);
            }
            if (ahead.get().phase() == IterationPhase.SAMPLED) {
                return new Step(Action.PUBLISH, j);
            }
        }
        return new Step(Action.AWAIT_CHECKPOINT, i);
    }

    /** The run's staleness bound: its method's. */
    public static int staleness(RunSettings s) {
        return s.alignmentMethod().maxPolicyStaleness();
    }

    /**
     * Whether a round is finished.
     *
     * @param it       its record
     * @param settings the run's settings
     * @return true when evaluated, or loaded and the round is not evaluated
     */
    public static boolean finished(IterationRecord it, RunSettings settings) {
        return it.phase() == IterationPhase.EVALUATED
                || (!settings.evaluates(it.iteration()) && it.phase() == IterationPhase.LOADED);
    }

    /**
     * The policy version that samples a round of a run: its method's {@link AlignmentMethod#samplingVersion}.
     *
     * @param s     the run's settings
     * @param round from 0
     * @return the version
     */
    public static long samplingVersion(RunSettings s, int round) {
        return s.alignmentMethod().samplingVersion(s, round);
    }

    /**
     * The policy version that samples a round: version 0 is the SFT model and round r's checkpoint is version
     * r + 1, so with staleness 0 round r is sampled by version r (on-policy), and with staleness s by version
     * max(0, r − s).
     *
     * @param round     from 0
     * @param staleness the run's bound
     * @return the version
     */
    public static long policyVersion(int round, int staleness) {
        return Math.max(0, round - staleness);
    }

    /**
     * The policy version that samples a round of a synchronous run.
     *
     * @param iteration from 0
     * @return the version
     */
    public static long policyVersion(int iteration) {
        return policyVersion(iteration, 0);
    }

    /**
     * The checkpoint version the trainer writes after an iteration.
     *
     * @param iteration from 0
     * @return iteration + 1
     */
    public static long checkpointVersion(int iteration) {
        return iteration + 1L;
    }

    /**
     * Where a policy version of the run is stored: the SFT model for version 0, else the checkpoint of the round
     * that wrote it (round v − 1).
     *
     * @param run          the run
     * @param version      the version
     * @param baseModelDir the SFT model's directory
     * @return the directory
     * @throws IllegalStateException if that round has no checkpoint yet
     */
    public static String versionLocation(RunRecord run, long version, String baseModelDir) {
        if (version == 0) {
            return baseModelDir;
        }
        int round = (int) (version - 1);
        IterationRecord writer = run.iteration(round).orElseThrow(
                () -> new IllegalStateException("round " + round + " was never begun"));
        if (writer.checkpointLocation().isEmpty()) {
            throw new IllegalStateException("round " + round + " has no checkpoint yet");
        }
        return writer.checkpointLocation();
    }

    /**
     * Where the policy that samples a synchronous run's iteration is stored: the previous iteration's checkpoint, or
     * the SFT model for the first.
     *
     * @param run          the run
     * @param iteration    from 0
     * @param baseModelDir the SFT model's directory
     * @return the directory
     * @throws IllegalStateException if the previous iteration has no checkpoint yet
     */
    public static String policyLocation(RunRecord run, int iteration, String baseModelDir) {
        return versionLocation(run, policyVersion(iteration), baseModelDir);
    }
}
