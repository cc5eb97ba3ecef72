package steer.align;

/**
 * The last phase an iteration finished, in order. The state is saved after each one, so a restart continues with
 * the phase after it ({@link RunProgress#next}).
 */
public enum IterationPhase {
    /** y°, y+, y- sampled from the policy and the degenerate triples dropped; the examples are in the state. */
    SAMPLED,
    /** Every planned pair batch committed to the topic. */
    PUBLISHED,
    /** The trainer's checkpoint for the iteration seen; its version, location and train metrics recorded. */
    TRAINED,
    /** The generator (and the judge, if any) serve the new checkpoint as the policy. */
    LOADED,
    /** The checkpoint evaluated in the oracle world. */
    EVALUATED
}
