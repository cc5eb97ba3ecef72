package steer.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Llama2cVocabularyTest {

    @TempDir
    Path dir;

    @Test
    void readsStories260kTokenizer() {
        Llama2cVocabulary v = Stories260k.vocabulary();
        assertEquals(512, v.size());
        assertEquals(7, v.maxTokenLength());
        assertEquals("<unk>", v.piece(0));
        assertEquals("\n<s>\n", v.piece(1));
        assertEquals("\n</s>\n", v.piece(2));
        assertEquals("<0x00>", v.piece(3));
        assertEquals("<0x0A>", v.piece(13));
        assertEquals("<0xFF>", v.piece(258));
        // Word-initial pieces carry a plain space in llama2.c's export, not "▁".
        assertEquals(" t", v.piece(259));
        assertEquals(-1.0f, v.score(260));
        assertEquals(" ", v.piece(410));
        assertEquals("é", v.piece(485));
        assertArrayEquals(new byte[] {(byte) 0xC3, (byte) 0xA9}, v.pieceBytes(485));
        assertEquals(-226.0f, v.score(485));
    }

    @Test
    void pieceBytesIsACopy() {
        Llama2cVocabulary v = Stories260k.vocabulary();
        v.pieceBytes(411)[0] = 'X';
        assertEquals("e", v.piece(411));
    }

    @Test
    void idOutsideVocabularyIsRejected() {
        Llama2cVocabulary v = Stories260k.vocabulary();
        assertThrows(IndexOutOfBoundsException.class, () -> v.piece(512));
        assertThrows(IndexOutOfBoundsException.class, () -> v.score(-1));
    }

    @Test
    void readsSmallHandWrittenFile() throws IOException {
        Path file = write(tokFile(4, new float[] {0f, -1.5f}, "ab", " c"));
        Llama2cVocabulary v = Llama2cVocabulary.read(file, 2);
        assertEquals(2, v.size());
        assertEquals("ab", v.piece(0));
        assertEquals(" c", v.piece(1));
        assertEquals(-1.5f, v.score(1));
        assertEquals(file, v.source());
    }

    @Test
    void missingFileNamesThePath() {
        Path file = dir.resolve("nope.bin");
        TokenizerException e = assertThrows(TokenizerException.class, () -> Llama2cVocabulary.read(file, 512));
        assertMentions(e, file.toString(), "does not exist");
    }

    @Test
    void fileShorterThanHeaderIsTruncated() throws IOException {
        Path file = write(new byte[] {7, 0});
        TokenizerException e = assertThrows(TokenizerException.class, () -> Llama2cVocabulary.read(file, 1));
        assertMentions(e, file.toString(), "truncated", "max_token_length");
    }

    @Test
    void truncatedStories260kFileNamesTokenAndOffset() throws IOException {
        byte[] whole = Files.readAllBytes(Stories260k.tokenizerBin());
        // Cut inside the piece of the last token: 6227 - 2 bytes.
        Path cutInPiece = write(Arrays.copyOf(whole, whole.length - 2));
        TokenizerException e = assertThrows(TokenizerException.class,
                () -> Llama2cVocabulary.read(cutInPiece, 512));
        assertMentions(e, cutInPiece.toString(), "truncated", "token 511", "byte offset");

        // Cut inside a token header (score + length): 4 bytes of header + 3 bytes into token 0's header.
        Path cutInHeader = write(Arrays.copyOf(whole, 7));
        e = assertThrows(TokenizerException.class, () -> Llama2cVocabulary.read(cutInHeader, 512));
        assertMentions(e, cutInHeader.toString(), "truncated", "token 0", "byte offset 4");
    }

    @Test
    void fewerTokensThanTheModelSays() {
        Path file = Stories260k.tokenizerBin();
        TokenizerException e = assertThrows(TokenizerException.class, () -> Llama2cVocabulary.read(file, 513));
        assertMentions(e, file.toString(), "only 512 tokens", "expected 513", "byte offset 6227");
    }

    @Test
    void moreTokensThanTheModelSays() {
        Path file = Stories260k.tokenizerBin();
        TokenizerException e = assertThrows(TokenizerException.class, () -> Llama2cVocabulary.read(file, 511));
        assertMentions(e, file.toString(), "more than the expected 511", "after token 510");
    }

    @Test
    void negativeLengthIsRejected() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4 + 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(4).putFloat(0f).putInt(-3);
        Path file = write(b.array());
        TokenizerException e = assertThrows(TokenizerException.class, () -> Llama2cVocabulary.read(file, 1));
        assertMentions(e, file.toString(), "token 0", "byte offset 4", "length -3");
    }

    @Test
    void lengthAboveMaxTokenLengthIsRejected() throws IOException {
        Path file = write(tokFile(2, new float[] {0f, 0f}, "ab", "abc"));
        TokenizerException e = assertThrows(TokenizerException.class, () -> Llama2cVocabulary.read(file, 2));
        assertMentions(e, file.toString(), "token 1", "byte offset 14", "length 3");
    }

    @Test
    void absurdMaxTokenLengthIsRejected() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(Integer.MAX_VALUE);
        Path file = write(b.array());
        TokenizerException e = assertThrows(TokenizerException.class, () -> Llama2cVocabulary.read(file, 1));
        assertMentions(e, file.toString(), "max_token_length " + Integer.MAX_VALUE);
    }

    @Test
    void vocabSizeMustBePositive() {
        assertThrows(IllegalArgumentException.class, () -> Llama2cVocabulary.read(dir.resolve("x"), 0));
    }

    /** Builds a llama2.c tokenizer file from pieces and scores. */
    static byte[] tokFile(int maxTokenLength, float[] scores, String... pieces) {
        int size = 4;
        for (String p : pieces) {
            size += 8 + p.getBytes(StandardCharsets.UTF_8).length;
        }
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(maxTokenLength);
        for (int i = 0; i < pieces.length; i++) {
            byte[] piece = pieces[i].getBytes(StandardCharsets.UTF_8);
            b.putFloat(scores[i]).putInt(piece.length).put(piece);
        }
        return b.array();
    }

    private Path write(byte[] bytes) throws IOException {
        Path file = Files.createTempFile(dir, "tok", ".bin");
        Files.write(file, bytes);
        return file;
    }

    static void assertMentions(Exception e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "message '" + e.getMessage() + "' lacks '" + part + "'");
        }
    }
}
