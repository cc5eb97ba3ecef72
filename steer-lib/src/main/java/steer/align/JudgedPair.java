package steer.align;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * A preference pair in text form: the chosen response is preferred to the rejected one under the prompt, with a
 * judged strength p(chosen better than rejected) for soft-label objectives (OSP's SPCE), or none for hard-label
 * ones (DPO, IPO, Self-Rewarding's DPO, TSO's dual-clip).
 *
 * @param prompt         the query
 * @param chosen         the preferred response
 * @param rejected       the other response
 * @param strength       p(chosen ≻ rejected) in [0, 1], or null for a hard label
 * @param chosenSource   where the chosen response came from, for diagnostics (TSO: {@code reference}, a model
 *                       name, {@code policy@v2}, {@code self}); empty when the pair's responses are the policy's
 *                       own samples of the round
 * @param rejectedSource where the rejected response came from, likewise
 * @param chosenTokens   the chosen response as the run's policy sampled it, or null: a response the policy did not
 *                       sample (TSO's reference answers, another model's samples) or a state file from before ids
 *                       travelled
 * @param rejectedTokens the rejected response as sampled, likewise
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JudgedPair(String prompt, String chosen, String rejected, Double strength, String chosenSource,
                         String rejectedSource, ResponseTokens chosenTokens, ResponseTokens rejectedTokens)
        implements RoundExample {

    /** @throws IllegalArgumentException for a strength outside [0, 1] */
    @JsonCreator
    public JudgedPair {
        if (strength != null && !(strength >= 0 && strength <= 1)) {
            throw new IllegalArgumentException("strength must be in [0, 1], got " + strength);
        }
        chosenSource = chosenSource == null ? "" : chosenSource;
        rejectedSource = rejectedSource == null ? "" : rejectedSource;
    }

    /** A pair known only as text. */
    public JudgedPair(String prompt, String chosen, String rejected, Double strength, String chosenSource,
                      String rejectedSource) {
        this(prompt, chosen, rejected, strength, chosenSource, rejectedSource, null, null);
    }

    /** A pair of the round's own samples. */
    public JudgedPair(String prompt, String chosen, String rejected, Double strength) {
        this(prompt, chosen, rejected, strength, "", "");
    }

    /** The same pair with these sampled ids (null where unknown). */
    public JudgedPair withTokens(ResponseTokens chosen, ResponseTokens rejected) {
        return new JudgedPair(prompt, this.chosen, this.rejected, strength, chosenSource, rejectedSource, chosen,
                rejected);
    }
}
