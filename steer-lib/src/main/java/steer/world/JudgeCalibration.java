package steer.world;

import java.util.ArrayList;
import java.util.List;
import org.apache.commons.math3.optim.MaxEval;
import org.apache.commons.math3.optim.nonlinear.scalar.GoalType;
import org.apache.commons.math3.optim.univariate.BrentOptimizer;
import org.apache.commons.math3.optim.univariate.SearchInterval;
import org.apache.commons.math3.optim.univariate.UnivariateObjectiveFunction;
import org.apache.commons.math3.optim.univariate.UnivariatePointValuePair;
import steer.judge.JudgeTemplates;
import steer.judge.PairwiseJudge;
import steer.judge.PairwiseTemplate;
import steer.model.LanguageModel;

/**
 * How well a pairwise judge's probabilities mean what they say, on the oracle world's held-out labelled pairs:
 * accuracy against the oracle, position consistency, expected calibration error (ECE), Brier score, log loss and
 * the reliability diagram's bins; and temperature scaling (Guo et al. 2017) fitted on the labelled seed set —
 * never on the held-out pairs it is measured on.
 *
 * <p>The judge's probability for a pair is p(A better) = (σ(d_AB) + 1 − σ(d_BA)) / 2, where d is the difference of
 * the answer tokens' logits in one order of presentation (judge-svc's Compare). Temperature scaling divides every d
 * by T before the sigmoids, with T &gt; 0 chosen to minimise the log loss on the fitting pairs' labels (the seed
 * set's, 15% of them flipped as a careless annotator would; what a team without the oracle has). T &gt; 1 softens
 * an over-confident judge, T &lt; 1 sharpens an under-confident one; the order of pairs (and so the accuracy) does
 * not change, except where the two orders disagree.
 *
 * <p>ECE uses {@value #BINS} equal-width bins of p(A better): Σ_b (n_b / N)·|mean p in b − share of A-better in b|.
 */
public final class JudgeCalibration {

    /** Reliability bins. */
    public static final int BINS = 10;
    /** Held-out pairs by default, as {@code world eval} measures judge accuracy. */
    public static final int DEFAULT_PAIRS = 500;
    /** Seed pairs the temperature is fitted on by default. */
    public static final int DEFAULT_FIT_PAIRS = 1000;

    private JudgeCalibration() {
    }

    /**
     * One judged pair: the answer logits' difference in each order, and the label.
     *
     * @param dAB     ℓ_A − ℓ_B with response A shown first
     * @param dBA     ℓ_A − ℓ_B with response B shown first (its "A" names response B)
     * @param aBetter the label: response A is the better one
     */
    public record Judged(double dAB, double dBA, boolean aBetter) {

        /** p(A better) at temperature t, both orders averaged. */
        public double pABetter(double t) {
            return (sigmoid(dAB / t) + 1 - sigmoid(dBA / t)) / 2;
        }

        /** Whether the verdict survives swapping the responses (at any temperature). */
        public boolean consistent() {
            return (dAB > 0) == (dBA < 0);
        }
    }

    /**
     * One reliability bin.
     *
     * @param low        its lower edge
     * @param high       its upper edge
     * @param count      pairs whose p(A better) falls in it
     * @param meanP      their mean p(A better), NaN when empty
     * @param shareABetter the share of them where A is better, NaN when empty
     */
    public record Bin(double low, double high, int count, double meanP, double shareABetter) {
    }

    /**
     * The figures at one temperature.
     *
     * @param temperature         T
     * @param accuracy            share of pairs where p(A better) &gt; 1/2 agrees with the label (exact 1/2 counts half)
     * @param positionConsistency share of pairs whose verdict survives swapping A and B
     * @param ece                 expected calibration error over {@link #BINS} bins
     * @param brier               mean (p − y)²
     * @param logLoss             mean −[y·log p + (1 − y)·log(1 − p)]
     * @param bins                the reliability diagram
     */
    public record Figures(double temperature, double accuracy, double positionConsistency, double ece, double brier,
                          double logLoss, List<Bin> bins) {
    }

    /**
     * The figures of judged pairs at a temperature.
     *
     * @param pairs at least one
     * @param t     &gt; 0
     * @return the figures
     */
    public static Figures figures(List<Judged> pairs, double t) {
        if (pairs.isEmpty() || !(t > 0)) {
            throw new IllegalArgumentException("need pairs and a positive temperature, got " + pairs.size()
                    + " pairs and T = " + t);
        }
        int[] count = new int[BINS];
        double[] sumP = new double[BINS];
        double[] sumY = new double[BINS];
        double correct = 0;
        double consistent = 0;
        double brier = 0;
        double logLoss = 0;
        for (Judged j : pairs) {
            double p = j.pABetter(t);
            double y = j.aBetter() ? 1 : 0;
            correct += p == 0.5 ? 0.5 : (p > 0.5) == j.aBetter() ? 1 : 0;
            consistent += j.consistent() ? 1 : 0;
            brier += (p - y) * (p - y);
            double clipped = Math.min(1 - 1e-12, Math.max(1e-12, p));
            logLoss -= y * Math.log(clipped) + (1 - y) * Math.log(1 - clipped);
            int b = Math.min(BINS - 1, (int) (p * BINS));
            count[b]++;
            sumP[b] += p;
            sumY[b] += y;
        }
        int n = pairs.size();
        double ece = 0;
        List<Bin> bins = new ArrayList<>(BINS);
        for (int b = 0; b < BINS; b++) {
            double meanP = count[b] == 0 ? Double.NaN : sumP[b] / count[b];
            double share = count[b] == 0 ? Double.NaN : sumY[b] / count[b];
            if (count[b] > 0) {
                ece += (double) count[b] / n * Math.abs(meanP - share);
            }
            bins.add(new Bin((double) b / BINS, (double) (b + 1) / BINS, count[b], meanP, share));
        }
        return new Figures(t, correct / n, consistent / n, ece, brier / n, logLoss / n, List.copyOf(bins));
    }

    /**
     * The temperature that minimises the log loss of p(A better) on {@code pairs}, by Brent's method over
     * [0.05, 20] (commons-math3).
     *
     * @param pairs the fitting pairs, at least one
     * @return T
     */
    public static double fitTemperature(List<Judged> pairs) {
        if (pairs.isEmpty()) {
            throw new IllegalArgumentException("no pairs to fit a temperature on");
        }
        // search log T, so that halving and doubling weigh the same
        UnivariatePointValuePair best = new BrentOptimizer(1e-8, 1e-10).optimize(new MaxEval(500),
                GoalType.MINIMIZE, new SearchInterval(Math.log(0.05), Math.log(20), 0),
                new UnivariateObjectiveFunction(logT -> figures(pairs, Math.exp(logT)).logLoss()));
        return Math.exp(best.getPoint());
    }

    /**
     * What {@link #run} measured.
     *
     * @param template    the pairwise template's id
     * @param heldOut     held-out pairs judged
     * @param fitPairs    seed pairs the temperature was fitted on
     * @param raw         the figures at T = 1
     * @param calibrated  the figures at the fitted T
     * @param fitRaw      the fitting pairs' log loss at T = 1 (against their noisy labels)
     * @param fitFitted   their log loss at the fitted T
     */
    public record Report(String template, int heldOut, int fitPairs, Figures raw, Figures calibrated, double fitRaw,
                         double fitFitted) {
    }

    /**
     * Judges the world's held-out labelled pairs (as {@code world eval} does, labels from the oracle) and a draw of
     * the seed set (labels as annotated, noise included), fits the temperature on the latter and measures both
     * temperatures on the former.
     *
     * @param model      the judge model
     * @param templateId a pairwise template of {@link JudgeTemplates#world()}; empty = the default
     * @param heldOut    held-out pairs, at least 1
     * @param fitPairs   seed pairs to fit on, at least 1
     * @param seed       seeds the held-out pairs (as {@code world eval --seed}) and the seed-set draw
     * @param worldSeed  the world's splits
     * @return the report
     */
    public static Report run(LanguageModel model, String templateId, int heldOut, int fitPairs, long seed,
                             long worldSeed) {
        if (heldOut < 1 || fitPairs < 1 || fitPairs > JudgeAugmentation.SEED_SET_SIZE) {
            throw new IllegalArgumentException("--pairs must be at least 1 and --fit-pairs in 1.."
                    + JudgeAugmentation.SEED_SET_SIZE + ", got " + heldOut + " and " + fitPairs);
        }
        PairwiseTemplate template = JudgeTemplates.world().pairwise("--template", templateId);
        WorldSplits splits = WorldSplits.of(worldSeed);
        List<JudgeSeedExample> test = JudgeSeedSet.generate(splits.heldOut(), heldOut, 0, ResponseMix.defaults(), seed);
        List<JudgeSeedExample> fit = JudgeAugmentation.draw(JudgeAugmentation.seedSet(splits, worldSeed),
                (double) fitPairs / JudgeAugmentation.SEED_SET_SIZE, seed);
        PairwiseJudge judge = new PairwiseJudge(template);
        List<Judged> judgedTest = judge(model, judge, test, false);
        List<Judged> judgedFit = judge(model, judge, fit, true);
        double t = fitTemperature(judgedFit);
        return new Report(template.id(), test.size(), fit.size(), figures(judgedTest, 1), figures(judgedTest, t),
                figures(judgedFit, 1).logLoss(), figures(judgedFit, t).logLoss());
    }

    /** Judges pairs in both orders; labels the oracle's (held-out) or the annotated ones (seed set). */
    static List<Judged> judge(LanguageModel model, PairwiseJudge judge, List<JudgeSeedExample> pairs,
                              boolean annotated) {
        List<Judged> out = new ArrayList<>(pairs.size());
        for (int from = 0; from < pairs.size(); from += 32) {
            List<JudgeSeedExample> part = pairs.subList(from, Math.min(pairs.size(), from + 32));
            List<PairwiseJudge.Item> items = new ArrayList<>(part.size());
            for (JudgeSeedExample p : part) {
                items.add(new PairwiseJudge.Item(p.task().query(), p.responseA(), p.responseB()));
            }
            List<PairwiseJudge.Verdict> verdicts = judge.compare(model, items);
            for (int i = 0; i < part.size(); i++) {
                PairwiseJudge.Verdict v = verdicts.get(i);
                JudgeSeedExample p = part.get(i);
                String label = annotated ? p.label() : p.oracleLabel();
                out.add(new Judged((double) v.ab().a() - v.ab().b(), (double) v.ba().a() - v.ba().b(),
                        label.equals(JudgeInstructions.ANSWER_A)));
            }
        }
        return out;
    }

    private static double sigmoid(double x) {
        return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    }
}
