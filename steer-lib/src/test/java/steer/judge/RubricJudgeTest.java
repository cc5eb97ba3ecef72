package steer.judge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.model.LanguageModel;
import steer.model.SequenceScorer;
import steer.world.JudgeInstructions;
import steer.world.TinyWorldModel;

class RubricJudgeTest {

    @TempDir
    Path dir;

    @Test
    void ratingsWorkedByHand() {
        // equal logits: uniform over 2..10, expected (2 + ... + 10) / 9 = 54 / 9 = 6; the tie goes to the lowest
        RubricJudge.Rating uniform = RubricJudge.Rating.of(2, new float[9]);
        assertEquals(6.0, uniform.expectedScore(), 1e-12);
        assertEquals(2, uniform.mostLikely());
        assertArrayEquals(new int[] {2, 3, 4, 5, 6, 7, 8, 9, 10}, uniform.scores());
        // logit ln 3 on score 2, 0 on score 10, -1e4 elsewhere: p(2) = 3/4, p(10) = 1/4, expected 1.5 + 2.5 = 4
        float[] l = new float[9];
        java.util.Arrays.fill(l, -1e4f);
        l[0] = (float) Math.log(3);
        l[8] = 0;
        RubricJudge.Rating r = RubricJudge.Rating.of(2, l);
        assertEquals(0.75, r.probabilities()[0], 1e-7);
        assertEquals(0.25, r.probabilities()[8], 1e-7);
        assertEquals(4.0, r.expectedScore(), 1e-6);
        assertEquals(2, r.mostLikely());
    }

    @Test
    void aModelsRatingIsTheSoftmaxOverItsScoreTokens() {
        try (LanguageModel model = LanguageModel.load(TinyWorldModel.write(dir.resolve("m"), 4))) {
            RubricJudge judge = new RubricJudge(JudgeTemplates.world().rubric("template_id", ""));
            RubricJudge.Rating r = judge.rate(model, List.of(new RubricJudge.Item("query : add 3 4", "answer : 7 ."))).get(0);
            float[] next = SequenceScorer.nextTokenLogits(model.decoder(), List.of(
                    model.tokenizer().encode(JudgeInstructions.rubric("query : add 3 4", "answer : 7 ."))))[0];
            double[] e = new double[9];
            double sum = 0;
            for (int s = 2; s <= 10; s++) {
                e[s - 2] = Math.exp(next[model.tokenizer().encodeWithoutSpecialTokens(Integer.toString(s))[0]]);
                sum += e[s - 2];
            }
            double expected = 0;
            for (int s = 2; s <= 10; s++) {
                assertEquals(e[s - 2] / sum, r.probabilities()[s - 2], 1e-6);
                expected += s * e[s - 2] / sum;
            }
            assertEquals(expected, r.expectedScore(), 1e-5);
        }
    }
}
