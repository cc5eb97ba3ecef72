package steer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.model.GeneratedSequence;
import steer.model.LanguageModel;
import steer.model.SamplingParams;
import steer.model.TextCompletion;

/**
 * The model core against a real pretrained model: stories260K converted from llama2.c must reproduce the
 * reference C implementation's greedy output token for token (text from the model's README).
 */
class Stories260kTest {

    /** llama2.c run.c, greedy, 64 new tokens after "Once upon a time" (prompt included). */
    static final String REFERENCE = "Once upon a time, there was a little girl named Lily. She loved to play outside"
            + " in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n"
            + "Lily's mom said";

    @TempDir
    static Path out;

    static Path source;

    @BeforeAll
    static void convert() {
        String dir = System.getProperty("steer.stories260k.dir", "../../shared/models/stories260K");
        source = Path.of(dir);
        assumeTrue(Files.exists(source.resolve("stories260K.bin")), "stories260K not found at " + source);
        int code = Main.run("convert-llama2c", "--model", source.resolve("stories260K.bin").toString(),
                "--tokenizer", source.resolve("tok512.bin").toString(), "--out", out.toString());
        assertEquals(0, code);
    }

    @Test
    void greedyOutputMatchesTheReferenceImplementationForAll64Tokens() {
        try (LanguageModel lm = LanguageModel.load(out)) {
            TextCompletion c = lm.complete(List.of("Once upon a time"), SamplingParams.greedy(64), List.of()).get(0);
            assertArrayEquals(new int[] {1, 403, 407, 261, 378}, c.promptIds());
            assertEquals(64, c.tokenIds().length);
            assertEquals(GeneratedSequence.FinishReason.LENGTH, c.finishReason());
            assertEquals(REFERENCE, "Once upon a time" + c.text());
        }
    }

    @Test
    void generateCommandPrintsPromptAndContinuationAndJson() {
        String text = capture("generate", "--model", out.toString(), "--prompt", "Once upon a time",
                "--max-new-tokens", "64", "--temperature", "0");
        assertEquals(REFERENCE + System.lineSeparator(), text);

        JsonNode json = parse(capture("generate", "--model", out.toString(), "--prompt", "Once upon a time",
                "--max-new-tokens", "64", "--temperature", "0", "--json"));
        assertEquals(REFERENCE, json.get("text").asText());
        assertEquals(64, json.get("token_ids").size());
        assertEquals(64, json.get("logprobs").size());
        for (JsonNode lp : json.get("logprobs")) {
            assertTrue(lp.asDouble() <= 0 && Double.isFinite(lp.asDouble()), "log-prob " + lp);
        }
    }

    @Test
    void stopStringCutsTheContinuation() {
        String text = capture("generate", "--model", out.toString(), "--prompt", "Once upon a time",
                "--max-new-tokens", "64", "--temperature", "0", "--stop", "Lily.");
        assertEquals("Once upon a time, there was a little girl named " + System.lineSeparator(), text);
    }

    @Test
    void sampledGenerationIsReproducibleForASeed() {
        String[] args = {"generate", "--model", out.toString(), "--prompt", "Once upon a time", "--max-new-tokens", "40",
            "--temperature", "0.8", "--top-p", "0.9", "--seed", "7"};
        assertEquals(capture(args), capture(args));
    }

    @Test
    void badModelDirectoryGivesAClearErrorAndExitCode() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.run("generate", "--model", out.resolve("missing").toString(), "--prompt", "x");
        } finally {
            System.setErr(old);
        }
        assertEquals(2, code);
        String msg = err.toString(StandardCharsets.UTF_8);
        assertTrue(msg.contains("missing") && msg.contains("config.json"), msg);
    }

    static String capture(String... args) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream old = System.out;
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, Main.run(args));
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    static JsonNode parse(String json) {
        try {
            return new ObjectMapper().readTree(json);
        } catch (java.io.IOException e) {
            throw new AssertionError(json, e);
        }
    }
}
