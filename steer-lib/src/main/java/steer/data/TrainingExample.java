package steer.data;

/**
 * One training example in token ids, ready for a trainer: a demonstration, a preference pair, or an SSO
 * example. Plain data, no NDArrays, so services and the command line share it.
 */
public sealed interface TrainingExample permits Demonstration, PreferencePair, SsoExample {

    /** Every sequence this example asks the model to score, as (prompt, response) pairs, for length checks. */
    java.util.List<int[][]> sequences();
}
