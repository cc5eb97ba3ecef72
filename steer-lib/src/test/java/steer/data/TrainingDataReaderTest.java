package steer.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static steer.data.WordTokenizer.BOS;
import static steer.data.WordTokenizer.EOS;
import static steer.data.WordTokenizer.UNK;
import static steer.data.WordTokenizer.id;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import steer.checkpoint.DecoderConfig;
import steer.data.DataFormatException.Problem;
import steer.tokenizer.Tokenizer;

class TrainingDataReaderTest {

    @TempDir
    Path dir;

    private Tokenizer tokenizer;
    private TrainingDataReader reader;

    @BeforeEach
    void loadTokenizer() {
        tokenizer = WordTokenizer.load(dir.resolve("model"));
        reader = new TrainingDataReader(tokenizer, EOS, 64);
    }

    @AfterEach
    void closeTokenizer() {
        tokenizer.close();
    }

    private Path file(String... lines) throws IOException {
        return Files.writeString(dir.resolve("data.jsonl"), String.join("\n", lines) + "\n");
    }

    private DataFormatException failure(Path file, RecordKind kind) {
        return assertThrows(DataFormatException.class, () -> reader.read(file, kind));
    }

    /** Asserts that the only problem is on {@code line} and that the message names file, line and parts. */
    private void assertOnlyProblem(DataFormatException e, Path file, int line, String... parts) {
        assertEquals(1, e.problems().size(), e.getMessage());
        assertEquals(line, e.problems().get(0).line(), e.getMessage());
        assertEquals(file, e.problems().get(0).file());
        assertTrue(e.getMessage().startsWith(file + ":" + line + ": "), e.getMessage());
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "message '" + e.getMessage() + "' lacks '" + part + "'");
        }
    }

    @Test
    void wordTokenizerEncodesOneIdPerWordWithBosOnlyFromEncode() {
        assertEquals(3 + WordTokenizer.WORDS.size(), tokenizer.vocabSize());
        assertArrayEquals(new int[] {BOS, id("hello"), id("world"), id("?")}, tokenizer.encode("hello world?"));
        assertArrayEquals(new int[] {id("be"), id("kind")}, tokenizer.encodeWithoutSpecialTokens(" be  kind "));
        assertArrayEquals(new int[] {UNK}, tokenizer.encodeWithoutSpecialTokens("zebra"));
    }

    @Test
    void demonstrationsGetBosOnThePromptAndEosOnTheResponse() throws IOException {
        Path file = file("{\"prompt\": \"hello world\", \"response\": \"yes\"}",
                "{\"response\": \"be kind\", \"prompt\": \"question ?\"}");
        List<Demonstration> read = reader.readDemonstrations(file);
        assertEquals(2, read.size());
        assertArrayEquals(new int[] {BOS, id("hello"), id("world")}, read.get(0).prompt());
        assertArrayEquals(new int[] {id("yes"), EOS}, read.get(0).response());
        assertArrayEquals(new int[] {BOS, id("question"), id("?")}, read.get(1).prompt());
        assertArrayEquals(new int[] {id("be"), id("kind"), EOS}, read.get(1).response());
    }

    @Test
    void pairsHaveNoStrengthAndIgnoreExtraFields() throws IOException {
        Path file = file("{\"prompt\": \"question\", \"chosen\": \"good answer\", \"rejected\": \"bad\","
                + " \"strength\": 7, \"model\": \"tiny\", \"version\": 3}");
        PreferencePair pair = reader.readPairs(file, false).get(0);
        assertArrayEquals(new int[] {BOS, id("question")}, pair.prompt());
        assertArrayEquals(new int[] {id("good"), id("answer"), EOS}, pair.chosen());
        assertArrayEquals(new int[] {id("bad"), EOS}, pair.rejected());
        assertTrue(Double.isNaN(pair.strength()));
    }

    @Test
    void spcePairsKeepTheirStrength() throws IOException {
        Path file = file("{\"prompt\": \"question\", \"chosen\": \"yes\", \"rejected\": \"no\", \"strength\": 0.75}",
                "{\"prompt\": \"question\", \"chosen\": \"yes\", \"rejected\": \"no\", \"strength\": 0}",
                "{\"prompt\": \"question\", \"chosen\": \"yes\", \"rejected\": \"no\", \"strength\": 1}");
        List<PreferencePair> pairs = reader.readPairs(file, true);
        assertEquals(List.of(0.75, 0.0, 1.0), pairs.stream().map(PreferencePair::strength).collect(Collectors.toList()));
        assertArrayEquals(new int[] {id("no"), EOS}, pairs.get(0).rejected());
    }

    @Test
    void ssoExamplesMapEveryField() throws IOException {
        Path file = file("{\"prompt\": \"question\", \"prompt_plus\": \"be kind question\","
                + " \"prompt_minus\": \"be rude question\", \"y_plus\": \"good\", \"y_minus\": \"bad\","
                + " \"y_orig\": \"answer\"}");
        SsoExample example = reader.readSsoExamples(file).get(0);
        assertArrayEquals(new int[] {BOS, id("question")}, example.prompt());
        assertArrayEquals(new int[] {BOS, id("be"), id("kind"), id("question")}, example.promptPlus());
        assertArrayEquals(new int[] {BOS, id("be"), id("rude"), id("question")}, example.promptMinus());
        assertArrayEquals(new int[] {id("good"), EOS}, example.yPlus());
        assertArrayEquals(new int[] {id("bad"), EOS}, example.yMinus());
        assertArrayEquals(new int[] {id("answer"), EOS}, example.yOrig());
    }

    @Test
    void readReturnsTheKindsRecordType() throws IOException {
        Path file = file("{\"prompt\": \"question\", \"response\": \"yes\"}");
        assertTrue(reader.read(file, RecordKind.SFT).get(0) instanceof Demonstration);
    }

    @Test
    void blankLinesAreSkippedButCounted() throws IOException {
        Path file = Files.writeString(dir.resolve("blank.jsonl"),
                "\n   \n{\"prompt\": \"question\", \"response\": \"yes\"}\r\n\t\n{\"prompt\": \"hello\", \"response\": 1}");
        DataFormatException e = failure(file, RecordKind.SFT);
        assertOnlyProblem(e, file, 5, "\"response\" must be a string, got number 1");

        Files.writeString(file, "\n{\"prompt\": \"question\", \"response\": \"yes\"}\r\n\n\n");
        assertEquals(1, reader.readDemonstrations(file).size());
    }

    @Test
    void leadingByteOrderMarkIsAccepted() throws IOException {
        Path file = Files.writeString(dir.resolve("bom.jsonl"), "\uFEFF{\"prompt\": \"question\", \"response\": \"yes\"}");
        assertEquals(1, reader.readDemonstrations(file).size());
    }

    @Test
    void invalidJsonIsReportedWithItsLine() throws IOException {
        Path file = file("{\"prompt\": \"question\", \"response\": \"yes\"}", "{\"prompt\": \"question\", \"response\": ");
        assertOnlyProblem(failure(file, RecordKind.SFT), file, 2, "not valid JSON");
    }

    @Test
    void twoObjectsOnOneLineAndDuplicateKeysAreInvalidJson() throws IOException {
        Path file = file("{\"prompt\": \"question\", \"response\": \"yes\"} {\"prompt\": \"question\", \"response\": \"yes\"}",
                "{\"prompt\": \"question\", \"response\": \"yes\", \"response\": \"no\"}");
        DataFormatException e = failure(file, RecordKind.SFT);
        assertEquals(List.of(1, 2), lines(e));
        assertTrue(e.problems().stream().allMatch(p -> p.description().startsWith("not valid JSON")), e.getMessage());
    }

    @Test
    void aLineThatIsNotAnObjectIsReported() throws IOException {
        Path file = file("[\"question\", \"yes\"]");
        assertOnlyProblem(failure(file, RecordKind.SFT), file, 1, "not a JSON object but array");
        Files.writeString(file, "\"question\"");
        assertOnlyProblem(failure(file, RecordKind.SFT), file, 1, "not a JSON object but string");
    }

    @Test
    void invalidUtf8IsReportedWithItsLine() throws IOException {
        byte[] good = "{\"prompt\": \"question\", \"response\": \"yes\"}\n".getBytes(StandardCharsets.UTF_8);
        byte[] bad = {'{', '"', 'p', '"', ':', '"', (byte) 0xC3, '"', '}', '\n'};
        Path file = dir.resolve("latin1.jsonl");
        Files.write(file, concat(good, bad, good));
        assertOnlyProblem(failure(file, RecordKind.SFT), file, 2, "not valid UTF-8");
    }

    @Test
    void missingFieldsAreEachReported() throws IOException {
        Path file = file("{\"prompt\": \"question\", \"chosen\": \"yes\", \"rejected\": \"no\"}",
                "{\"prompt\": \"question\"}");
        DataFormatException e = failure(file, RecordKind.SPCE_PAIRS);
        assertEquals(List.of(1, 2, 2, 2), lines(e));
        assertTrue(e.problems().get(0).description().contains("missing field \"strength\""), e.getMessage());
        assertTrue(e.getMessage().contains(file + ":2: missing field \"chosen\""), e.getMessage());
        assertTrue(e.getMessage().contains(file + ":2: missing field \"rejected\""), e.getMessage());
        assertTrue(e.getMessage().contains(file + ":2: missing field \"strength\""), e.getMessage());
    }

    @Test
    void fieldsOfTheWrongTypeAreReported() throws IOException {
        Path file = file("{\"prompt\": null, \"response\": [\"yes\"]}");
        DataFormatException e = failure(file, RecordKind.SFT);
        assertEquals(List.of(1, 1), lines(e));
        assertTrue(e.getMessage().contains(file + ":1: field \"prompt\" must be a string, got null"), e.getMessage());
        assertTrue(e.getMessage().contains(file + ":1: field \"response\" must be a string, got array"), e.getMessage());
    }

    @Test
    void strengthMustBeANumberInTheUnitInterval() throws IOException {
        String pair = "{\"prompt\": \"question\", \"chosen\": \"yes\", \"rejected\": \"no\", \"strength\": ";
        Path file = file(pair + "\"0.5\"}", pair + "1.5}", pair + "-0.01}", pair + "1e400}", pair + "0.5}");
        DataFormatException e = failure(file, RecordKind.SPCE_PAIRS);
        assertEquals(List.of(1, 2, 3, 4), lines(e));
        assertTrue(e.getMessage().contains(file + ":1: field \"strength\" must be a number, got string \"0.5\""),
                e.getMessage());
        assertTrue(e.getMessage().contains(file + ":2: field \"strength\" must be a finite number in [0, 1], got 1.5"),
                e.getMessage());
        assertTrue(e.getMessage().contains(file + ":3: field \"strength\" must be a finite number in [0, 1]"),
                e.getMessage());
        assertTrue(e.getMessage().contains(file + ":4: field \"strength\" must be a finite number in [0, 1]"),
                e.getMessage());
    }

    @Test
    void emptyAndWhitespaceOnlyTextsAreReported() throws IOException {
        Path file = file("{\"prompt\": \"question\", \"response\": \"\"}",
                "{\"prompt\": \"question\", \"response\": \" \\n\\t\"}",
                "{\"prompt\": \"\", \"response\": \"yes\"}",
                "{\"prompt\": \"question\", \"prompt_plus\": \"be kind\", \"prompt_minus\": \"  \", \"y_plus\": \"good\","
                        + " \"y_minus\": \"bad\", \"y_orig\": \"\"}");
        DataFormatException e = assertThrows(DataFormatException.class, () -> reader.readDemonstrations(file));
        assertEquals(List.of(1, 2, 3, 4), lines(e));
        assertTrue(e.getMessage().contains(file + ":1: field \"response\" is empty or only whitespace"), e.getMessage());
        assertTrue(e.getMessage().contains(file + ":2: field \"response\" is empty or only whitespace"), e.getMessage());
        assertTrue(e.getMessage().contains(file + ":3: field \"prompt\" is empty or only whitespace"), e.getMessage());
        assertTrue(e.getMessage().contains(file + ":4: missing field \"response\""), e.getMessage());

        DataFormatException sso = failure(file, RecordKind.SSO);
        assertTrue(sso.getMessage().contains(file + ":4: field \"prompt_minus\" is empty or only whitespace"),
                sso.getMessage());
        assertTrue(sso.getMessage().contains(file + ":4: field \"y_orig\" is empty or only whitespace"),
                sso.getMessage());
    }

    @Test
    void lengthLimitAppliesToPromptPlusResponseWithEos() throws IOException {
        // Prompt: <s> hello world (3 ids); response: yes </s> (2 ids). Neither alone exceeds 4; together 5.
        Path file = file("{\"prompt\": \"hello world\", \"response\": \"yes\"}");
        assertEquals(1, new TrainingDataReader(tokenizer, EOS, 5).readDemonstrations(file).size());
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> new TrainingDataReader(tokenizer, EOS, 4).readDemonstrations(file));
        assertOnlyProblem(e, file, 1, "prompt + response is 5 tokens (3 + 2 with EOS), longer than the limit of 4");
    }

    @Test
    void lengthLimitNamesTheLongestSsoSequence() throws IOException {
        // Longest scored sequence: (x-, y+) = 5 + 4 ids. (x-, y°) and (x+, y+) are shorter.
        Path file = file("{\"prompt\": \"question\", \"prompt_plus\": \"be kind question\","
                + " \"prompt_minus\": \"be rude rude question\", \"y_plus\": \"good good answer\", \"y_minus\": \"bad\","
                + " \"y_orig\": \"answer\"}");
        assertEquals(1, new TrainingDataReader(tokenizer, EOS, 9).readSsoExamples(file).size());
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> new TrainingDataReader(tokenizer, EOS, 8).readSsoExamples(file));
        assertOnlyProblem(e, file, 1, "prompt_minus + y_plus is 9 tokens (5 + 4 with EOS), longer than the limit of 8");
    }

    @Test
    void everyProblemInAFileIsReportedInLineOrder() throws IOException {
        Path file = file("{\"prompt\": \"question\", \"response\": \"yes\"}",
                "not json",
                "",
                "{\"prompt\": 3, \"response\": \"yes\"}",
                "{\"prompt\": \"question\", \"response\": \"yes\"}",
                "{\"prompt\": \"question\"}",
                "{\"prompt\": \"question\", \"response\": \"answer answer answer answer answer answer answer\"}");
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> new TrainingDataReader(tokenizer, EOS, 8).readDemonstrations(file));
        assertEquals(List.of(2, 4, 6, 7), lines(e));
        assertTrue(e.getMessage().startsWith("4 problems in training data:"), e.getMessage());
        assertTrue(e.getMessage().contains(file + ":2: not valid JSON"), e.getMessage());
        assertTrue(e.getMessage().contains(file + ":4: field \"prompt\" must be a string, got number 3"), e.getMessage());
        assertTrue(e.getMessage().contains(file + ":6: missing field \"response\""), e.getMessage());
        assertTrue(e.getMessage().contains(file + ":7: prompt + response is 10 tokens (2 + 8 with EOS)"), e.getMessage());
    }

    @Test
    void missingFileIsNamed() {
        Path missing = dir.resolve("nowhere.jsonl");
        DataFormatException e = assertThrows(DataFormatException.class, () -> reader.readDemonstrations(missing));
        assertEquals(missing + ": file not found", e.getMessage());
        assertEquals(0, e.problems().get(0).line());
    }

    @Test
    void fileWithoutRecordsIsNamed() throws IOException {
        Path empty = Files.writeString(dir.resolve("empty.jsonl"), "");
        assertEquals(empty + ": no records (the file is empty or has only blank lines)",
                assertThrows(DataFormatException.class, () -> reader.readDemonstrations(empty)).getMessage());
        Path blank = Files.writeString(dir.resolve("blank.jsonl"), "\n  \n\n");
        assertTrue(assertThrows(DataFormatException.class, () -> reader.readPairs(blank, false)).getMessage()
                .startsWith(blank + ": no records"));
    }

    @Test
    void forModelTakesEosAndLengthLimitFromTheConfig() throws IOException {
        // EOS is "yes" and the limit 4: the prompt is 3 ids and the response "no" plus EOS 2.
        DecoderConfig config = new DecoderConfig("llama", 15, 16, 40, 2, 4, 2, 1e-5, 10000, 4, true, false, BOS, id("yes"));
        Path file = file("{\"prompt\": \"hello world\", \"response\": \"no\"}");
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> TrainingDataReader.forModel(tokenizer, config).readDemonstrations(file));
        assertOnlyProblem(e, file, 1, "is 5 tokens (3 + 2 with EOS), longer than the limit of 4");
        Files.writeString(file, "{\"prompt\": \"hello\", \"response\": \"no\"}");
        assertArrayEquals(new int[] {id("no"), id("yes")},
                TrainingDataReader.forModel(tokenizer, config).readDemonstrations(file).get(0).response());
    }

    @Test
    void constructorRejectsAnEosOutsideTheVocabularyAndTooShortLimits() {
        assertThrows(IllegalArgumentException.class, () -> new TrainingDataReader(tokenizer, tokenizer.vocabSize(), 64));
        assertThrows(IllegalArgumentException.class, () -> new TrainingDataReader(tokenizer, -1, 64));
        assertThrows(IllegalArgumentException.class, () -> new TrainingDataReader(tokenizer, EOS, 1));
    }

    private static List<Integer> lines(DataFormatException e) {
        return e.problems().stream().map(Problem::line).collect(Collectors.toList());
    }

    private static byte[] concat(byte[]... parts) {
        int length = 0;
        for (byte[] part : parts) {
            length += part.length;
        }
        byte[] all = new byte[length];
        int at = 0;
        for (byte[] part : parts) {
            System.arraycopy(part, 0, all, at, part.length);
            at += part.length;
        }
        return all;
    }
}
