package steer.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import steer.align.JudgedPair;
import steer.align.RoundExample;
import steer.align.RunSettings;
import steer.world.Family;
import steer.world.Task;

/**
 * OSP's and Self-Rewarding's rounds over services that answer by rule: the policy's samples are fixed texts, the
 * judge scores a text against the empty response by a table, and a pair's strength is the mean of the two orders of
 * a position-biased judge — exactly what judge-svc computes (PairwiseJudgeTest checks that against a real model).
 */
class OspMethodTest {

    private static final Task T1 = new Task(Family.ADD, "add 1 2", null, List.of("3"));
    private static final Task T2 = new Task(Family.ADD, "add 2 2", null, List.of("4"));

    /** Scores against the empty response, by text. */
    private static final Map<String, Double> EMPTY_SCORE = Map.of("a", 0.9, "b", 0.7, "c", 0.5, "d", 0.3, "e", 0.1,
            "", 0.5);

    /** A judge with a position bias: p(first better) = 0.5 + (s(first) - s(second)) + 0.1. */
    private static double firstBetter(String first, String second) {
        return Math.max(0, Math.min(1, 0.5 + (EMPTY_SCORE.get(first) - EMPTY_SCORE.get(second)) + 0.1));
    }

    private final List<String> comparedPairs = new ArrayList<>();

    private RoundContext.Judging judge() {
        return new RoundContext.Judging() {
            @Override
            public List<Double> againstEmpty(List<String> prompts, List<String> responses) {
                List<Double> out = new ArrayList<>();
                responses.forEach(r -> {
                    if (r.isEmpty()) {
                        throw new IllegalArgumentException("the judge service refuses an empty response");
                    }
                    out.add(EMPTY_SCORE.get(r));
                });
                return out;
            }

            @Override
            public List<Double> rubric(List<String> prompts, List<String> responses) {
                throw new AssertionError("OSP and Self-Rewarding never ask for a rubric score");
            }

            @Override
            public List<Double> compare(List<String> prompts, List<String> a, List<String> b) {
                List<Double> out = new ArrayList<>();
                for (int i = 0; i < a.size(); i++) {
                    comparedPairs.add(a.get(i) + ">" + b.get(i));
                    // both orders, averaged: p(a first) and 1 - p(b first)
                    out.add((firstBetter(a.get(i), b.get(i)) + 1 - firstBetter(b.get(i), a.get(i))) / 2);
                }
                return out;
            }
        };
    }

    private static RoundContext round(String algorithm, List<List<String>> samples, RoundContext.Judging judge) {
        RunSettings st = new RunSettings("r", algorithm, 1, 5, 0, 2, 8, 0, 1, null, Map.of(), "", 1, true);
        return new RoundContext(st, 0, 0, List.of(T1, T2), 0, (role, prompts, n, sampling) -> {
            assertEquals(samples.get(0).size(), n, "K samples per prompt");
            return samples;
        }, judge);
    }

    @Test
    void ospPairsRankedSamplesOutsideInWithTheJudgesBothOrdersStrength() {
        OspMethod osp = (OspMethod) new RunSettings("r", "osp", 1, 5, 0, 2, 8, 0, 1, null, Map.of(), "", 1, true)
                .alignmentMethod();
        // prompt 1: five distinct samples; prompt 2: a duplicate pair (same text), which is dropped
        List<List<String>> samples = List.of(List.of("c", "a", "e", "b", "d", "c", "a"),
                List.of("b", "b", "b", "b", "b", "b", "a"));
        RoundExamples built = osp.buildRound(round("osp", samples, judge()));
        List<RoundExample> ex = built.examples();
        // prompt 1 ranked: a(1) a(6) b(3) c(0) c(5) d(4) e(2): pairs (a,e), (a,d), (b,c); median c unused
        // prompt 2 ranked: a(6) b ... b: pairs (a,b), (b,b) dropped, (b,b) dropped
        assertEquals(4, ex.size());
        assertEquals(new JudgedPair("add 1 2", "a", "e", 1.0), ex.get(0));
        assertEquals(new JudgedPair("add 1 2", "a", "d", 1.0), ex.get(1));
        assertEquals(2, built.dropped());
        assertEquals(List.of("a>e", "a>d", "b>c", "a>b"), comparedPairs, "each kept pair judged once, high first");
        // strength = mean of p(a first) = 0.5 + 0.8 + 0.1 (clamped to 1) and 1 - p(e first) = 1 - (0.5 - 0.8 + 0.1) (0)
        assertEquals(1.0, ((JudgedPair) ex.get(0)).strength(), 1e-12);
        // (b, c): p(b first) = 0.5 + 0.2 + 0.1 = 0.8; p(c first) = 0.5 - 0.2 + 0.1 = 0.4; mean of 0.8 and 0.6 = 0.7
        assertEquals(0.7, ((JudgedPair) ex.get(2)).strength(), 1e-12);
        assertEquals("a", ((JudgedPair) ex.get(3)).chosen());
        assertEquals("b", ((JudgedPair) ex.get(3)).rejected());
        assertEquals(0.7, ((JudgedPair) ex.get(3)).strength(), 1e-12);
        assertEquals(14, built.samplesDrawn());
        assertEquals(14 + 4, built.judgeComparisons(), "K scores per prompt, then one comparison per kept pair");
    }

    @Test
    void aPairWithAnEmptyResponseTakesItsStrengthFromTheScoreAgainstTheEmptyResponse() {
        OspMethod osp = (OspMethod) new RunSettings("r", "osp", 1, 5, 0, 2, 8, 0, 1, null, Map.of(), "", 1, true)
                .alignmentMethod();
        // prompt 1 ranked: a, b, "", d (median), e, e, e: pairs (a, e), (b, e), ("", e)
        // prompt 2 ranked: a, "", …: pairs (a, ""), and two ("", "") dropped
        List<List<String>> samples = List.of(List.of("", "a", "d", "b", "e", "e", "e"),
                List.of("", "a", "", "", "", "", ""));
        RoundExamples built = osp.buildRound(round("osp", samples, judge()));
        assertEquals(List.of("a>e", "b>e"), comparedPairs, "the judge is never asked about an empty response");
        assertEquals(4, built.examples().size());
        JudgedPair emptyChosen = (JudgedPair) built.examples().get(2);
        assertEquals("", emptyChosen.chosen());
        assertEquals(0.9, emptyChosen.strength(), 1e-12, "p(empty ≻ e) = 1 − p(e ≻ empty)");
        assertEquals(new JudgedPair("add 2 2", "a", "", 0.9), built.examples().get(3), "p(a ≻ empty) = its score");
        assertEquals(2, built.dropped());
        assertEquals(7 + 2, built.judgeComparisons(), "7 non-empty samples scored, 2 pairs compared");
    }

    @Test
    void hardLabelAblationsSkipTheStrengthAndRandomPairingStillPrefersTheHigherScore() {
        List<List<String>> samples = List.of(List.of("c", "a", "e", "b", "d", "c", "a"),
                List.of("d", "b", "e", "a", "c", "b", "d"));
        RunSettings dpo = new RunSettings("r", "osp-dpo", 1, 5, 0, 2, 8, 0, 1, null, Map.of(), "", 1, true);
        RoundExamples built = dpo.alignmentMethod().buildRound(round("osp-dpo", samples, judge()));
        assertEquals(6, built.examples().size());
        for (RoundExample e : built.examples()) {
            assertNull(((JudgedPair) e).strength(), "a hard label");
        }
        assertTrue(comparedPairs.isEmpty(), "no strength asked for");
        assertEquals("dpo", dpo.objectiveName());
        assertEquals("ipo", new RunSettings("r", "osp-ipo", 1, 5, 0, 2, 8, 0, 1, null, Map.of(), "", 1, true)
                .objectiveName());

        RunSettings random = new RunSettings("r", "osp-random", 1, 5, 0, 2, 8, 0, 1, null, Map.of(), "", 1, true);
        RoundExamples r = random.alignmentMethod().buildRound(round("osp-random", samples, judge()));
        assertEquals(6, r.examples().size() + r.dropped(), "3 pairs per prompt, same-text ones dropped");
        for (RoundExample e : r.examples()) {
            JudgedPair p = (JudgedPair) e;
            assertTrue(EMPTY_SCORE.get(p.chosen()) > EMPTY_SCORE.get(p.rejected()), "chosen scores higher: " + p);
        }
        assertEquals("spce", random.objectiveName());
    }

    @Test
    void selfRewardingChoosesItsBestOverItsWorstOncePerPrompt() {
        RunSettings st = new RunSettings("r", "self-rewarding", 1, 5, 0, 2, 8, 0, 1, null, Map.of(), "", 1, true);
        List<List<String>> samples = List.of(List.of("c", "a", "e", "b", "d", "c", "a"),
                List.of("b", "b", "b", "b", "b", "b", "b"));
        RoundExamples built = st.alignmentMethod().buildRound(round("self-rewarding", samples, judge()));
        assertEquals(List.of(new JudgedPair("add 1 2", "a", "e", null)), built.examples());
        assertEquals(1, built.dropped(), "all alike: no pair");
        assertEquals("dpo", st.objectiveName());
        assertEquals(0.1, st.objective().params().get("beta"), 0);
        assertTrue(comparedPairs.isEmpty(), "best against worst needs no strength");
    }
}
