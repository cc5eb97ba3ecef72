package steer.model;

/**
 * One generated continuation.
 *
 * @param tokenIds     the new tokens, without the prompt; includes the EOS token when generation ended on it
 * @param logProbs     log π(token | prefix) of each new token under the model at temperature 1, unfiltered
 * @param finishReason why generation stopped
 */
public record GeneratedSequence(int[] tokenIds, float[] logProbs, FinishReason finishReason) {

    /** Why a sequence stopped growing. */
    public enum FinishReason {
        /** The model produced a stop token (EOS). */
        STOP_TOKEN("eos"),
        /** The caller's stop check fired (a stop string, for instance). */
        STOP_CHECK("stop"),
        /** max_new_tokens was reached. */
        LENGTH("length");

        private final String wireName;

        FinishReason(String wireName) {
            this.wireName = wireName;
        }

        /** The name on the wire ({@code Sample.finish_reason}, Kafka records): {@code eos}, {@code stop}, {@code length}. */
        public String wireName() {
            return wireName;
        }

        /** @throws IllegalArgumentException for a name that is none of {@link #wireName()}'s */
        public static FinishReason fromWireName(String name) {
            for (FinishReason r : values()) {
                if (r.wireName.equals(name)) {
                    return r;
                }
            }
            throw new IllegalArgumentException("finish reason must be eos, stop or length, got '" + name + "'");
        }
    }
}
