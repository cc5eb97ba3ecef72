package steer.align;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One SSO training example as published to the trainer: the three prompts and the three responses sampled under
 * them, each response with its sampled token ids when they are known. (The trainer tokenizes the prompts, and the
 * responses that have no ids; {@link steer.data.SsoExample} is the token form.)
 *
 * @param prompt      x
 * @param promptPlus  x+
 * @param promptMinus x-
 * @param yPlus       y+, sampled under x+
 * @param yMinus      y-, sampled under x-
 * @param yOrig       y°, sampled under x
 * @param feature     the allocated features' label, for diagnostics only
 * @param yPlusTokens  y+ as sampled, or null (a state file written before ids travelled)
 * @param yMinusTokens y- as sampled, or null
 * @param yOrigTokens  y° as sampled, or null
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SsoTriple(String prompt, String promptPlus, String promptMinus, String yPlus, String yMinus,
                        String yOrig, String feature, ResponseTokens yPlusTokens, ResponseTokens yMinusTokens,
                        ResponseTokens yOrigTokens) implements RoundExample {

    @JsonCreator
    public SsoTriple {
    }

    /** A triple known only as text. */
    public SsoTriple(String prompt, String promptPlus, String promptMinus, String yPlus, String yMinus, String yOrig,
                     String feature) {
        this(prompt, promptPlus, promptMinus, yPlus, yMinus, yOrig, feature, null, null, null);
    }

    /** The same triple with these sampled ids (null where unknown). */
    public SsoTriple withTokens(ResponseTokens plus, ResponseTokens minus, ResponseTokens orig) {
        return new SsoTriple(prompt, promptPlus, promptMinus, yPlus, yMinus, yOrig, feature, plus, minus, orig);
    }
}
