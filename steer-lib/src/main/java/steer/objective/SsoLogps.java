package steer.objective;

import java.util.Objects;

/**
 * The log-probabilities SSO reads for a batch of B examples, as three pair inputs over six (prompt, response)
 * sequences, each with policy and reference log-probs.
 *
 * <p>x is the plain query, x+ / x- the same query under the good / bad principle's system prompt; y+ and y-
 * were generated under x+ and x-, y° is the response the bad principle should be steered away from (SSO,
 * Xiang et al. 2024, arXiv 2410.17131). W reads only the policy's per-token means of {@code plain}.
 *
 * @param plain    (x, y+, y-): the base loss L_base(x, y+, y-) and the weight W
 * @param positive (x+, y+, y-): L+ = L_base(x+, y+, y-) + λ·L_sft(x+, y+); null only when θ = 0 (PBAA)
 * @param negative (x-, y°, y+): L- = L_base(x-, y°, y+) + λ·L_sft(x-, y°); null only when θ = 0
 */
public record SsoLogps(PreferenceLogps plain, PreferenceLogps positive, PreferenceLogps negative) {

    public SsoLogps {
        Objects.requireNonNull(plain, "plain");
        if ((positive == null) != (negative == null)) {
            throw new IllegalArgumentException("give both positive (x+) and negative (x-) pairs, or neither");
        }
        if (positive != null && (positive.batchSize() != plain.batchSize()
                || negative.batchSize() != plain.batchSize())) {
            throw new IllegalArgumentException("plain, positive and negative must hold the same B examples, got "
                    + plain.batchSize() + ", " + positive.batchSize() + ", " + negative.batchSize());
        }
    }

    /** Whether the principle-conditioned pairs (x+, x-) are present, as the self-steering loss G needs. */
    public boolean hasSteeringPairs() {
        return positive != null;
    }
}
