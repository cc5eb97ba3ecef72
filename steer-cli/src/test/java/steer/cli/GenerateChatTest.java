package steer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.model.DecoderInit;

/** {@code ./steer generate --chat} on a random-weight Qwen2-architecture model with the real Qwen tokenizer. */
class GenerateChatTest {

    private static final Path QWEN = Path.of(System.getProperty("user.dir")).getParent().getParent()
            .resolve("shared/models/qwen3-tokenizer");

    @TempDir
    Path dir;

    /** A random-weight Qwen2-architecture model of width 16 with the real Qwen tokenizer and its chat template. */
    static Path tinyQwenChatModel(Path model) throws java.io.IOException {
        Files.createDirectories(model);
        Files.copy(QWEN.resolve("tokenizer.json"), model.resolve("tokenizer.json"));
        Files.copy(QWEN.resolve("tokenizer_config.json"), model.resolve("tokenizer_config.json"));
        DecoderConfig c = new DecoderConfig("qwen2", 151936, 16, 32, 2, 4, 2, 1e-6, 1_000_000.0, 512, true, true,
                151643, 151645);
        HfCheckpoint.save(model, c, new DecoderInit(0.5, false).tensors(c, 7));
        return model;
    }

    @Test
    void chatRendersTheConversationAndAnswersAsTheAssistant() throws Exception {
        Path model = tinyQwenChatModel(dir.resolve("qwen-tiny"));
        JsonNode r = Stories260kTest.parse(Stories260kTest.capture("generate", "--model", model.toString(), "--chat",
                "--system", "Be brief.", "--prompt", "2+2?", "--max-new-tokens", "3", "--temperature", "0", "--json"));
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n", r.get("prompt").asText());
        assertEquals(20, r.get("prompt_token_ids").size(), r.toString());
        assertTrue(r.get("token_ids").size() >= 1 && r.get("token_ids").size() <= 3, r.toString());
        assertTrue(r.get("peak_resident_mb").asLong() > 100, "the process's peak, native memory included: " + r);

        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.run("generate", "--model", model.toString(), "--system", "x", "--prompt", "hi");
        } finally {
            System.setErr(old);
        }
        assertEquals(2, code);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--system needs --chat"), err.toString());
    }
}
