package steer.judge;

import java.util.ArrayList;
import java.util.List;
import steer.model.LanguageModel;
import steer.model.SequenceScorer;

/**
 * A language model as TSO's evaluator: after the rubric prompt, the next-token logits of the score words
 * s = min..max, softmaxed over those words alone, give a distribution over scores; the expected score
 * Σ s·p(s) is the evaluator's rating (TSO §3.2, scale 2.0–10.0) and the argmax its single verdict.
 */
public final class RubricJudge {

    /**
     * One rating.
     *
     * @param prompt   the query
     * @param response the response to rate
     */
    public record Item(String prompt, String response) {
    }

    /**
     * A rating.
     *
     * @param expectedScore Σ s·p(s)
     * @param mostLikely    the score of highest probability (the lowest on ties)
     * @param scores        the scores min..max
     * @param probabilities p(s) for each score, summing to 1
     */
    public record Rating(double expectedScore, int mostLikely, int[] scores, double[] probabilities) {

        /** The rating from the logits of the score tokens, {@code logits[i]} for score {@code min + i}. */
        public static Rating of(int minScore, float[] logits) {
            double max = Double.NEGATIVE_INFINITY;
            for (float l : logits) {
                max = Math.max(max, l);
            }
            double[] p = new double[logits.length];
            double sum = 0;
            for (int i = 0; i < logits.length; i++) {
                p[i] = Math.exp(logits[i] - max);
                sum += p[i];
            }
            int[] scores = new int[logits.length];
            double expected = 0;
            int best = 0;
            for (int i = 0; i < logits.length; i++) {
                p[i] /= sum;
                scores[i] = minScore + i;
                expected += scores[i] * p[i];
                if (p[i] > p[best]) {
                    best = i;
                }
            }
            return new Rating(expected, scores[best], scores, p);
        }
    }

    private final RubricTemplate template;

    /** A judge that prompts with {@code template}. */
    public RubricJudge(RubricTemplate template) {
        this.template = template;
    }

    /** The template. */
    public RubricTemplate template() {
        return template;
    }

    /**
     * Rates each item in one forward pass.
     *
     * @throws JudgeTemplateException if a score word is not a single token of the model
     */
    public List<Rating> rate(LanguageModel model, List<Item> items) {
        int[] scoreTokens = new int[template.maxScore() - template.minScore() + 1];
        for (int i = 0; i < scoreTokens.length; i++) {
            scoreTokens[i] = AnswerTokens.of(model, template.id(), Integer.toString(template.minScore() + i));
        }
        List<int[]> prompts = new ArrayList<>(items.size());
        for (Item item : items) {
            prompts.add(model.tokenizer().encode(template.prompt().text(item.prompt(), item.response())));
        }
        float[][] logits = SequenceScorer.nextTokenLogits(model.decoder(), prompts);
        List<Rating> out = new ArrayList<>(items.size());
        for (float[] row : logits) {
            float[] picked = new float[scoreTokens.length];
            for (int i = 0; i < scoreTokens.length; i++) {
                picked[i] = row[scoreTokens[i]];
            }
            out.add(Rating.of(template.minScore(), picked));
        }
        return out;
    }

    /** The rubric prompt's length in tokens, to check it against the model's context before rating. */
    public int promptTokens(LanguageModel model, Item item) {
        return model.tokenizer().encode(template.prompt().text(item.prompt(), item.response())).length;
    }
}
