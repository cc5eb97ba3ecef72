package steer.method;

import java.util.List;
import steer.align.RoundExample;

/**
 * The examples a round built.
 *
 * @param examples         the examples to train, in a deterministic order
 * @param dropped          candidates dropped as degenerate (no preference signal)
 * @param fallbacks        SSO's model allocations that fell back to the rule; 0 elsewhere
 * @param samplesDrawn     responses sampled from the policy
 * @param judgeComparisons judge calls made (each covers both orders)
 */
public record RoundExamples(List<RoundExample> examples, int dropped, int fallbacks, long samplesDrawn,
                            long judgeComparisons) {

    /** Copies the examples, unmodifiable. */
    public RoundExamples {
        examples = List.copyOf(examples);
    }
}
