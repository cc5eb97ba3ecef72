package steer.model;

/**
 * Log-probability of a response given its prompt, read back to Java.
 *
 * @param sum      log π(y|x) = Σ over response tokens of log π(y_t | x, y_&lt;t); prompt tokens never count
 * @param mean     sum / |y|, the per-token mean (SSO's π̃); 0 for an empty response
 * @param perToken log π(y_t | x, y_&lt;t) for each response token
 */
public record ResponseLogProbs(double sum, double mean, float[] perToken) {
}
