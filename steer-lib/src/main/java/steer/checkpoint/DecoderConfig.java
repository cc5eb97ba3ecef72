package steer.checkpoint;

/**
 * The hyperparameters of a Llama/Qwen2-family decoder, as read from a Hugging Face {@code config.json}.
 *
 * <p>Llama and Qwen2 differ only through these fields (Qwen2 sets {@code attentionBias}), never through
 * subclasses.
 *
 * @param modelType             {@code llama} or {@code qwen2}
 * @param vocabSize             tokens in the vocabulary (V)
 * @param hiddenSize            model width (C)
 * @param intermediateSize      SwiGLU hidden width
 * @param numLayers             decoder layers
 * @param numHeads              query heads (H)
 * @param numKvHeads            key/value heads; {@code numHeads} must be a multiple (grouped-query attention)
 * @param rmsNormEps            epsilon inside RMSNorm's square root
 * @param ropeTheta             rotary embedding base
 * @param maxPositionEmbeddings longest sequence the model accepts
 * @param tieWordEmbeddings     output head shares the token embedding matrix
 * @param attentionBias         q/k/v projections carry biases (Qwen2)
 * @param bosTokenId            beginning-of-sequence token id
 * @param eosTokenId            end-of-sequence token id
 */
public record DecoderConfig(
        String modelType,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        double rmsNormEps,
        double ropeTheta,
        int maxPositionEmbeddings,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        int bosTokenId,
        int eosTokenId) {

    public DecoderConfig {
        if (!modelType.equals("llama") && !modelType.equals("qwen2")) {
            throw new IllegalArgumentException("model_type '" + modelType + "' is not supported; expected llama or qwen2");
        }
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", numLayers);
        positive("num_attention_heads", numHeads);
        positive("num_key_value_heads", numKvHeads);
        positive("max_position_embeddings", maxPositionEmbeddings);
        if (hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException("hidden_size " + hiddenSize + " is not divisible by num_attention_heads " + numHeads);
        }
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads " + numHeads
                    + " is not a multiple of num_key_value_heads " + numKvHeads);
        }
        if ((hiddenSize / numHeads) % 2 != 0) {
            throw new IllegalArgumentException("head dimension " + hiddenSize / numHeads + " must be even for rotary embedding");
        }
        if (!(rmsNormEps > 0) || !(ropeTheta > 0)) {
            throw new IllegalArgumentException("rms_norm_eps and rope_theta must be positive, got " + rmsNormEps + " and " + ropeTheta);
        }
        if (bosTokenId < 0 || bosTokenId >= vocabSize || eosTokenId < 0 || eosTokenId >= vocabSize) {
            throw new IllegalArgumentException("bos_token_id " + bosTokenId + " / eos_token_id " + eosTokenId
                    + " outside the vocabulary of " + vocabSize);
        }
    }

    private static void positive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(field + " must be positive, got " + value);
        }
    }

    /** Width of one attention head (Dh). */
    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** Width of the key/value projections: {@code numKvHeads * headDim}. */
    public int kvDim() {
        return numKvHeads * headDim();
    }
}
