package steer.checkpoint;

import java.util.List;

/**
 * The hyperparameters of a Llama/Qwen2/Qwen3-family decoder, as read from a Hugging Face {@code config.json}.
 *
 * <p>The three model types differ only through these fields, never through subclasses: Qwen2 sets
 * {@code attentionBias} (q/k/v biases), Qwen3 normalises each head's q and k ({@link #qkNorm()}) and usually
 * has a head width other than C / H, Llama 3.1/3.2 rescale the rotary frequencies ({@code ropeScaling}).
 *
 * @param modelType             {@code llama}, {@code qwen2} or {@code qwen3}
 * @param vocabSize             rows of the embedding (V); may exceed the tokenizer's size (Qwen pads to 151,936)
 * @param hiddenSize            model width (C)
 * @param intermediateSize      SwiGLU hidden width
 * @param numLayers             decoder layers
 * @param numHeads              query heads (H)
 * @param numKvHeads            key/value heads; {@code numHeads} must be a multiple (grouped-query attention)
 * @param headDim               width of one attention head (Dh), even; {@code hiddenSize / numHeads} unless
 *                              {@code config.json} says otherwise (Qwen3: 128 whatever the width)
 * @param rmsNormEps            epsilon inside RMSNorm's square root (also of Qwen3's q/k norms)
 * @param ropeTheta             rotary embedding base
 * @param ropeScaling           Llama 3's rotary frequency scaling, or null for none
 * @param maxPositionEmbeddings longest sequence the model accepts
 * @param tieWordEmbeddings     output head shares the token embedding matrix
 * @param attentionBias         q/k/v projections carry biases; Qwen2 only (Llama's and Qwen3's
 *                              {@code attention_bias} would add an o_proj bias too, which is not supported)
 * @param bosTokenId            beginning-of-sequence token id
 * @param eosTokenIds           end-of-sequence token ids, at least one; generation stops at any of them, and
 *                              the first is the one appended to training responses
 */
public record DecoderConfig(
        String modelType,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        double rmsNormEps,
        double ropeTheta,
        RopeScaling ropeScaling,
        int maxPositionEmbeddings,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        int bosTokenId,
        List<Integer> eosTokenIds) {

    /** The model types this decoder implements. */
    public static final List<String> MODEL_TYPES = List.of("llama", "qwen2", "qwen3");

    public DecoderConfig {
        if (!MODEL_TYPES.contains(modelType)) {
            throw new IllegalArgumentException("model_type '" + modelType + "' is not supported; expected one of "
                    + String.join(", ", MODEL_TYPES));
        }
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", numLayers);
        positive("num_attention_heads", numHeads);
        positive("num_key_value_heads", numKvHeads);
        positive("head_dim", headDim);
        positive("max_position_embeddings", maxPositionEmbeddings);
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads " + numHeads
                    + " is not a multiple of num_key_value_heads " + numKvHeads);
        }
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("head dimension " + headDim + " must be even for rotary embedding");
        }
        if (!(rmsNormEps > 0) || !(ropeTheta > 0)) {
            throw new IllegalArgumentException("rms_norm_eps and rope_theta must be positive, got " + rmsNormEps + " and " + ropeTheta);
        }
        if (attentionBias && !modelType.equals("qwen2")) {
            throw new IllegalArgumentException("attention_bias true is supported for qwen2 only (q/k/v biases); "
                    + modelType + " would also add an o_proj bias, which this decoder does not have");
        }
        eosTokenIds = List.copyOf(eosTokenIds);
        if (eosTokenIds.isEmpty()) {
            throw new IllegalArgumentException("eos_token_id needs at least one id");
        }
        if (bosTokenId < 0 || bosTokenId >= vocabSize) {
            throw new IllegalArgumentException("bos_token_id " + bosTokenId + " outside the vocabulary of " + vocabSize);
        }
        for (int eos : eosTokenIds) {
            if (eos < 0 || eos >= vocabSize) {
                throw new IllegalArgumentException("eos_token_id " + eos + " outside the vocabulary of " + vocabSize);
            }
        }
    }

    /**
     * The common form: head width {@code hiddenSize / numHeads}, no RoPE scaling, one EOS id.
     *
     * @throws IllegalArgumentException if {@code hiddenSize} is not divisible by {@code numHeads}, or as the
     *                                  canonical constructor
     */
    public DecoderConfig(String modelType, int vocabSize, int hiddenSize, int intermediateSize, int numLayers,
                         int numHeads, int numKvHeads, double rmsNormEps, double ropeTheta, int maxPositionEmbeddings,
                         boolean tieWordEmbeddings, boolean attentionBias, int bosTokenId, int eosTokenId) {
        this(modelType, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads,
                derivedHeadDim(hiddenSize, numHeads), rmsNormEps, ropeTheta, null, maxPositionEmbeddings,
                tieWordEmbeddings, attentionBias, bosTokenId, List.of(eosTokenId));
    }

    /**
     * {@code hiddenSize / numHeads}, the head width when {@code config.json} names none.
     *
     * @throws IllegalArgumentException if the division leaves a remainder or a count is not positive
     */
    public static int derivedHeadDim(int hiddenSize, int numHeads) {
        positive("num_attention_heads", numHeads);
        if (hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException("hidden_size " + hiddenSize + " is not divisible by num_attention_heads " + numHeads);
        }
        return hiddenSize / numHeads;
    }

    private static void positive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(field + " must be positive, got " + value);
        }
    }

    /** The first end-of-sequence id: the one appended to training responses. */
    public int eosTokenId() {
        return eosTokenIds.get(0);
    }

    /** Width of the key/value projections: {@code numKvHeads * headDim}. */
    public int kvDim() {
        return numKvHeads * headDim;
    }

    /** Width of the query projection and of o_proj's input: {@code numHeads * headDim}. */
    public int qDim() {
        return numHeads * headDim;
    }

    /** Whether each head's q and k pass through an RMSNorm before RoPE (Qwen3's {@code q_norm}, {@code k_norm}). */
    public boolean qkNorm() {
        return modelType.equals("qwen3");
    }

    /**
     * Llama 3's rotary scaling ({@code rope_scaling.rope_type = "llama3"}, Llama 3.1 and 3.2): low frequencies
     * are divided by {@code factor}, high ones kept, the band between interpolated. See
     * {@code steer.model.Decoder#inverseFrequencies} for the formula.
     *
     * @param factor                        divisor of the low frequencies, &ge; 1 (Llama 3.1: 8, 3.2: 32)
     * @param lowFreqFactor                 wavelengths above original / this are scaled (Llama 3.1: 1)
     * @param highFreqFactor                wavelengths below original / this are kept (Llama 3.1: 4), &gt; low
     * @param originalMaxPositionEmbeddings the context length the model was pre-trained at (Llama 3: 8192)
     */
    public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor,
                              int originalMaxPositionEmbeddings) {

        public RopeScaling {
            if (!(factor >= 1) || !Double.isFinite(factor)) {
                throw new IllegalArgumentException("rope_scaling.factor must be finite and >= 1, got " + factor);
            }
            if (!(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor) || !Double.isFinite(highFreqFactor)) {
                throw new IllegalArgumentException("rope_scaling needs 0 < low_freq_factor < high_freq_factor, got "
                        + lowFreqFactor + " and " + highFreqFactor + " (Llama 3.1: 1 and 4)");
            }
            positive("rope_scaling.original_max_position_embeddings", originalMaxPositionEmbeddings);
        }
    }
}
