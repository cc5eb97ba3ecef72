package steer.model;

/**
 * How to pick each next token.
 *
 * @param maxNewTokens tokens to generate at most, at least 1
 * @param temperature  0 for greedy (argmax); otherwise logits are divided by it before sampling; range [0, 100]
 * @param topP         nucleus sampling: keep the smallest set of most likely tokens whose probability reaches
 *                     topP; 1 keeps all; range (0, 1]
 * @param topK         keep only the topK most likely tokens; 0 keeps all
 * @param seed         seed of the sampler; stream i of a batch draws from a generator seeded by (seed, i), so a
 *                     run is reproducible for the same prompts in the same order
 */
public record SamplingParams(int maxNewTokens, double temperature, double topP, int topK, long seed) {

    public SamplingParams {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max_new_tokens must be at least 1, got " + maxNewTokens);
        }
        if (!(temperature >= 0 && temperature <= 100)) {
            throw new IllegalArgumentException("temperature must be in [0, 100], got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be 0 (off) or positive, got " + topK);
        }
    }

    /** Greedy decoding of at most {@code maxNewTokens} tokens. */
    public static SamplingParams greedy(int maxNewTokens) {
        return new SamplingParams(maxNewTokens, 0, 1, 0, 0);
    }
}
