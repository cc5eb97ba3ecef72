package steer.train;

import java.util.Arrays;
import steer.checkpoint.DecoderConfig;
import steer.data.PreferencePair;
import steer.data.SsoExample;
import steer.tokenizer.Tokenizer;

/**
 * Turns training examples given as text (as pair batches carry them) into token ids, the way
 * {@link steer.data.TrainingDataReader} reads files: prompts with BOS, responses without special tokens and
 * ending in EOS; every prompt + response within the model's context.
 *
 * <p>Errors name the field at fault, so a service can pass them on to whoever sent the example.
 */
public final class ExampleEncoder {

    private final Tokenizer tokenizer;
    private final int eosTokenId;
    private final int maxSequenceLength;

    /**
     * @param tokenizer         the model's tokenizer, still owned by the caller
     * @param eosTokenId        appended to every response
     * @param maxSequenceLength the longest prompt + response allowed, in tokens
     */
    public ExampleEncoder(Tokenizer tokenizer, int eosTokenId, int maxSequenceLength) {
        if (maxSequenceLength < 2) {
            throw new IllegalArgumentException("max sequence length must be at least 2, got " + maxSequenceLength);
        }
        this.tokenizer = tokenizer;
        this.eosTokenId = eosTokenId;
        this.maxSequenceLength = maxSequenceLength;
    }

    /** An encoder for a model: EOS from {@code eos_token_id}, the limit from {@code max_position_embeddings}. */
    public static ExampleEncoder forModel(Tokenizer tokenizer, DecoderConfig config) {
        return new ExampleEncoder(tokenizer, config.eosTokenId(), config.maxPositionEmbeddings());
    }

    /**
     * An SSO example; field names in errors are {@code prompt}, {@code prompt_plus}, {@code prompt_minus},
     * {@code y_plus}, {@code y_minus}, {@code y_orig}.
     *
     * @throws IllegalArgumentException if a prompt is blank or a sequence is too long
     */
    public SsoExample sso(String prompt, String promptPlus, String promptMinus, String yPlus, String yMinus,
                          String yOrig) {
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
     * A response in ids with EOS appended. An empty response is allowed: a sampled policy may stop at once, and
     * "say nothing" (EOS alone) is a response the objectives can prefer or reject like any other.
     */
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
                    + prompt.length + " + " + response.length + " with EOS), longer than the model's limit of "
                    + maxSequenceLength);
        }
    }

    private static void requireText(String field, String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("field " + field + " is empty or only whitespace");
        }
    }
}
