package steer.align;

import java.util.Arrays;
import java.util.List;

/**
 * A response's token ids as the policy sampled them, without the prompt, and why sampling stopped, so the trainer
 * trains on exactly what was generated rather than on a re-tokenisation of the text.
 *
 * @param ids          the sampled ids; with {@code eos} the last is the EOS id the policy sampled
 * @param finishReason {@code eos}, {@code stop} (a stop string cut the text; the ids run to the token that completed
 *                     it) or {@code length} (max_new_tokens)
 */
public record ResponseTokens(int[] ids, String finishReason) {

    /** The finish reasons a generator reports. */
    public static final List<String> FINISH_REASONS = List.of("eos", "stop", "length");

    /** @throws IllegalArgumentException for no ids or an unknown finish reason */
    public ResponseTokens {
        if (ids == null || ids.length == 0) {
            throw new IllegalArgumentException("a sampled response has at least one token id");
        }
        if (!FINISH_REASONS.contains(finishReason)) {
            throw new IllegalArgumentException("finish reason must be one of " + FINISH_REASONS + ", got '"
                    + finishReason + "'");
        }
        ids = ids.clone();
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }

    // by value, so examples compare (and round-trip through the run state) by their content
    @Override
    public boolean equals(Object o) {
        return o instanceof ResponseTokens t && Arrays.equals(ids, t.ids) && finishReason.equals(t.finishReason);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ids) + finishReason.hashCode();
    }

    @Override
    public String toString() {
        return "ResponseTokens[" + ids.length + " ids, " + finishReason + "]";
    }
}
