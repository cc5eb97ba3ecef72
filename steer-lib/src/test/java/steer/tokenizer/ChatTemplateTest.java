package steer.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Chat templates rendered with jinjava against the real Qwen3 tokenizer config (../shared/models/qwen3-tokenizer). */
class ChatTemplateTest {

    /** The shared real tokenizer: tokenizer.json and tokenizer_config.json as Qwen publishes them. */
    static final Path QWEN = Path.of(System.getProperty("steer.qwen.tokenizer", "../../shared/models/qwen3-tokenizer"));

    @TempDir
    Path dir;

    @Test
    void qwenSystemAndUserWithGenerationPromptRenderAsTheTemplateWritesThem() {
        ChatTemplate chat = ChatTemplate.load(QWEN).orElseThrow();
        String text = chat.render(List.of(ChatTemplate.Message.system("Be brief."), ChatTemplate.Message.user("Hi")), true);
        // the template: '<|im_start|>system\n' + system + '<|im_end|>\n', each user turn the same way, and with
        // add_generation_prompt '<|im_start|>assistant\n' (the empty think block only when enable_thinking is false)
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", text);

        try (Tokenizer tokenizer = Tokenizer.load(QWEN)) {
            assertTrue(tokenizer.chatTemplate().isPresent());
            // ids from tokenizer.json: <|im_start|> 151644, <|im_end|> 151645, "system" 8948, "user" 872,
            // "assistant" 77091, "\n" (Ċ) 198, "Be" 3430, " brief" (Ġbrief) 9814, "." 13, "Hi" 13048
            assertArrayEquals(new int[] {151644, 8948, 198, 3430, 9814, 13, 151645, 198, 151644, 872, 198, 13048, 151645, 198,
                    151644, 77091, 198}, tokenizer.encodeWithoutSpecialTokens(text));
        }
    }

    @Test
    void qwenConversationsFollowTheTemplatesRules() {
        ChatTemplate chat = ChatTemplate.load(QWEN).orElseThrow();
        // no system turn: none is added (Qwen3 has no default system prompt); no generation prompt: the text ends
        // after the last turn
        assertEquals("<|im_start|>user\nHi<|im_end|>\n", chat.render(List.of(ChatTemplate.Message.user("Hi")), false));
        // an assistant turn before the last user query keeps only the text after </think>; the last assistant
        // turn, after the last query, gets the (here empty) reasoning block
        assertEquals("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
                        + "<|im_start|>user\nAgain<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nSure.<|im_end|>\n",
                chat.render(List.of(ChatTemplate.Message.user("Hi"),
                        ChatTemplate.Message.assistant("<think>\nhmm\n</think>\n\nHello!"), ChatTemplate.Message.user("Again"),
                        ChatTemplate.Message.assistant("Sure.")), false));
    }

    @Test
    void specialTokensAndPythonStringMethodsReachTheTemplate() {
        ChatTemplate chat = ChatTemplate.of(dir.resolve("t.json"),
                "{{ bos_token }}{% for m in messages[::-1] %}{{ m.content.strip().upper() }}|{{ m.content.split(',')[-1] }}"
                        + "{% if m.content.startswith(' x') %}!{% endif %};{% endfor %}"
                        + "{% set ns = namespace(n=messages|length - 1) %}{{ ns.n }}{{ eos_token }}",
                Map.of("bos_token", "<s>", "eos_token", "</s>"));
        assertEquals("<s>Y|y;X,Z|z !;1</s>", chat.render(List.of(ChatTemplate.Message.user(" x,z "),
                ChatTemplate.Message.user("y")), false));
    }

    @Test
    void aConfigWithoutAChatTemplateIsPlainText() throws IOException {
        assertTrue(ChatTemplate.load(dir).isEmpty(), "no tokenizer_config.json");
        Files.writeString(dir.resolve(ChatTemplate.CONFIG_FILE), "{\"eos_token\": \"</s>\"}");
        assertTrue(ChatTemplate.load(dir).isEmpty(), "no chat_template");
    }

    @Test
    void aMalformedTemplateFailsNamingTheFile() throws IOException {
        Path config = dir.resolve(ChatTemplate.CONFIG_FILE);
        Files.writeString(config, "{\"chat_template\": \"{% for m in messages %}{{ m.content }\"}");
        TokenizerException e = assertThrows(TokenizerException.class, () -> ChatTemplate.load(dir));
        assertTrue(e.getMessage().contains(config.toString()) && e.getMessage().contains("does not render"), e.getMessage());

        Files.writeString(config, "{\"chat_template\": 7}");
        e = assertThrows(TokenizerException.class, () -> ChatTemplate.load(dir));
        assertTrue(e.getMessage().contains(config.toString()) && e.getMessage().contains("must be a string"), e.getMessage());

        Files.writeString(config, "{\"chat_template\": \"{{ raise_exception('roles must alternate') }}\"}");
        e = assertThrows(TokenizerException.class, () -> ChatTemplate.load(dir));
        assertTrue(e.getMessage().contains(config.toString()) && e.getMessage().contains("roles must alternate"), e.getMessage());
    }
}
