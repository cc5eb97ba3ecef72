package steer.align;

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
     * Decides the next action of a run.
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
        if (i >= s.iterations()) {
            return new Step(Action.FINISH, s.iterations());
        }
        return run.iteration(i).map(it -> new Step(switch (it.phase()) {
            case SAMPLED -> Action.PUBLISH;
            case PUBLISHED -> Action.AWAIT_CHECKPOINT;
            case TRAINED -> Action.LOAD;
            case LOADED -> Action.EVALUATE;
            case EVALUATED -> throw new IllegalStateException("an evaluated iteration counts as completed");
        }, i)).orElse(new Step(Action.SAMPLE, i));
    }

    /**
     * Whether an iteration is finished.
     *
     * @param it             its record
     * @param skipEvaluation whether the run skips evaluation
     * @return true when evaluated, or loaded and evaluation is skipped
     */
    public static boolean finished(IterationRecord it, boolean skipEvaluation) {
        return it.phase() == IterationPhase.EVALUATED || (skipEvaluation && it.phase() == IterationPhase.LOADED);
    }

    /**
     * The policy version that must sample an iteration: version 0 is the SFT model, and iteration i's checkpoint
     * is version i + 1, so iteration i is sampled by version i (on-policy).
     *
     * @param iteration from 0
     * @return the version
     */
    public static long policyVersion(int iteration) {
        return iteration;
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
     * Where the policy that samples an iteration is stored: the previous iteration's checkpoint, or the SFT
     * model for the first.
     *
     * @param run           the run
     * @param iteration     from 0
     * @param baseModelDir  the SFT model's directory
     * @return the directory
     * @throws IllegalStateException if the previous iteration has no checkpoint yet
     */
    public static String policyLocation(RunRecord run, int iteration, String baseModelDir) {
        if (iteration == 0) {
            return baseModelDir;
        }
        IterationRecord previous = run.iteration(iteration - 1).orElseThrow(
                () -> new IllegalStateException("iteration " + (iteration - 1) + " was never begun"));
        if (previous.checkpointLocation().isEmpty()) {
            throw new IllegalStateException("iteration " + (iteration - 1) + " has no checkpoint yet");
        }
        return previous.checkpointLocation();
    }
}
