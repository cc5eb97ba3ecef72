package steer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.QwenHalfBillionCheckpoint;
import steer.checkpoint.SafetensorsReader;
import steer.tokenizer.ChatTemplate;
import steer.tokenizer.ChatTemplate.Message;

/**
 * A checkpoint of Qwen2.5-0.5B-Instruct's exact shape, stored as a real one is (BF16 safetensors, the published
 * config, the real tokenizer and chat template): it loads, its conversations render to the token ids the
 * template's rules give (written down here from {@code tokenizer.json}, not computed by this code), a sampled
 * response ends at {@code <|im_end|>}, and the log-probs generation reports are those scoring computes.
 */
class QwenHalfBillionShapeTest {

    @TempDir
    static Path dir;
    private static LanguageModel model;

    @BeforeAll
    static void write() {
        model = LanguageModel.load(QwenHalfBillionCheckpoint.write(dir.resolve("qwen2.5-0.5b-shape"), 11));
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @Test
    void theCheckpointIsBf16OfTheRealShapeAndLoadsAsItsRoundedValues() throws IOException {
        Path weights = dir.resolve("qwen2.5-0.5b-shape/model.safetensors");
        long bytes = Files.size(weights);
        // 494,032,768 parameters (the published count: the embedding is tied) at 2 bytes, plus the header
        assertEquals(494_032_768L, model.parameterCount());
        assertTrue(bytes > 2 * 494_032_768L && bytes < 2 * 494_032_768L + 200_000, "BF16 on disk: " + bytes);
        assertEquals("BF16", SafetensorsReader.readHeader(weights).tensors().get("model.embed_tokens.weight").dtype());
        // read back widened to float32: BF16 values, so the low 16 bits of every float are zero
        float[] k = SafetensorsReader.read(weights, List.of("model.layers.0.self_attn.k_proj.weight"))
                .get("model.layers.0.self_attn.k_proj.weight").data();
        assertEquals(128 * 896, k.length);
        for (float v : k) {
            assertEquals(0, Float.floatToRawIntBits(v) & 0xFFFF, "a BF16 value: " + v);
        }
        assertEquals(24, model.decoder().config().numLayers());
        assertEquals(64, model.decoder().config().headDim());
        assertEquals(List.of(151645), model.decoder().config().eosTokenIds());
    }

    @Test
    void fiveConversationsRenderToTheTemplatesTokenIds() {
        // ids from tokenizer.json: <|im_start|> 151644, <|im_end|> 151645, <think> 151667, </think> 151668,
        // "system" 8948, "user" 872, "assistant" 77091, "\n" 198, "\n\n" 271, "You" 2610, " are" 525,
        // " helpful" 10950, "." 13, "Hi" 13048, "What" 3838, " is" 374, " the" 279, " capital" 6722, " of" 315,
        // " France" 9625, "?" 30, "Paris" 59604, "Thanks" 12658, "Hello" 9707, " world" 1879, "!" 0, "No" 2753
        int[] system = {151644, 8948, 198, 2610, 525, 10950, 13, 151645, 198};
        int[] userHi = {151644, 872, 198, 13048, 151645, 198};
        int[] generationPrompt = {151644, 77091, 198};
        int[] userCapital = {151644, 872, 198, 3838, 374, 279, 6722, 315, 9625, 30, 151645, 198};
        Message sys = Message.system("You are helpful.");

        // 1. a system prompt and a question, with the generation prompt
        expect(concat(system, userHi, generationPrompt), List.of(sys, Message.user("Hi")), true);
        // 2. several turns: the assistant turn before the last question is written plainly
        expect(concat(userCapital, new int[] {151644, 77091, 198, 59604, 13, 151645, 198},
                        new int[] {151644, 872, 198, 12658, 151645, 198}, generationPrompt),
                List.of(Message.user("What is the capital of France?"), Message.assistant("Paris."),
                        Message.user("Thanks")), true);
        // 3. an assistant turn after the last question, without a generation prompt: it gets an empty think block
        expect(concat(userHi, new int[] {151644, 77091, 198, 151667, 271, 151668, 271, 9707, 1879, 0, 151645, 198}),
                List.of(Message.user("Hi"), Message.assistant("Hello world!")), false);
        // 4. system, question, answer, question, generation prompt
        expect(concat(system, userHi, new int[] {151644, 77091, 198, 9707, 0, 151645, 198}, userCapital,
                generationPrompt), List.of(sys, Message.user("Hi"), Message.assistant("Hello!"),
                Message.user("What is the capital of France?")), true);
        // 5. an earlier answer's reasoning is dropped: only the text after </think> stays
        expect(concat(userHi, new int[] {151644, 77091, 198, 9707, 0, 151645, 198},
                        new int[] {151644, 872, 198, 2753, 151645, 198}, generationPrompt),
                List.of(Message.user("Hi"), Message.assistant("<think>\nhmm\n</think>\n\nHello!"),
                        Message.user("No")), true);
    }

    private static void expect(int[] ids, List<Message> messages, boolean generationPrompt) {
        ChatTemplate chat = model.tokenizer().chatTemplate().orElseThrow();
        String text = chat.render(messages, generationPrompt);
        assertArrayEquals(ids, model.tokenizer().encodeWithoutSpecialTokens(text), text);
    }

    private static int[] concat(int[]... parts) {
        return java.util.Arrays.stream(parts).flatMapToInt(java.util.Arrays::stream).toArray();
    }

    @Test
    void aSampledResponseEndsAtImEndAndItsLogProbsAreTheScoredOnes() {
        List<Message> conversation = List.of(Message.system("You are helpful."), Message.user("Hi"));
        // <|im_end|>'s logit leads the others' by about 12.6 (measured: p = 0.74 at temperature 1); at 1.15 the lead
        // is about 11, so each step ends the turn with p ≈ 0.27 and the seeded response runs a few tokens first
        TextCompletion c = model.completeChat(List.of(conversation), new SamplingParams(16, 1.15, 1.0, 0, 5), List.of())
                .get(0);
        float[] first = SequenceScorer.nextTokenLogits(model.decoder(), List.of(c.promptIds()))[0];
        double max = Double.NEGATIVE_INFINITY;
        for (float v : first) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : first) {
            sum += Math.exp(v - max);
        }
        double pEnd = Math.exp(first[QwenHalfBillionCheckpoint.IM_END] - max) / sum;
        assertEquals(GeneratedSequence.FinishReason.STOP_TOKEN, c.finishReason(), "ended by <|im_end|>: "
                + java.util.Arrays.toString(c.tokenIds()) + "; p(<|im_end|>) at the first step " + pEnd
                + ", its logit " + first[QwenHalfBillionCheckpoint.IM_END] + ", max " + max + ", logit[0] " + first[0]);
        int n = c.tokenIds().length;
        assertTrue(n >= 2 && n < 16, "a few tokens, then the end of the turn: " + java.util.Arrays.toString(c.tokenIds())
                + "; p(<|im_end|>) at the first step at temperature 1: " + pEnd + ", its logit "
                + first[QwenHalfBillionCheckpoint.IM_END] + ", max " + max + ", logit[0] " + first[0]);
        assertEquals(QwenHalfBillionCheckpoint.IM_END, c.tokenIds()[n - 1], "the last id is <|im_end|>");
        for (int i = 0; i < n - 1; i++) {
            assertTrue(c.tokenIds()[i] != QwenHalfBillionCheckpoint.IM_END && c.tokenIds()[i] < 151669,
                    "no end before the last, no id beyond the tokenizer: " + c.tokenIds()[i]);
        }
        assertTrue(!c.text().contains("<|im_end|>"), "the end of turn is not part of the text: " + c.text());
        // the full-sequence scorer (response positions only, chunked) gives the log-probs generation reported
        // token by token from its KV cache
        ResponseLogProbs scored = SequenceScorer.scoreToJava(model.decoder(), List.of(c.promptIds()),
                List.of(c.tokenIds())).get(0);
        assertEquals(n, scored.perToken().length);
        double stepwise = 0, scoredSum = 0;
        for (int i = 0; i < n; i++) {
            assertEquals(c.logProbs()[i], scored.perToken()[i], 1e-3, "token " + i);
            stepwise += c.logProbs()[i];
            scoredSum += scored.perToken()[i];
        }
        assertEquals(scoredSum, scored.sum(), 1e-9, "the scorer's sum is its per-token log-probs'");
        // each token may differ by up to 1e-3 (float32 over different matmul shapes: a one-token step against the
        // whole sequence), so their sum by up to n times that: a CI run gave 1.05e-3 over its tokens
        assertEquals(stepwise, scored.sum(), n * 1e-3);
    }
}
