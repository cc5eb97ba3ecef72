package steer.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The test oracle: llama2.c's {@code encode} (run.c) re-written in Java over a {@link Llama2cVocabulary},
 * step for step, on bytes as the C code works.
 *
 * <p>BOS; then, for non-empty text, the token of " " (the dummy prefix); then one token per UTF-8 character
 * found in the vocabulary, else one byte-fallback token per byte (id = byte + 3); then, repeatedly, merge the
 * adjacent pair whose concatenated pieces form the token with the highest score, the leftmost on ties
 * (strict {@code >} from a start of -1e10).
 */
final class Llama2cReferenceEncoder {

    /**
     * The ids, and whether at some step the best score was reached by another, different pair too, where
     * Hugging Face's rank order may legitimately choose otherwise.
     *
     * @param ids           the token ids, BOS first
     * @param tieOfSplits   a different pair tied with the chosen one at some step
     */
    record Result(List<Integer> ids, boolean tieOfSplits) {
    }

    private final Llama2cVocabulary vocabulary;
    private final Map<String, Integer> idOfPiece = new HashMap<>();
    private final String[] pieces;

    Llama2cReferenceEncoder(Llama2cVocabulary vocabulary) {
        this.vocabulary = vocabulary;
        this.pieces = new String[vocabulary.size()];
        for (int id = 0; id < vocabulary.size(); id++) {
            // ISO-8859-1: one char per byte, so string concatenation is C's byte concatenation.
            pieces[id] = new String(vocabulary.pieceBytes(id), StandardCharsets.ISO_8859_1);
            idOfPiece.putIfAbsent(pieces[id], id);
        }
    }

    List<Integer> encode(String text) {
        return encodeWithTies(text).ids();
    }

    Result encodeWithTies(String text) {
        List<Integer> tokens = new ArrayList<>();
        tokens.add(1);
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > 0) {
            tokens.add(lookup(" "));
        }
        StringBuilder buffer = new StringBuilder();
        for (int i = 0; i < bytes.length; i++) {
            int c = bytes[i] & 0xFF;
            if ((c & 0xC0) != 0x80) {
                buffer.setLength(0);
            }
            buffer.append((char) c);
            boolean nextIsContinuation = i + 1 < bytes.length && (bytes[i + 1] & 0xC0) == 0x80;
            if (nextIsContinuation && buffer.length() < 4) {
                continue;
            }
            int id = lookup(buffer.toString());
            if (id != -1) {
                tokens.add(id);
            } else {
                for (int k = 0; k < buffer.length(); k++) {
                    tokens.add(buffer.charAt(k) + 3);
                }
            }
            buffer.setLength(0);
        }
        boolean tie = false;
        while (true) {
            float bestScore = -1e10f;
            int bestId = -1;
            int bestIndex = -1;
            for (int i = 0; i + 1 < tokens.size(); i++) {
                int id = lookup(pieces[tokens.get(i)] + pieces[tokens.get(i + 1)]);
                if (id != -1 && vocabulary.score(id) > bestScore) {
                    bestScore = vocabulary.score(id);
                    bestId = id;
                    bestIndex = i;
                }
            }
            if (bestIndex == -1) {
                break;
            }
            for (int i = bestIndex + 1; i + 1 < tokens.size(); i++) {
                int id = lookup(pieces[tokens.get(i)] + pieces[tokens.get(i + 1)]);
                boolean sameSplit = tokens.get(i).equals(tokens.get(bestIndex))
                        && tokens.get(i + 1).equals(tokens.get(bestIndex + 1));
                if (id != -1 && vocabulary.score(id) == bestScore && !sameSplit) {
                    tie = true;
                }
            }
            tokens.set(bestIndex, bestId);
            tokens.remove(bestIndex + 1);
        }
        return new Result(tokens, tie);
    }

    /**
     * llama2.c's decode of a whole sequence: skip BOS/EOS-like specials, drop the leading space of the piece
     * right after BOS, turn {@code <0xNN>} pieces into raw bytes.
     */
    String decode(List<Integer> ids) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        int previous = -1;
        for (int id : ids) {
            if (id <= 2) {
                previous = id;
                continue;
            }
            byte[] piece = vocabulary.pieceBytes(id);
            int start = previous == 1 && piece.length > 0 && piece[0] == ' ' ? 1 : 0;
            String s = new String(piece, StandardCharsets.ISO_8859_1);
            if (s.matches("<0x[0-9A-F]{2}>")) {
                out.write(Integer.parseInt(s.substring(3, 5), 16));
            } else {
                out.write(piece, start, piece.length - start);
            }
            previous = id;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private int lookup(String piece) {
        return idOfPiece.getOrDefault(piece, -1);
    }
}
