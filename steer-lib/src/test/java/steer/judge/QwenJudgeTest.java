package steer.judge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.model.DecoderInit;
import steer.model.LanguageModel;
import steer.model.SequenceScorer;
import steer.tokenizer.ChatTemplate;
import steer.tokenizer.Tokenizer;

/**
 * The judge on a Qwen-shaped checkpoint with the shared real Qwen3 tokenizer: a random-weight Qwen2 decoder
 * (width 16, 2 layers) with the real vocabulary (151,936 embedding rows, as Qwen2.5 checkpoints have), so every
 * token id is the real one and only the weights are made up.
 */
class QwenJudgeTest {

    static final Path QWEN = Path.of(System.getProperty("steer.qwen.tokenizer", "../../shared/models/qwen3-tokenizer"));

    @TempDir
    static Path dir;

    static Path model;

    @BeforeAll
    static void writeModel() throws IOException {
        model = dir.resolve("qwen-tiny");
        Files.createDirectories(model);
        Files.copy(QWEN.resolve(Tokenizer.FILE_NAME), model.resolve(Tokenizer.FILE_NAME));
        Files.copy(QWEN.resolve(ChatTemplate.CONFIG_FILE), model.resolve(ChatTemplate.CONFIG_FILE));
        DecoderConfig c = new DecoderConfig("qwen2", 151936, 16, 32, 2, 4, 2, 1e-6, 1_000_000.0, 512, true, true,
                151643, 151645);
        HfCheckpoint.save(model, c, new DecoderInit(0.5, false).tensors(c, 7));
    }

    @Test
    void ospPromptIsTheChatTemplatesUserTurnThenResponseAndTheAnswersCarryTheLeadingSpace() {
        try (LanguageModel m = LanguageModel.load(model)) {
            PairwiseJudge judge = new PairwiseJudge(JudgeTemplates.builtIn().pairwise("template_id", JudgeTemplates.OSP));
            // <|im_start|> user \n, the instruction, <|im_end|> \n <|im_start|> assistant \n, "RESPONSE" (RESP ONSE);
            // ids from tokenizer.json: "Please" 5501, " act" 1160, …, "CONTEXT" 98365, ":" 25, " " 220, "2" 17,
            // "+" 10, "?\n\n" 1939, "RESP" 67783, "ONSE" 25223, " A" 362, " B" 425, "4" 19, "5" 20, "\n\n" 271,
            // "Which" 23085, " response" 2033, " is" 374, " better" 2664, "?" 30
            int[] expected = {151644, 872, 198, 5501, 1160, 438, 458, 67724, 11651, 13, 4457, 279, 2266, 323, 279, 1378,
                    14507, 3685, 11, 323, 5157, 279, 2033, 429, 374, 803, 10950, 323, 10745, 382, 98365, 25, 220, 17, 10, 17,
                    1939, 67783, 25223, 362, 25, 220, 19, 271, 67783, 25223, 425, 25, 220, 20, 271, 23085, 2033, 374, 2664,
                    30, 151645, 198, 151644, 77091, 198, 67783, 25223};
            assertArrayEquals(expected, judge.encode(m, "2+2?", "4", "5"));
            // after "RESPONSE" the answer is " A" (ĠA 362) / " B" (ĠB 425), not "A" (32) / "B" (33)
            assertArrayEquals(new int[] {362, 425}, AnswerTokens.pairwise(m.tokenizer(), judge.template()));

            List<PairwiseJudge.Verdict> v = judge.compare(m, List.of(new PairwiseJudge.Item("2+2?", "4", "5"),
                    new PairwiseJudge.Item("2+2?", "5", "4")));
            for (PairwiseJudge.Verdict x : v) {
                for (double p : new double[] {x.pABetter(), x.pAB(), x.pBA()}) {
                    assertTrue(p >= 0 && p <= 1, "p " + p);
                }
            }
            assertEquals(1.0, v.get(0).pABetter() + v.get(1).pABetter(), 1e-5, "swapping the responses mirrors p");
            // the logits are those of " A" and " B" after the prompt
            float[][] alone = SequenceScorer.nextTokenLogits(m.decoder(), List.of(expected));
            assertEquals(alone[0][362], v.get(0).ab().a(), 1e-4);
            assertEquals(alone[0][425], v.get(0).ab().b(), 1e-4);
        }
    }

    @Test
    void answersThatAreSeveralTokensAreRefusedNamingTemplateAnswerAndIds() throws IOException {
        Path file = dir.resolve("multi.json");
        Files.writeString(file, "{\"id\": \"verbose\", \"kind\": \"pairwise\", \"user\": \"{prompt} A: {response_a} B: "
                + "{response_b} Which is better?\", \"answer_prefix\": \"Answer:\", \"answers\": [\"Yes please\", \"No\"]}");
        PairwiseTemplate t = JudgeTemplates.load(List.of(file)).pairwise("template_id", "verbose");
        try (Tokenizer tokenizer = Tokenizer.load(QWEN)) {
            JudgeTemplateException e = assertThrows(JudgeTemplateException.class, () -> AnswerTokens.pairwise(tokenizer, t));
            // " Yes please" is ĠYes 7414, Ġplease 4486
            assertTrue(e.getMessage().contains("template 'verbose'") && e.getMessage().contains("'Yes please'")
                    && e.getMessage().contains("[7414, 4486]"), e.getMessage());
            assertTrue(JudgeTemplates.load(List.of(file)).unusable(tokenizer, "verbose").isPresent());
            assertTrue(JudgeTemplates.builtIn().unusable(tokenizer, JudgeTemplates.OSP).isEmpty());
        }
    }

    @Test
    void multiTokenScoresAreRatedByTheirContinuationsLogProbs() throws IOException {
        Path file = dir.resolve("rubric.json");
        Files.writeString(file, "{\"id\": \"quality\", \"kind\": \"rubric\", \"user\": \"Rate the answer {response} to "
                + "{prompt} from 8 to 10.\", \"answer_prefix\": \"Score:\", \"scores\": {\"min\": 8, \"max\": 10}}");
        RubricJudge judge = new RubricJudge(JudgeTemplates.load(List.of(file)).rubric("template_id", "quality"));
        try (LanguageModel m = LanguageModel.load(model)) {
            AnswerTokens.Continuation[] c = AnswerTokens.rubric(m.tokenizer(), judge.template());
            // after "Score:" the scores are " 8", " 9", " 10": "Ġ" 220 then the digits one by one ("1" 16, "0" 15)
            assertArrayEquals(new int[] {220, 23}, c[0].ids());
            assertArrayEquals(new int[] {220, 24}, c[1].ids());
            assertArrayEquals(new int[] {220, 16, 15}, c[2].ids());

            RubricJudge.Item item = new RubricJudge.Item("2+2?", "4");
            RubricJudge.Rating r = judge.rate(m, List.of(item)).get(0);
            // by hand: log p(c | x) = Σ_t log softmax(logits after x + c<t)[c_t], step by step from next-token logits
            int[] x = judge.encode(m, item);
            double[] lp = new double[3];
            for (int s = 0; s < 3; s++) {
                int[] prefix = x;
                for (int id : c[s].ids()) {
                    float[] logits = SequenceScorer.nextTokenLogits(m.decoder(), List.of(prefix))[0];
                    lp[s] += logits[id] - logSumExp(logits);
                    prefix = append(prefix, id);
                }
            }
            double z = logSumExp(new float[] {(float) lp[0], (float) lp[1], (float) lp[2]});
            double[] p = {Math.exp(lp[0] - z), Math.exp(lp[1] - z), Math.exp(lp[2] - z)};
            assertArrayEquals(new int[] {8, 9, 10}, r.scores());
            assertArrayEquals(p, r.probabilities(), 1e-4);
            assertEquals(8 * p[0] + 9 * p[1] + 10 * p[2], r.expectedScore(), 1e-3);
            assertEquals(judge.encode(m, item).length + 3, judge.promptTokens(m, item));
        }
    }

    private static int[] append(int[] ids, int id) {
        int[] out = java.util.Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = id;
        return out;
    }

    private static double logSumExp(float[] v) {
        double max = Double.NEGATIVE_INFINITY;
        for (float f : v) {
            max = Math.max(max, f);
        }
        double sum = 0;
        for (float f : v) {
            sum += Math.exp(f - max);
        }
        return max + Math.log(sum);
    }

    @Test
    void theWorldsTemplatesStayPlainTextOnAChatModel() {
        try (LanguageModel m = LanguageModel.load(model)) {
            PairwiseJudge world = new PairwiseJudge(JudgeTemplates.builtIn().pairwise("template_id", ""));
            List<Integer> ids = new ArrayList<>();
            for (int id : world.encode(m, "q", "a", "b")) {
                ids.add(id);
            }
            assertTrue(!ids.contains(151644), "no <|im_start|> in the world's plain prompt: " + ids);
        }
    }
}
