package steer.trainer;

/**
 * The trainer's crash windows, for deterministic fault-injection tests ({@code steer.trainer.fault-point}, with
 * {@code fault-at-step}): at each the process halts as a kill would. Each is a place where a crash must still end
 * with every batch trained once and the same weights as a run that never stopped.
 */
enum FaultPoint {
    /** A step is trained in memory (and, at an iteration's end, its version written), its state not saved. */
    AFTER_STEP_BEFORE_SAVE,
    /** The state and offsets are saved; the group commit (only a hint) is not made. */
    AFTER_SAVE_BEFORE_COMMIT,
    /** An iteration's version is written and recorded by a save; its checkpoint event is not published. */
    AFTER_VERSION_BEFORE_EVENT,
    /** The checkpoint event is on the broker; the commit is not made. */
    AFTER_EVENT_BEFORE_COMMIT,
    /** Every file of a version is on disk under its temporary name; it is not renamed. */
    DURING_VERSION_WRITE,
    /** Not a crash: training the batch {@code fault-batch-id} throws, each time it is tried (a poison batch). */
    TRAIN_FAILS
}
