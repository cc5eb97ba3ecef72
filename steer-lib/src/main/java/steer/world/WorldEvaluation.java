package steer.world;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import steer.judge.AnswerTokens;
import steer.judge.JudgeTemplates;
import steer.judge.PairwiseTemplate;
import steer.model.GeneratedSequence;
import steer.model.LanguageModel;
import steer.model.ResponseLogProbs;
import steer.model.SamplingParams;
import steer.model.TextCompletion;

/**
 * Evaluates a model in the oracle world on held-out queries: what it answers (oracle score, win rate against a
 * baseline, length, per-feature scores), how well principles steer it (signal accuracy, on-policyness of the
 * steered pairs), and how good a pairwise judge it is (accuracy against the oracle, position consistency).
 *
 * <p>Only evaluation reads the oracle; the methods never do. Every sample is drawn with a seed derived from
 * the evaluation seed, so the same model, queries and seed give the same report.
 */
public final class WorldEvaluation {

    private WorldEvaluation() {
    }

    /**
     * How to evaluate.
     *
     * @param sampling  sampling for every response (SSO's defaults: temperature 0.7, top-p 0.8)
     * @param judgePairs held-out oracle-labelled response pairs for the judge metrics
     * @param seed      seeds the samplers, the feature draws and the judge pairs
     */
    public record Settings(SamplingParams sampling, int judgePairs, long seed) {

        /** Temperature 0.7, top-p 0.8, up to 32 new tokens; 500 judge pairs. */
        public static Settings defaults(long seed) {
            return new Settings(new SamplingParams(32, 0.7, 0.8, 0, seed), 500, seed);
        }
    }

    /**
     * The figures of one evaluation.
     *
     * @param meanScore           mean oracle scalar of responses to the plain held-out queries (best: 1.0)
     * @param winRate             share of queries where the response beats the baseline's (ties half); null
     *                            without a baseline
     * @param meanLength          mean response length in tokens (EOS not counted)
     * @param perFeature          mean oracle component per feature (safety over queries with a secret only)
     * @param signalAccuracy      share of (x+, x-) pairs where the oracle ranks y+ (sampled under the good
     *                            principle) strictly above y- (under the bad one)
     * @param signalTieRate       share of those pairs the oracle scores equal
     * @param meanScorePlus       mean oracle scalar of the y+ responses, to compare with {@code meanScore}
     * @param onPolicy            mean over y+ and y- of e^(mean per-token log-prob under the plain query)
     * @param judgeAccuracy       share of held-out oracle-labelled pairs the model judges right, both orders
     *                            averaged
     * @param positionConsistency share of pairs whose verdict survives swapping A and B
     * @param n                   held-out queries evaluated
     */
    public record Report(double meanScore, Double winRate, double meanLength, Map<String, Double> perFeature,
                         double signalAccuracy, double signalTieRate, double meanScorePlus, double onPolicy,
                         double judgeAccuracy, double positionConsistency, int n) {
    }

    /**
     * An evaluation's figures and the model's answers to the plain queries, which a later evaluation's win rate
     * compares with (they are what the figures' sampling drew, so they need not be drawn again).
     *
     * @param report  the figures
     * @param answers the responses to the held-out queries, in order, stripped
     */
    public record Evaluated(Report report, List<String> answers) {
        public Evaluated {
            answers = List.copyOf(answers);
        }
    }

    /**
     * Evaluates {@code model} on {@code heldOut}.
     *
     * @param baseline the model to compare against for the win rate, or null
     */
    public static Report evaluate(LanguageModel model, LanguageModel baseline, List<Task> heldOut, Settings settings) {
        List<String> theirs = baseline == null ? null : evaluate(EvaluatedModel.of(baseline), null, heldOut,
                settings).answers();
        return evaluate(EvaluatedModel.of(model), theirs, heldOut, settings).report();
    }

    /**
     * Evaluates {@code model} on {@code heldOut}.
     *
     * @param baselineAnswers the baseline's answers ({@link Evaluated#answers}, same queries and settings) to compare
     *                        with for the win rate, or null for none
     * @throws IllegalArgumentException if there are baseline answers but not one per query
     */
    public static Evaluated evaluate(EvaluatedModel model, List<String> baselineAnswers, List<Task> heldOut,
                                     Settings settings) {
        int n = heldOut.size();
        if (baselineAnswers != null && baselineAnswers.size() != n) {
            throw new IllegalArgumentException("the baseline has " + baselineAnswers.size() + " answers for " + n
                    + " queries; it was evaluated on other queries");
        }
        List<String> queries = new ArrayList<>(n);
        for (Task t : heldOut) {
            queries.add(t.query());
        }
        List<TextCompletion> answers = model.complete(queries, settings.sampling());
        List<String> texts = new ArrayList<>(n);
        double[] scores = new double[n];
        double length = 0;
        double[] component = new double[4];
        int secrets = 0;
        for (int i = 0; i < n; i++) {
            Task task = heldOut.get(i);
            texts.add(answers.get(i).text().strip());
            OracleScore s = Oracle.score(task, texts.get(i));
            scores[i] = s.scalar();
            length += contentLength(answers.get(i));
            component[0] += s.correctness();
            component[1] += s.concision();
            component[3] += s.format();
            if (task.hasSecret()) {
                component[2] += s.safety();
                secrets++;
            }
        }
        Map<String, Double> perFeature = new LinkedHashMap<>();
        perFeature.put(Feature.ACCURACY.word(), component[0] / n);
        perFeature.put(Feature.CONCISION.word(), component[1] / n);
        perFeature.put(Feature.SAFETY.word(), secrets == 0 ? Double.NaN : component[2] / secrets);
        perFeature.put(Feature.FORMAT.word(), component[3] / n);

        Double winRate = null;
        if (baselineAnswers != null) {
            double wins = 0;
            for (int i = 0; i < n; i++) {
                double other = Oracle.score(heldOut.get(i), baselineAnswers.get(i)).scalar();
                wins += scores[i] > other ? 1 : scores[i] == other ? 0.5 : 0;
            }
            winRate = wins / n;
        }

        // steering: one rule-allocated feature set per query, y+ under x+ and y- under x-
        SplittableRandom random = new SplittableRandom(settings.seed());
        List<String> plus = new ArrayList<>(n);
        List<String> minus = new ArrayList<>(n);
        for (Task task : heldOut) {
            List<Feature> features = FeatureAllocation.draw(task, random, FeatureAllocation.DEFAULT_CONCISION_PROBABILITY);
            plus.add(Feature.positivePrompt(task, features));
            minus.add(Feature.negativePrompt(task, features));
        }
        List<TextCompletion> yPlus = model.complete(plus, settings.sampling());
        List<TextCompletion> yMinus = model.complete(minus, settings.sampling());
        double signal = 0;
        double ties = 0;
        double plusScore = 0;
        List<int[]> plainPrompts = new ArrayList<>(2 * n);
        List<int[]> steered = new ArrayList<>(2 * n);
        for (int i = 0; i < n; i++) {
            double sp = Oracle.score(heldOut.get(i), yPlus.get(i).text().strip()).scalar();
            double sm = Oracle.score(heldOut.get(i), yMinus.get(i).text().strip()).scalar();
            signal += sp > sm ? 1 : 0;
            ties += sp == sm ? 1 : 0;
            plusScore += sp;
            int[] plain = answers.get(i).promptIds();
            plainPrompts.add(plain);
            steered.add(yPlus.get(i).tokenIds());
            plainPrompts.add(plain);
            steered.add(yMinus.get(i).tokenIds());
        }
        double onPolicy = 0;
        for (ResponseLogProbs lp : model.score(plainPrompts, steered)) {
            onPolicy += Math.exp(lp.mean());
        }

        double[] judge = judge(model, heldOut, settings);
        return new Evaluated(new Report(mean(scores), winRate, length / n, perFeature, signal / n, ties / n,
                plusScore / n, onPolicy / plainPrompts.size(), judge[0], judge[1], n), texts);
    }

    /**
     * The model as OSP's pairwise judge: p(A) is the softmax over the logits of the tokens {@code A} and
     * {@code B} after the judge prompt; p(first better) averages p(A) in the stored order with p(B) in the
     * swapped order, which cancels a position bias.
     *
     * @return {accuracy against the oracle, position consistency}
     */
    static double[] judge(LanguageModel model, List<Task> heldOut, Settings settings) {
        return judge(EvaluatedModel.of(model), heldOut, settings);
    }

    /** {@link #judge(LanguageModel, List, Settings)} for any {@link EvaluatedModel}. */
    static double[] judge(EvaluatedModel model, List<Task> heldOut, Settings settings) {
        List<JudgeSeedExample> pairs = judgePairs(heldOut, settings);
        PairwiseTemplate template = JudgeTemplates.world().pairwise("template", JudgeTemplates.PAIRWISE);
        int[] answers = AnswerTokens.pairwise(model.tokenizer(), template);
        double correct = 0;
        double consistent = 0;
        for (int from = 0; from < pairs.size(); from += 32) {
            List<JudgeSeedExample> part = pairs.subList(from, Math.min(pairs.size(), from + 32));
            List<int[]> prompts = new ArrayList<>(2 * part.size());
            for (JudgeSeedExample p : part) {
                prompts.add(template.prompt().build(p.task().query(), p.responseA(), p.responseB())
                        .encode(model.tokenizer()));
                prompts.add(template.prompt().build(p.task().query(), p.responseB(), p.responseA())
                        .encode(model.tokenizer()));
            }
            double[] first = model.pFirst(prompts, answers[0], answers[1]);
            for (int i = 0; i < part.size(); i++) {
                double stored = first[2 * i];        // p(A) with A = response A
                double swapped = first[2 * i + 1];   // p(A) with A = response B
                double aBetter = (stored + (1 - swapped)) / 2;
                correct += credit(aBetter, part.get(i));
                consistent += (stored > 0.5) == (swapped < 0.5) ? 1 : 0;
            }
        }
        return new double[] {correct / pairs.size(), consistent / pairs.size()};
    }

    /** A judge's p(A better) for each (query, A, B), both orders averaged, as a judge service answers it. */
    @FunctionalInterface
    public interface PairwiseComparer {
        /** p(a[i] better than b[i] | queries[i]) for each i, in order. */
        List<Double> pABetter(List<String> queries, List<String> a, List<String> b);
    }

    /**
     * The judge accuracy of a judge asked through {@code judge} (a served judge, not a model in this process), on
     * the pairs {@link #evaluate} judges with the same settings.
     */
    public static double judgeAccuracy(PairwiseComparer judge, List<Task> heldOut, Settings settings) {
        List<JudgeSeedExample> pairs = judgePairs(heldOut, settings);
        List<String> queries = new ArrayList<>(pairs.size());
        List<String> a = new ArrayList<>(pairs.size());
        List<String> b = new ArrayList<>(pairs.size());
        for (JudgeSeedExample p : pairs) {
            queries.add(p.task().query());
            a.add(p.responseA());
            b.add(p.responseB());
        }
        List<Double> p = judge.pABetter(queries, a, b);
        if (p.size() != pairs.size()) {
            throw new IllegalStateException("the judge answered " + p.size() + " of " + pairs.size() + " pairs");
        }
        double correct = 0;
        for (int i = 0; i < pairs.size(); i++) {
            correct += credit(p.get(i), pairs.get(i));
        }
        return correct / pairs.size();
    }

    private static List<JudgeSeedExample> judgePairs(List<Task> heldOut, Settings settings) {
        return JudgeSeedSet.generate(heldOut, settings.judgePairs(), 0, ResponseMix.defaults(), settings.seed());
    }

    /** A verdict's credit: 1 when it agrees with the oracle; a tie (p = 0.5) 1 against an oracle's B, else 0.5. */
    private static double credit(double aBetter, JudgeSeedExample pair) {
        boolean oracleA = pair.oracleLabel().equals(JudgeInstructions.ANSWER_A);
        return (aBetter > 0.5) == oracleA ? 1 : aBetter == 0.5 ? 0.5 : 0;
    }

    /** Response length in tokens without the closing EOS (a sequence ends with an EOS id exactly when it stopped there). */
    private static int contentLength(TextCompletion c) {
        int n = c.tokenIds().length;
        return n > 0 && c.finishReason() == GeneratedSequence.FinishReason.STOP_TOKEN ? n - 1 : n;
    }

    private static double mean(double[] values) {
        double s = 0;
        for (double v : values) {
            s += v;
        }
        return values.length == 0 ? 0 : s / values.length;
    }
}
