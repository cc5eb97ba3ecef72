package steer.train;

import java.util.Set;

/**
 * AdamW's saved state as {@link AdamW#importState} reads it: the step count, then one parameter's moments at a
 * time, so a checkpoint's moments (twice the weights: 4 GB at 0.5B parameters) never sit in the Java heap at once.
 * {@link AdamWState} is the in-memory one; {@link TrainerCheckpoint#openOptimizer} reads from the file per call.
 */
public interface MomentSource {

    /** The number of updates applied so far. */
    long step();

    /** The parameters that have moments (those updated at least once). */
    Set<String> parameters();

    /** m of {@code parameter}, row-major float32. */
    float[] first(String parameter);

    /** v of {@code parameter}, row-major float32. */
    float[] second(String parameter);
}
