package steer.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static steer.data.WordTokenizer.BOS;
import static steer.data.WordTokenizer.EOS;
import static steer.data.WordTokenizer.id;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import steer.tokenizer.Tokenizer;

class TrainingDataWriterTest {

    @TempDir
    Path dir;

    @Test
    void writesOneObjectPerLineInFieldOrderThenExtras() throws IOException {
        Map<String, Object> record = new LinkedHashMap<>();
        record.put("model", "tiny");
        record.put("strength", 0.25);
        record.put("rejected", "no");
        record.put("chosen", "yes\nreally");
        record.put("prompt", "question");
        Path file = dir.resolve("pairs.jsonl");
        TrainingDataWriter.write(file, RecordKind.SPCE_PAIRS, List.of(record, record));
        List<String> lines = Files.readAllLines(file);
        String expected = "{\"prompt\":\"question\",\"chosen\":\"yes\\nreally\",\"rejected\":\"no\",\"strength\":0.25,"
                + "\"model\":\"tiny\"}";
        assertEquals(List.of(expected, expected), lines);
    }

    @Test
    void whatItWritesTheReaderReads() {
        Path sft = dir.resolve("sft.jsonl");
        Path sso = dir.resolve("sso.jsonl");
        TrainingDataWriter.write(sft, RecordKind.SFT, List.of(Map.of("prompt", "hello", "response", "world")));
        TrainingDataWriter.write(sso, RecordKind.SSO, List.of(Map.of("prompt", "question", "prompt_plus", "be kind",
                "prompt_minus", "be rude", "y_plus", "good", "y_minus", "bad", "y_orig", "answer")));
        try (Tokenizer tokenizer = WordTokenizer.load(dir.resolve("model"))) {
            TrainingDataReader reader = new TrainingDataReader(tokenizer, EOS, 16);
            Demonstration demonstration = reader.readDemonstrations(sft).get(0);
            assertArrayEquals(new int[] {BOS, id("hello")}, demonstration.prompt());
            assertArrayEquals(new int[] {id("world"), EOS}, demonstration.response());
            SsoExample example = reader.readSsoExamples(sso).get(0);
            assertArrayEquals(new int[] {BOS, id("be"), id("rude")}, example.promptMinus());
            assertArrayEquals(new int[] {id("answer"), EOS}, example.yOrig());
        }
    }

    @Test
    void aRecordWithoutAFieldOfTheKindIsRejected() {
        Path file = dir.resolve("pairs.jsonl");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainingDataWriter.write(file,
                RecordKind.SPCE_PAIRS, List.of(Map.of("prompt", "question", "chosen", "yes", "rejected", "no"))));
        assertEquals("record 0 has no field \"strength\"", e.getMessage());
    }
}
