package steer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.tokenizer.ChatTemplate;
import steer.tokenizer.Tokenizer;

/** Chat completion on a random-weight Qwen2-architecture model with the real Qwen tokenizer and chat template. */
class ChatCompletionTest {

    private static final Path QWEN = Path.of(System.getProperty("steer.qwen.tokenizer",
            "../../shared/models/qwen3-tokenizer"));

    @TempDir
    Path dir;

    private Path model(boolean withChatTemplate) throws IOException {
        Path m = dir.resolve(withChatTemplate ? "qwen-chat" : "qwen-plain");
        Files.createDirectories(m);
        Files.copy(QWEN.resolve(Tokenizer.FILE_NAME), m.resolve(Tokenizer.FILE_NAME));
        if (withChatTemplate) {
            Files.copy(QWEN.resolve(ChatTemplate.CONFIG_FILE), m.resolve(ChatTemplate.CONFIG_FILE));
        }
        DecoderConfig c = new DecoderConfig("qwen2", 151936, 16, 32, 2, 4, 2, 1e-6, 1_000_000.0, 512, true, true,
                151643, 151645);
        HfCheckpoint.save(m, c, new DecoderInit(0.5, false).tensors(c, 7));
        return m;
    }

    @Test
    void theResponseStartsWhereTheAssistantTurnDoes() throws IOException {
        try (LanguageModel lm = LanguageModel.load(model(true))) {
            List<ChatTemplate.Message> messages = List.of(ChatTemplate.Message.system("Be brief."),
                    ChatTemplate.Message.user("2+2?"));
            TextCompletion c = lm.completeChat(List.of(messages), new SamplingParams(4, 0, 1, 0, 0), List.of()).get(0);
            // <|im_start|>system\\nBe brief.<|im_end|>\\n<|im_start|>user\\n2+2?<|im_end|>\\n<|im_start|>assistant\\n:
            // <|im_start|> 151644, "system" 8948, "\\n" 198, "Be" 3430, " brief" 9814, "." 13, <|im_end|> 151645,
            // "user" 872, "2" 17, "+" 10, "?" 30, "assistant" 77091
            int[] expected = {151644, 8948, 198, 3430, 9814, 13, 151645, 198, 151644, 872, 198, 17, 10, 17, 30, 151645,
                    198, 151644, 77091, 198};
            assertArrayEquals(expected, c.promptIds());
            assertTrue(c.tokenIds().length >= 1 && c.tokenIds().length <= 4);
            for (int id : c.tokenIds()) {
                assertTrue(id < lm.tokenizer().vocabSize(), "no id beyond the tokenizer: " + id);
            }
            // the same ids as rendering and encoding by hand
            String rendered = lm.tokenizer().chatTemplate().orElseThrow().render(messages, true);
            assertArrayEquals(lm.tokenizer().encodeWithoutSpecialTokens(rendered), c.promptIds());
            assertEquals(List.of(151645), lm.decoder().config().eosTokenIds(), "<|im_end|> ends a response");
        }
    }

    @Test
    void aModelWithoutAChatTemplateIsAClearError() throws IOException {
        try (LanguageModel lm = LanguageModel.load(model(false))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> lm.completeChat(
                    List.of(List.of(ChatTemplate.Message.user("hi"))), new SamplingParams(2, 0, 1, 0, 0), List.of()));
            assertTrue(e.getMessage().contains("chat_template") && e.getMessage().contains("tokenizer_config.json"),
                    e.getMessage());
        }
    }
}
