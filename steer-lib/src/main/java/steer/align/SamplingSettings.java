package steer.align;

import java.util.List;

/**
 * How an iteration samples y°, y+ and y- from the policy. Zero or absent values take the SSO paper's
 * sampling: temperature 0.7, top-p 0.8 (SSO §4.1), at most 32 new tokens (enough for any answer of the oracle
 * world, whose best response has at most 10 words).
 *
 * @param maxNewTokens 1..1024; 0 = 32
 * @param temperature  [0, 5], 0 = greedy; null = 0.7
 * @param topP         (0, 1]; null = 0.8
 * @param topK         0 (off) or 1..100000
 * @param stop         stop strings passed to the generator; none empty
 */
public record SamplingSettings(int maxNewTokens, Double temperature, Double topP, int topK, List<String> stop) {

    /** Default new tokens per response. */
    public static final int DEFAULT_MAX_NEW_TOKENS = 32;
    /** SSO's sampling temperature. */
    public static final double DEFAULT_TEMPERATURE = 0.7;
    /** SSO's nucleus. */
    public static final double DEFAULT_TOP_P = 0.8;

    /**
     * Fills in the defaults and checks the ranges.
     *
     * @throws InvalidSettingException naming the field ({@code config.sampling.*}) out of range
     */
    public SamplingSettings {
        if (maxNewTokens == 0) {
            maxNewTokens = DEFAULT_MAX_NEW_TOKENS;
        }
        if (temperature == null) {
            temperature = DEFAULT_TEMPERATURE;
        }
        if (topP == null) {
            topP = DEFAULT_TOP_P;
        }
        stop = stop == null ? List.of() : List.copyOf(stop);
        if (maxNewTokens < 1 || maxNewTokens > 1024) {
            throw new InvalidSettingException("config.sampling.max_new_tokens",
                    "must be in 1..1024 (0 = " + DEFAULT_MAX_NEW_TOKENS + "), got " + maxNewTokens);
        }
        if (!(temperature >= 0 && temperature <= 5)) {
            throw new InvalidSettingException("config.sampling.temperature",
                    "must be in [0, 5] (0 = greedy; SSO uses " + DEFAULT_TEMPERATURE + "), got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new InvalidSettingException("config.sampling.top_p",
                    "must be in (0, 1] (SSO uses " + DEFAULT_TOP_P + "), got " + topP);
        }
        if (topK < 0 || topK > 100_000) {
            throw new InvalidSettingException("config.sampling.top_k", "must be 0 (off) or 1..100000, got " + topK);
        }
        for (String s : stop) {
            if (s.isEmpty()) {
                throw new InvalidSettingException("config.sampling.stop", "must not hold an empty string");
            }
        }
    }

    /**
     * SSO's sampling.
     *
     * @return temperature 0.7, top-p 0.8, 32 new tokens, no top-k, no stop strings
     */
    public static SamplingSettings defaults() {
        return new SamplingSettings(0, null, null, 0, List.of());
    }
}
