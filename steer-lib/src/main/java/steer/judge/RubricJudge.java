package steer.judge;

import java.util.ArrayList;
import java.util.List;
import steer.model.LanguageModel;
import steer.model.ResponseLogProbs;
import steer.model.SequenceScorer;

/**
 * A language model as TSO's evaluator: after the rubric prompt, the next-token logits of the score words
 * s = min..max, softmaxed over those words alone, give a distribution over scores; the expected score
 * Σ s·p(s) is the evaluator's rating (TSO §3.2, scale 2.0–10.0) and the argmax its single verdict.
 *
 * <p>Where a score is several tokens of the model (Qwen's BPE splits "10" into "1", "0"), each score s is scored
 * by the log-probability of its whole continuation c_s after the prompt, log p(c_s | x) = Σ_t log p(c_s,t | x,
 * c_s,&lt;t), and p(s) = softmax over s of those sums. With one token per score this is the same softmax as the
 * logits path (the log-softmax's normaliser cancels), which stays the path used then, one forward pass per item.
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
            double[] d = new double[logits.length];
            for (int i = 0; i < logits.length; i++) {
                d[i] = logits[i];
            }
            return of(minScore, d);
        }

        /**
         * The rating from unnormalised log-scores, {@code logits[i]} for score {@code min + i}: next-token logits,
         * or the summed log-probs of each score's continuation.
         */
        public static Rating of(int minScore, double[] logits) {
            double max = Double.NEGATIVE_INFINITY;
            for (double l : logits) {
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
     * @throws JudgeTemplateException if a score does not follow the prompt at a token boundary
     */
    public List<Rating> rate(LanguageModel model, List<Item> items) {
        AnswerTokens.Continuation[] scores = AnswerTokens.rubric(model.tokenizer(), template);
        List<int[]> prompts = new ArrayList<>(items.size());
        for (Item item : items) {
            prompts.add(encode(model, item));
        }
        for (AnswerTokens.Continuation c : scores) {
            if (!c.single()) {
                return rateContinuations(model, prompts, scores);
            }
        }
        int[] scoreTokens = new int[scores.length];
        for (int i = 0; i < scores.length; i++) {
            scoreTokens[i] = scores[i].ids()[0];
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

    /** Rows of prompt + continuation scored in one forward pass on the multi-token path. */
    private static final int ROWS_PER_PASS = 16;

    /** The multi-token path: every item's prompt with every score's continuation, scored by summed log-probs. */
    private List<Rating> rateContinuations(LanguageModel model, List<int[]> prompts, AnswerTokens.Continuation[] scores) {
        List<int[]> rowPrompts = new ArrayList<>(prompts.size() * scores.length);
        List<int[]> rowScores = new ArrayList<>(prompts.size() * scores.length);
        for (int[] p : prompts) {
            for (AnswerTokens.Continuation c : scores) {
                rowPrompts.add(p);
                rowScores.add(c.ids());
            }
        }
        double[] sums = new double[rowPrompts.size()];
        for (int from = 0; from < sums.length; from += ROWS_PER_PASS) {
            int to = Math.min(sums.length, from + ROWS_PER_PASS);
            List<ResponseLogProbs> scored = SequenceScorer.scoreToJava(model.decoder(), rowPrompts.subList(from, to),
                    rowScores.subList(from, to));
            for (int r = from; r < to; r++) {
                sums[r] = scored.get(r - from).sum();
            }
        }
        List<Rating> out = new ArrayList<>(prompts.size());
        for (int i = 0; i < prompts.size(); i++) {
            out.add(Rating.of(template.minScore(), java.util.Arrays.copyOfRange(sums, i * scores.length, (i + 1) * scores.length)));
        }
        return out;
    }

    /** The rubric prompt's token ids, through the model's chat template where it has one. */
    public int[] encode(LanguageModel model, Item item) {
        return template.prompt().build(item.prompt(), item.response()).encode(model.tokenizer());
    }

    /**
     * The rubric prompt's length in tokens with the longest score continuation, to check it against the model's
     * context before rating.
     */
    public int promptTokens(LanguageModel model, Item item) {
        int longest = 1;
        for (AnswerTokens.Continuation c : AnswerTokens.rubric(model.tokenizer(), template)) {
            longest = Math.max(longest, c.ids().length);
        }
        // the single-token path reads the logits after the prompt; the multi-token one feeds every score token
        return encode(model, item).length + (longest == 1 ? 0 : longest);
    }
}
