package steer.train;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import steer.checkpoint.DecoderConfig;
import steer.data.PreferencePair;
import steer.data.SsoExample;
import steer.tokenizer.Tokenizer;

/**
 * Turns training examples as pair batches carry them into token ids: prompts are text, encoded with BOS as the
 * generator encodes them; a response is either the ids the policy sampled ({@link Response#sampled}), used exactly
 * as sampled, or text ({@link Response#text}), encoded the way {@link steer.data.TrainingDataReader} reads files:
 * without special tokens and ending in EOS. Every prompt + response must fit the model's context.
 *
 * <p>Why sampled ids win over the text: re-encoding a sampled text need not give the ids that were sampled (BPE has
 * many segmentations of one string, and the policy samples whichever it likes), and appending EOS to a response the
 * length limit cut would teach the policy to stop where it never chose to.
 *
 * <p>Errors name the field at fault, so a service can pass them on to whoever sent the example.
 */
public final class ExampleEncoder {

    /** Why sampling stopped, as {@code Sample.finish_reason} names it. */
    public static final List<String> FINISH_REASONS = List.of("eos", "stop", "length");

    /**
     * A response: its text, and the ids the policy sampled with the finish reason when they travelled with it.
     *
     * @param text         the response's text (cut before a stop string when one ended it)
     * @param sampledIds   the sampled ids without the prompt, or null to encode the text
     * @param finishReason {@code eos}, {@code stop} or {@code length} with ids; ignored without
     */
    public record Response(String text, int[] sampledIds, String finishReason) {

        /** A response known only as text (an older producer's, or one the policy did not sample). */
        public static Response text(String text) {
            return new Response(text, null, "");
        }

        /** A response as the policy sampled it. */
        public static Response sampled(String text, int[] ids, String finishReason) {
            return new Response(text, ids, finishReason);
        }
    }

    private final Tokenizer tokenizer;
    private final int eosTokenId;
    private final Set<Integer> eosTokenIds;
    private final int vocabSize;
    private final int maxSequenceLength;

    /**
     * An encoder whose only EOS is {@code eosTokenId} and whose vocabulary is the tokenizer's.
     *
     * @param tokenizer         the model's tokenizer, still owned by the caller
     * @param eosTokenId        appended to every text response
     * @param maxSequenceLength the longest prompt + response allowed, in tokens
     */
    public ExampleEncoder(Tokenizer tokenizer, int eosTokenId, int maxSequenceLength) {
        this(tokenizer, eosTokenId, Set.of(eosTokenId), tokenizer.vocabSize(), maxSequenceLength);
    }

    /**
     * @param tokenizer         the model's tokenizer, still owned by the caller
     * @param eosTokenId        appended to every text response
     * @param eosTokenIds       the ids generation stops at; a response sampled to "eos" ends with one of them
     * @param vocabSize         rows of the model's embedding: a sampled id must be in [0, vocabSize)
     * @param maxSequenceLength the longest prompt + response allowed, in tokens
     */
    public ExampleEncoder(Tokenizer tokenizer, int eosTokenId, Set<Integer> eosTokenIds, int vocabSize,
                          int maxSequenceLength) {
        if (maxSequenceLength < 2) {
            throw new IllegalArgumentException("max sequence length must be at least 2, got " + maxSequenceLength);
        }
        if (!eosTokenIds.contains(eosTokenId)) {
            throw new IllegalArgumentException("eos token id " + eosTokenId + " is not among the EOS ids " + eosTokenIds);
        }
        this.tokenizer = tokenizer;
        this.eosTokenId = eosTokenId;
        this.eosTokenIds = Set.copyOf(eosTokenIds);
        this.vocabSize = vocabSize;
        this.maxSequenceLength = maxSequenceLength;
    }

    /**
     * An encoder for a model: EOS from {@code eos_token_id} (its first id is appended to text responses), the
     * vocabulary from {@code vocab_size}, the limit from {@code max_position_embeddings}.
     */
    public static ExampleEncoder forModel(Tokenizer tokenizer, DecoderConfig config) {
        return new ExampleEncoder(tokenizer, config.eosTokenId(), Set.copyOf(config.eosTokenIds()),
                config.vocabSize(), config.maxPositionEmbeddings());
    }

    /**
     * An SSO example; field names in errors are {@code prompt}, {@code prompt_plus}, {@code prompt_minus},
     * {@code y_plus}, {@code y_minus}, {@code y_orig}.
     *
     * @throws IllegalArgumentException if a prompt is blank or a sequence is too long
     */
    public SsoExample sso(String prompt, String promptPlus, String promptMinus, String yPlus, String yMinus,
                          String yOrig) {
        return sso(prompt, promptPlus, promptMinus, Response.text(yPlus), Response.text(yMinus), Response.text(yOrig));
    }

    /**
     * An SSO example whose responses may carry their sampled ids.
     *
     * @throws IllegalArgumentException if a prompt is blank, a sampled id is outside the vocabulary, a finish reason
     *                                  is unknown or disagrees with the ids, or a sequence is too long
     */
    public SsoExample sso(String prompt, String promptPlus, String promptMinus, Response yPlus, Response yMinus,
                          Response yOrig) {
        int[] x = prompt("prompt", prompt);
        int[] xPlus = prompt("prompt_plus", promptPlus);
        int[] xMinus = prompt("prompt_minus", promptMinus);
        int[] plus = response("y_plus", yPlus);
        int[] minus = response("y_minus", yMinus);
        int[] orig = response("y_orig", yOrig);
        fits("prompt", x, "y_plus", plus);
        fits("prompt", x, "y_minus", minus);
        fits("prompt_plus", xPlus, "y_plus", plus);
        fits("prompt_plus", xPlus, "y_minus", minus);
        fits("prompt_minus", xMinus, "y_orig", orig);
        fits("prompt_minus", xMinus, "y_plus", plus);
        return new SsoExample(x, xPlus, xMinus, plus, minus, orig);
    }

    /**
     * A preference pair; with {@code strength} NaN a plain pair, otherwise a soft pair (strength in [0, 1]).
     *
     * @throws IllegalArgumentException if the prompt is blank, the strength is out of range or a sequence too long
     */
    public PreferencePair pair(String prompt, String chosen, String rejected, double strength) {
        return pair(prompt, Response.text(chosen), Response.text(rejected), strength);
    }

    /**
     * A preference pair whose responses may carry their sampled ids.
     *
     * @throws IllegalArgumentException as {@link #pair(String, String, String, double)}, and if a sampled id is
     *                                  outside the vocabulary or a finish reason is unknown or disagrees with the ids
     */
    public PreferencePair pair(String prompt, Response chosen, Response rejected, double strength) {
        int[] x = prompt("prompt", prompt);
        int[] w = response("chosen", chosen);
        int[] l = response("rejected", rejected);
        fits("prompt", x, "chosen", w);
        fits("prompt", x, "rejected", l);
        if (!Double.isNaN(strength) && !(strength >= 0 && strength <= 1)) {
            throw new IllegalArgumentException("strength must be in [0, 1], got " + strength);
        }
        return new PreferencePair(x, w, l, strength);
    }

    private int[] prompt(String field, String text) {
        requireText(field, text);
        return tokenizer.encode(text);
    }

    /**
     * A response in ids: its sampled ids as they are, or its text encoded with EOS appended. An empty response is
     * allowed: a sampled policy may stop at once, and "say nothing" (EOS alone) is a response the objectives can
     * prefer or reject like any other.
     */
    private int[] response(String field, Response r) {
        if (r == null) {
            throw new IllegalArgumentException("field " + field + " is missing");
        }
        return r.sampledIds() == null ? response(field, r.text()) : sampled(field + "_tokens", r);
    }

    /**
     * Sampled ids, checked and copied. Generation keeps the EOS it stopped at in the ids ({@code
     * GeneratedSequence#tokenIds}), so "eos" ids already end with it and nothing is appended to any of them.
     */
    private int[] sampled(String field, Response r) {
        int[] ids = r.sampledIds();
        if (!FINISH_REASONS.contains(r.finishReason())) {
            throw new IllegalArgumentException(field + ".finish_reason must be one of " + FINISH_REASONS + ", got '"
                    + r.finishReason() + "'");
        }
        if (ids.length == 0) {
            throw new IllegalArgumentException(field + ".token_ids is empty; a sampled response has at least one token"
                    + " (the EOS it stopped at, when it stopped at once)");
        }
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocabSize) {
                throw new IllegalArgumentException(field + ".token_ids[" + i + "] is " + ids[i]
                        + ", outside the model's vocabulary of " + vocabSize + " ids");
            }
        }
        int last = ids[ids.length - 1];
        boolean eos = r.finishReason().equals("eos");
        // generation stops at the first EOS it samples, so the ids end with one exactly when the reason is eos
        if (eos != eosTokenIds.contains(last)) {
            throw new IllegalArgumentException(field + ": finish_reason " + r.finishReason() + ", but its last id "
                    + last + (eos ? " is none of" : " is one of") + " the model's EOS ids " + eosTokenIds);
        }
        return ids.clone();
    }

    private int[] response(String field, String text) {
        if (text == null) {
            throw new IllegalArgumentException("field " + field + " is missing");
        }
        int[] ids = tokenizer.encodeWithoutSpecialTokens(text);
        int[] withEos = Arrays.copyOf(ids, ids.length + 1);
        withEos[ids.length] = eosTokenId;
        return withEos;
    }

    private void fits(String promptField, int[] prompt, String responseField, int[] response) {
        int length = prompt.length + response.length;
        if (length > maxSequenceLength) {
            throw new IllegalArgumentException(promptField + " + " + responseField + " is " + length + " tokens ("
                    + prompt.length + " + " + response.length + "), longer than the model's limit of "
                    + maxSequenceLength);
        }
    }

    private static void requireText(String field, String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("field " + field + " is empty or only whitespace");
        }
    }
}
