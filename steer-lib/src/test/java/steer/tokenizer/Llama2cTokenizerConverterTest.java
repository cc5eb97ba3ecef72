package steer.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static steer.tokenizer.Llama2cVocabularyTest.assertMentions;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Collectors;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The converted stories260K tokenizer, run by DJL, against the llama2.c reference encoder. */
class Llama2cTokenizerConverterTest {

    static final String STORY = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
            + " One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said";

    /** Varied strings; every one must encode exactly as llama2.c encodes it. */
    static final List<String> STRINGS = List.of(
            "Once upon a time",
            "Once upon a time, there was a little girl named Lily.",
            STORY,
            "",
            "a",
            " ",
            "  ",
            "   ",
            " hello",
            "  hello",
            "hello ",
            "hello  ",
            "hello   world",
            " leading and trailing ",
            "The cat sat on the mat.",
            "Tom and Sue went to the store to buy some milk and eggs.",
            "He said, \"I don't want to go!\"",
            "Where is the ball? It is under the bed!",
            "Wait... what?!",
            "(parentheses) [brackets] {braces} <angles>",
            "semi; colon: dash - en – em — ellipsis …",
            "“Curly quotes” and ‘single ones’ aren’t ASCII",
            "0",
            "42",
            "1234567890",
            "3.14",
            "1,000",
            "1,000,000.50",
            "-7 + 3 = -4",
            "100%",
            "$5 or €5 or £5",
            "a\tb",
            "\ttab first",
            "tab last\t",
            "line one\nline two",
            "\n",
            "\n\n",
            "ends with newline\n",
            "\nstarts with newline",
            "windows\r\nline",
            "café",
            "é",
            "naïve über Größe",
            "日本語",
            "日本語のテキスト",
            "emoji 🙂",
            "🙂",
            "🙂🙂 twice",
            "mixed: Lily ate 3 apples 🍎 and said “yum”!",
            "ALL CAPS SHOUTING",
            "lowercase only here",
            "CamelCaseWordsJoined",
            "snake_case_name",
            "email@example.com",
            "https://example.com/path?q=1&r=2",
            "back\\slash | pipe ~ tilde ^ caret ` backtick",
            "aaaaaaaaaaaaaaaa",
            "the the the the the",
            "ababababab",
            "Lily and Ben played. Lily and Ben laughed. Lily and Ben slept.",
            "x y z",
            "Ω≈ç√∫˜µ≤≥÷",
            "\u00a0non-breaking space",
            "zero\u200bwidth",
            "Once upon a time there was a happy little dog. The dog liked to run and jump in the big green grass."
                    + " One day the dog saw a cat. The cat was very shy and did not want to play. The dog was sad."
                    + " Then the dog had an idea. He brought the cat a toy. The cat smiled and they became friends."
                    + " They played together every day, and they were very happy. The end.");

    private static Llama2cVocabulary vocabulary;
    private static Llama2cReferenceEncoder reference;
    private static Tokenizer tokenizer;

    @TempDir
    static Path modelDir;

    @BeforeAll
    static void convert() {
        vocabulary = Stories260k.vocabulary();
        reference = new Llama2cReferenceEncoder(vocabulary);
        Llama2cTokenizerConverter.write(vocabulary, modelDir.resolve(Tokenizer.FILE_NAME));
        tokenizer = Tokenizer.load(modelDir);
    }

    @AfterAll
    static void close() {
        if (tokenizer != null) {
            tokenizer.close();
        }
    }

    @Test
    void referenceEncoderGivesTheDocumentedIds() {
        assertEquals(List.of(1, 403, 407, 261, 378), reference.encode("Once upon a time"));
    }

    @Test
    void onceUponATime() {
        assertArrayEquals(new int[] {1, 403, 407, 261, 378}, tokenizer.encode("Once upon a time"));
    }

    @Test
    void emptyTextIsJustBos() {
        assertArrayEquals(new int[] {1}, tokenizer.encode(""));
        assertEquals(List.of(1), reference.encode(""));
    }

    @Test
    void encodesLikeLlama2cOnVariedStrings() {
        assertTrue(STRINGS.size() >= 50, "at least 50 strings");
        List<String> mismatches = new ArrayList<>();
        for (String s : STRINGS) {
            List<Integer> expected = reference.encode(s);
            List<Integer> actual = boxed(tokenizer.encode(s));
            if (!expected.equals(actual)) {
                mismatches.add(quote(s) + "\n  llama2.c: " + expected + "\n  tokenizer.json: " + actual);
            }
        }
        assertTrue(mismatches.isEmpty(), () -> mismatches.size() + " mismatches:\n" + String.join("\n", mismatches));
    }

    @Test
    void byteFallbackForCharactersOutsideTheVocabulary() {
        // 🙂 is F0 9F 99 82: four byte tokens, id = byte + 3, after the dummy prefix " " (410).
        assertArrayEquals(new int[] {1, 410, 0xF0 + 3, 0x9F + 3, 0x99 + 3, 0x82 + 3}, tokenizer.encode("🙂"));
        // "\n" has no piece of its own: <0x0A> is id 13.
        int[] ids = tokenizer.encodeWithoutSpecialTokens("\n");
        assertEquals(13, ids[ids.length - 1]);
    }

    @Test
    void encodesLikeLlama2cOnRandomStrings() {
        // Random text over a TinyStories-like alphabet with repeats, which provoke ties between splits.
        String alphabet = "aaabbeeeeiiloonnrsstth  ..,,!'\"\n\t1é🙂AT";
        Random random = new Random(20240611L);
        List<String> mismatches = new ArrayList<>();
        int ties = 0;
        for (int n = 0; n < 3000; n++) {
            StringBuilder sb = new StringBuilder();
            int length = random.nextInt(40);
            for (int i = 0; i < length; ) {
                int cp = alphabet.codePointAt(random.nextInt(alphabet.length()));
                if (Character.isLowSurrogate((char) cp)) {
                    continue;
                }
                sb.appendCodePoint(cp);
                i++;
            }
            String s = sb.toString();
            Llama2cReferenceEncoder.Result expected = reference.encodeWithTies(s);
            List<Integer> actual = boxed(tokenizer.encode(s));
            if (expected.tieOfSplits()) {
                ties++;
            }
            // Only a tie between two different splits of one piece may legitimately differ (see the converter's
            // Javadoc); everything else must match.
            if (!expected.ids().equals(actual) && !expected.tieOfSplits()) {
                mismatches.add(quote(s) + "\n  llama2.c: " + expected.ids() + "\n  tokenizer.json: " + actual);
            }
        }
        int tieCount = ties;
        assertTrue(mismatches.isEmpty(), () -> mismatches.size() + " mismatches without a tie (" + tieCount
                + " tied strings):\n" + String.join("\n", mismatches.subList(0, Math.min(10, mismatches.size()))));
    }

    @Test
    void decodeInvertsEncode() {
        for (String s : STRINGS) {
            int[] ids = tokenizer.encode(s);
            assertEquals(s, tokenizer.decode(ids), () -> "round trip of " + quote(s) + " via " + Arrays.toString(ids));
            assertEquals(s, reference.decode(boxed(ids)), () -> "llama2.c round trip of " + quote(s));
        }
    }

    @Test
    void decodesTheGreedyStory() {
        int[] ids = tokenizer.encode(STORY);
        assertEquals(STORY, tokenizer.decode(ids));
        assertEquals(reference.decode(boxed(ids)), tokenizer.decode(ids));
        assertTrue(Arrays.stream(ids).anyMatch(id -> id == 13), "the story's line break is token <0x0A>");
    }

    @Test
    void newlineTokenDecodesToNewline() {
        assertEquals("\n", tokenizer.decode(new int[] {13}));
        assertEquals("\n", tokenizer.tokenText(13));
        assertEquals("Lily\n", tokenizer.decode(new int[] {1, tokenizer.encodeWithoutSpecialTokens("Lily")[0], 13}));
    }

    @Test
    void decodeSkipsBosAndEos() {
        assertEquals("Once upon a time", tokenizer.decode(new int[] {1, 403, 407, 261, 378, 2}));
    }

    @Test
    void tokenTextKeepsTheWordSpaceForStreaming() {
        int[] ids = tokenizer.encode("Once upon a time");
        StringBuilder streamed = new StringBuilder();
        for (int i = 1; i < ids.length; i++) {
            streamed.append(tokenizer.tokenText(ids[i]));
        }
        // The dummy prefix space stays on the first token, as in llama2.c's piece " Once".
        assertEquals(" Once upon a time", streamed.toString());
        assertEquals(" upon", tokenizer.tokenText(407));
        assertEquals("", tokenizer.tokenText(1));
    }

    @Test
    void vocabularySizeAndHuggingFacePieces() throws IOException {
        assertEquals(512, tokenizer.vocabSize());
        JsonNode json = new ObjectMapper().readTree(modelDir.resolve(Tokenizer.FILE_NAME).toFile());
        JsonNode vocab = json.path("model").path("vocab");
        assertEquals(512, vocab.size());
        assertEquals(259, vocab.path("\u2581t").asInt());
        assertEquals(410, vocab.path("\u2581").asInt());
        assertEquals(1, vocab.path("<s>").asInt());
        for (int b = 0; b < 256; b++) {
            assertEquals(b + 3, vocab.path(String.format(Locale.ROOT, "<0x%02X>", b)).asInt());
        }
        assertFalse(vocab.fieldNames().next().contains(" "));
        assertTrue(json.path("model").path("byte_fallback").asBoolean());
        assertEquals(3, json.path("added_tokens").size());
        // Highest score first: " t" (259, score -0.0) is "▁" + "t".
        assertEquals("\u2581 t", json.path("model").path("merges").get(0).asText());
    }

    @Test
    void mergesCoverEveryPairLlama2cCanMerge() {
        List<Llama2cTokenizerConverter.Merge> merges = Llama2cTokenizerConverter.merges(vocabulary);
        int pairs = 0;
        for (int a = 0; a < vocabulary.size(); a++) {
            for (int b = 0; b < vocabulary.size(); b++) {
                byte[] left = vocabulary.pieceBytes(a);
                byte[] right = vocabulary.pieceBytes(b);
                byte[] joined = Arrays.copyOf(left, left.length + right.length);
                System.arraycopy(right, 0, joined, left.length, right.length);
                for (int c = 0; c < vocabulary.size(); c++) {
                    if (Arrays.equals(joined, vocabulary.pieceBytes(c))) {
                        pairs++;
                        int fa = a;
                        int fb = b;
                        int fc = c;
                        assertTrue(merges.contains(new Llama2cTokenizerConverter.Merge(fa, fb, fc)),
                                () -> "missing merge " + fa + " + " + fb + " -> " + fc);
                    }
                }
            }
        }
        assertEquals(pairs, merges.size());
        for (int i = 1; i < merges.size(); i++) {
            assertTrue(vocabulary.score(merges.get(i - 1).result()) >= vocabulary.score(merges.get(i).result()),
                    "merges ordered by score, highest first");
        }
    }

    @Test
    void rejectsVocabularyWithoutByteTokens() throws IOException {
        String[] pieces = new String[260];
        float[] scores = new float[260];
        pieces[0] = "<unk>";
        pieces[1] = "\n<s>\n";
        pieces[2] = "\n</s>\n";
        for (int b = 0; b < 256; b++) {
            pieces[3 + b] = String.format(Locale.ROOT, "<0x%02X>", b);
        }
        pieces[3 + 0x41] = "A";
        pieces[259] = " a";
        Path file = modelDir.resolve("bad-bytes.bin");
        Files.write(file, Llama2cVocabularyTest.tokFile(7, scores, pieces));
        Llama2cVocabulary bad = Llama2cVocabulary.read(file, 260);
        TokenizerException e = assertThrows(TokenizerException.class, () -> Llama2cTokenizerConverter.toJson(bad));
        assertMentions(e, file.toString(), "token 68", "<0x41>");

        pieces[3 + 0x41] = "<0x41>";
        pieces[259] = "<s>";
        Files.write(file, Llama2cVocabularyTest.tokFile(7, scores, pieces));
        Llama2cVocabulary clash = Llama2cVocabulary.read(file, 260);
        e = assertThrows(TokenizerException.class, () -> Llama2cTokenizerConverter.toJson(clash));
        assertMentions(e, file.toString(), "tokens 1 and 259");
    }

    static List<Integer> boxed(int[] ids) {
        return Arrays.stream(ids).boxed().collect(Collectors.toList());
    }

    static String quote(String s) {
        return "\"" + s.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r") + "\"";
    }
}
