package steer.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static steer.tokenizer.Llama2cVocabularyTest.assertMentions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerTest {

    @TempDir
    Path dir;

    private Path convertedModelDir() {
        Path modelDir = dir.resolve("stories260K");
        Llama2cTokenizerConverter.write(Stories260k.vocabulary(), modelDir.resolve(Tokenizer.FILE_NAME));
        return modelDir;
    }

    @Test
    void longTextIsNotTruncated() {
        try (Tokenizer tokenizer = Tokenizer.load(convertedModelDir())) {
            String text = "Lily and Ben played in the park. ".repeat(200);
            int[] ids = tokenizer.encode(text);
            // DJL's default would stop at 512; this text has well over 2,000 tokens.
            assertTrue(ids.length > 2000, "got only " + ids.length + " tokens");
            assertEquals(1, ids[0]);
            assertEquals(new Llama2cReferenceEncoder(Stories260k.vocabulary()).encode(text),
                    Llama2cTokenizerConverterTest.boxed(ids));
            assertEquals(ids.length - 1, tokenizer.encodeWithoutSpecialTokens(text).length);
            assertEquals(text, tokenizer.decode(ids));
        }
    }

    @Test
    void withoutSpecialTokensDropsOnlyBos() {
        try (Tokenizer tokenizer = Tokenizer.load(convertedModelDir())) {
            assertArrayEquals(new int[] {403, 407, 261, 378}, tokenizer.encodeWithoutSpecialTokens("Once upon a time"));
            assertArrayEquals(new int[] {}, tokenizer.encodeWithoutSpecialTokens(""));
        }
    }

    @Test
    void vocabSizeAndFile() {
        Path modelDir = convertedModelDir();
        try (Tokenizer tokenizer = Tokenizer.load(modelDir)) {
            assertEquals(512, tokenizer.vocabSize());
            assertEquals(modelDir.resolve("tokenizer.json"), tokenizer.file());
        }
    }

    @Test
    void idsOutsideTheVocabularyAreRejected() {
        try (Tokenizer tokenizer = Tokenizer.load(convertedModelDir())) {
            assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(new int[] {1, 512}));
            assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(new int[] {-1}));
            assertThrows(IllegalArgumentException.class, () -> tokenizer.tokenText(512));
        }
    }

    @Test
    void closeTwiceIsHarmlessAndUseAfterCloseFails() {
        Tokenizer tokenizer = Tokenizer.load(convertedModelDir());
        tokenizer.close();
        tokenizer.close();
        assertThrows(IllegalStateException.class, () -> tokenizer.encode("hi"));
    }

    @Test
    void encodesFromSeveralThreadsAtOnce() throws Exception {
        Llama2cReferenceEncoder reference = new Llama2cReferenceEncoder(Stories260k.vocabulary());
        try (Tokenizer tokenizer = Tokenizer.load(convertedModelDir())) {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<String>> results = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int thread = t;
                    results.add(pool.submit(() -> {
                        for (int i = 0; i < 300; i++) {
                            String text = "Story " + thread + " part " + i + ": Lily saw a big red ball.";
                            List<Integer> ids = Llama2cTokenizerConverterTest.boxed(tokenizer.encode(text));
                            if (!ids.equals(reference.encode(text))) {
                                return "wrong ids for " + text + ": " + ids;
                            }
                            if (!tokenizer.decode(tokenizer.encode(text)).equals(text)) {
                                return "wrong round trip for " + text;
                            }
                        }
                        return "";
                    }));
                }
                for (Future<String> result : results) {
                    assertEquals("", result.get());
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void missingTokenizerJsonNamesThePath() {
        Path missing = dir.resolve("empty-model");
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.load(missing));
        assertMentions(e, missing.resolve("tokenizer.json").toString(), "does not exist");
    }

    @Test
    void fileThatIsNotJsonNamesThePath() throws IOException {
        Path file = write("this is { not json");
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.load(dir));
        assertMentions(e, file.toString(), "not valid JSON");
    }

    @Test
    void jsonWithoutAModelNamesThePath() throws IOException {
        Path file = write("[1, 2, 3]");
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.load(dir));
        assertMentions(e, file.toString(), "not a JSON object");
    }

    @Test
    void jsonRejectedByHuggingFaceNamesThePathAndItsReason() throws IOException {
        Path file = write("{\"version\": \"1.0\", \"model\": {\"type\": \"NoSuchModel\", \"vocab\": {\"a\": 0}}}");
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.load(dir));
        assertMentions(e, file.toString(), "Hugging Face tokenizers rejected");
        assertTrue(e.getMessage().length() > ("Hugging Face tokenizers rejected " + file + ": ").length(),
                "the library's reason is included: " + e.getMessage());
    }

    @Test
    void truncatedTokenizerJsonNamesThePath() throws IOException {
        Path good = convertedModelDir().resolve(Tokenizer.FILE_NAME);
        String json = Files.readString(good);
        Path file = write(json.substring(0, json.length() / 2));
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.load(dir));
        assertMentions(e, file.toString(), "not valid JSON");
    }

    @Test
    void specialTokenTextInInputIsMatchedAsSpecial() {
        // Documented difference from llama2.c, which would spell "<s>" out as '<', 's', '>'.
        try (Tokenizer tokenizer = Tokenizer.load(convertedModelDir())) {
            int[] ids = tokenizer.encode("<s>");
            assertArrayEquals(new int[] {1, 1}, ids);
        }
    }

    private Path write(String content) throws IOException {
        Path file = dir.resolve(Tokenizer.FILE_NAME);
        Files.writeString(file, content);
        return file;
    }
}
