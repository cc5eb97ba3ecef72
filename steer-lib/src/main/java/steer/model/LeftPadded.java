package steer.model;

import java.util.Arrays;
import java.util.List;

/**
 * Prompts of different lengths left-padded to the longest, as generation's prefill and a judge's next-token
 * read lay them out: each row ends on its last real token, keeps its own rotary positions (0 at its first real
 * token), and carries an attention bias that hides its padding from every query.
 *
 * @param ids       {@code [B * P]} token ids, 0 on padding
 * @param positions {@code [B * P]} rotary positions
 * @param keyBias   {@code [B * width]} additive key bias: {@link Decoder#MASKED} on each row's padding, else 0
 * @param pad       padding length of each row
 * @param length    P, the longest prompt
 * @param width     key positions the bias covers (P, or P plus room for generated tokens)
 */
record LeftPadded(long[] ids, long[] positions, float[] keyBias, int[] pad, int length, int width) {

    /** Lays out {@code prompts} (at least one token each) with a key bias {@code extra} positions wider than P. */
    static LeftPadded of(List<int[]> prompts, int extra) {
        int b = prompts.size();
        int p = 0;
        for (int[] prompt : prompts) {
            p = Math.max(p, prompt.length);
        }
        int width = p + extra;
        long[] ids = new long[b * p];
        long[] positions = new long[b * p];
        float[] keyBias = new float[b * width];
        int[] pad = new int[b];
        for (int row = 0; row < b; row++) {
            int[] prompt = prompts.get(row);
            pad[row] = p - prompt.length;
            for (int t = 0; t < p; t++) {
                ids[row * p + t] = t < pad[row] ? 0 : prompt[t - pad[row]];
                positions[row * p + t] = Math.max(0, t - pad[row]);
            }
            Arrays.fill(keyBias, row * width, row * width + pad[row], Decoder.MASKED);
        }
        return new LeftPadded(ids, positions, keyBias, pad, p, width);
    }

    /** Whether any row is padded, i.e. whether the key bias masks anything. */
    boolean padded() {
        return Arrays.stream(pad).anyMatch(n -> n > 0);
    }
}
