package steer.align;

/**
 * A preference pair in text form: the chosen response is preferred to the rejected one under the prompt, with a
 * judged strength p(chosen better than rejected) for soft-label objectives (OSP's SPCE), or none for hard-label
 * ones (DPO, IPO, Self-Rewarding's DPO).
 *
 * @param prompt   the query
 * @param chosen   the preferred response
 * @param rejected the other response
 * @param strength p(chosen ≻ rejected) in [0, 1], or null for a hard label
 */
public record JudgedPair(String prompt, String chosen, String rejected, Double strength) implements RoundExample {

    /** @throws IllegalArgumentException for a strength outside [0, 1] */
    public JudgedPair {
        if (strength != null && !(strength >= 0 && strength <= 1)) {
            throw new IllegalArgumentException("strength must be in [0, 1], got " + strength);
        }
    }
}
