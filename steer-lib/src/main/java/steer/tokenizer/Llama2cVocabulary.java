package steer.tokenizer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The vocabulary of a llama2.c tokenizer file ({@code tokenizer.bin}, {@code tok512.bin}): one piece and
 * one score per token id.
 *
 * <p>File layout, little-endian: int32 {@code max_token_length}, then for each token a float32 score, an
 * int32 byte length and that many bytes of the piece. The number of tokens is not stored; it is the
 * {@code vocab_size} of the model header, so {@link #read} takes it as a parameter and checks that the
 * file holds exactly that many tokens.
 *
 * <p>Pieces are kept as the file has them: a word-initial piece starts with a plain space (not
 * SentencePiece's "▁"), byte-fallback pieces read {@code <0x0A>}, and llama2.c's export writes BOS and EOS
 * as {@code "\n<s>\n"} and {@code "\n</s>\n"}.
 */
public final class Llama2cVocabulary {

    // llama2.c's longest pieces are a few dozen bytes; anything this large is a corrupt header.
    private static final int MAX_PIECE_BYTES = 1 << 16;

    private final Path source;
    private final int maxTokenLength;
    private final byte[][] pieces;
    private final float[] scores;

    private Llama2cVocabulary(Path source, int maxTokenLength, byte[][] pieces, float[] scores) {
        this.source = source;
        this.maxTokenLength = maxTokenLength;
        this.pieces = pieces;
        this.scores = scores;
    }

    /**
     * Reads a llama2.c tokenizer file.
     *
     * @param file      the {@code tokenizer.bin} / {@code tok512.bin} file
     * @param vocabSize the number of tokens the file must hold, from the model header (512 for stories260K)
     * @return the vocabulary
     * @throws TokenizerException       if the file is missing, unreadable, truncated, holds a negative or
     *                                  oversized length, or holds fewer or more than {@code vocabSize} tokens;
     *                                  the message names the file, the token index and the byte offset
     * @throws IllegalArgumentException if {@code vocabSize} is not positive
     */
    public static Llama2cVocabulary read(Path file, int vocabSize) {
        if (vocabSize <= 0) {
            throw new IllegalArgumentException("vocabSize must be positive, got " + vocabSize);
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new TokenizerException("llama2.c tokenizer file " + file + " does not exist", e);
        } catch (IOException e) {
            throw new TokenizerException("cannot read llama2.c tokenizer file " + file + ": " + e.getMessage(), e);
        }
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (in.remaining() < Integer.BYTES) {
            throw new TokenizerException("llama2.c tokenizer file " + file + " is truncated: " + bytes.length
                    + " bytes, too short for the int32 max_token_length header");
        }
        int maxTokenLength = in.getInt();
        if (maxTokenLength <= 0 || maxTokenLength > MAX_PIECE_BYTES) {
            throw new TokenizerException("llama2.c tokenizer file " + file + ": max_token_length " + maxTokenLength
                    + " at byte offset 0 is outside 1.." + MAX_PIECE_BYTES);
        }
        byte[][] pieces = new byte[vocabSize][];
        float[] scores = new float[vocabSize];
        for (int id = 0; id < vocabSize; id++) {
            int offset = in.position();
            if (in.remaining() == 0) {
                throw new TokenizerException("llama2.c tokenizer file " + file + " holds only " + id
                        + " tokens, expected " + vocabSize + " (file ends at byte offset " + offset + ")");
            }
            if (in.remaining() < Float.BYTES + Integer.BYTES) {
                throw new TokenizerException("llama2.c tokenizer file " + file + " is truncated in the header of token "
                        + id + " at byte offset " + offset + ": " + in.remaining() + " bytes left, 8 needed");
            }
            scores[id] = in.getFloat();
            int length = in.getInt();
            if (length < 0 || length > maxTokenLength) {
                throw new TokenizerException("llama2.c tokenizer file " + file + ": token " + id + " at byte offset "
                        + offset + " has length " + length + ", outside 0.." + maxTokenLength + " (max_token_length)");
            }
            if (in.remaining() < length) {
                throw new TokenizerException("llama2.c tokenizer file " + file + " is truncated in the piece of token "
                        + id + " at byte offset " + (offset + 8) + ": " + length + " bytes expected, "
                        + in.remaining() + " left");
            }
            pieces[id] = new byte[length];
            in.get(pieces[id]);
        }
        if (in.hasRemaining()) {
            throw new TokenizerException("llama2.c tokenizer file " + file + " has " + in.remaining()
                    + " bytes after token " + (vocabSize - 1) + " (byte offset " + in.position()
                    + "): it holds more than the expected " + vocabSize + " tokens");
        }
        return new Llama2cVocabulary(file, maxTokenLength, pieces, scores);
    }

    /**
     * The file this vocabulary was read from, for error messages.
     *
     * @return the path given to {@link #read}
     */
    public Path source() {
        return source;
    }

    /**
     * The number of tokens (V).
     *
     * @return the vocabulary size given to {@link #read}
     */
    public int size() {
        return pieces.length;
    }

    /**
     * The header's {@code max_token_length}: the longest piece in bytes, as the file declares it.
     *
     * @return the declared maximum piece length in bytes; every piece was checked against it
     */
    public int maxTokenLength() {
        return maxTokenLength;
    }

    /**
     * The piece of a token as raw bytes, exactly as stored in the file.
     *
     * @param id a token id in {@code [0, size())}
     * @return a copy of the piece's bytes
     */
    public byte[] pieceBytes(int id) {
        return pieces[checkId(id)].clone();
    }

    /**
     * The piece of a token decoded as UTF-8 (a word-initial piece starts with a plain space).
     *
     * @param id a token id in {@code [0, size())}
     * @return the piece; malformed UTF-8 would show as U+FFFD, which {@link Llama2cTokenizerConverter}
     *     rejects
     */
    public String piece(int id) {
        return new String(pieces[checkId(id)], StandardCharsets.UTF_8);
    }

    /**
     * The score of a token: llama2.c merges the adjacent pair whose concatenation has the highest score.
     *
     * @param id a token id in {@code [0, size())}
     * @return the score (SentencePiece's log-probability-like value, 0 for special and byte tokens)
     */
    public float score(int id) {
        return scores[checkId(id)];
    }

    private int checkId(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new IndexOutOfBoundsException("token id " + id + " outside the vocabulary of " + pieces.length
                    + " in " + source);
        }
        return id;
    }
}
