package steer.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import steer.align.InvalidSettingException;
import steer.align.JudgedPair;
import steer.align.RoundExample;
import steer.align.RunSettings;
import steer.world.Task;

/**
 * TSO's rounds over services that answer by rule: every model of the matrix answers with its own name, the policy's
 * samples are fixed texts, and the evaluator scores a text by a table.
 */
class TsoMethodTest {

    private static final Map<String, String> LARGER = Map.of("large", "/m/large");
    private static final Map<String, String> SMALLER = Map.of("small", "/m/small");

    private static TsoMethod.Settings settings(String pairs, Map<String, Double> positive, Map<String, Double> negative) {
        return new TsoMethod.Settings(0, 0, "", 0, pairs, 0, LARGER, SMALLER, positive, negative, "", "/m/evaluator");
    }

    private static RunSettings run(String algorithm, int prompts, TsoMethod.Settings s) {
        return new RunSettings("r", algorithm, 3, 5, 0, prompts, 8, 0, 0, null, Map.of(), "", 1, true, "held-out", s);
    }

    /** n of the world's queries (the first split has 500; more repeat them). */
    private static List<Task> tasks(int n) {
        List<Task> split = steer.align.RunWorld.of(0, 1).iterationTasks(0, 500);
        List<Task> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(split.get(i % split.size()));
        }
        return out;
    }

    /** Evaluator scores by text; texts not listed score 5. */
    private static final Map<String, Double> RUBRIC = Map.of("great", 9.0, "good", 7.0, "fair", 5.0, "poor", 3.0);

    private final Map<String, Integer> sampledFrom = new TreeMap<>();
    private final List<Long> policyVersionsAsked = new ArrayList<>();

    private RoundContext round(RunSettings st, int round, List<Task> tasks, List<String> selfSamples) {
        RoundContext.ModelSampling models = new RoundContext.ModelSampling() {
            @Override
            public List<List<String>> sampleModel(String name, String location, String role, List<String> prompts,
                                                  int n, steer.align.SamplingSettings sampling) {
                assertEquals("/m/" + name, location, "each model is sampled from its own checkpoint");
                return answer(name, prompts, n);
            }

            @Override
            public List<List<String>> samplePolicyVersion(long version, String role, List<String> prompts, int n,
                                                          steer.align.SamplingSettings sampling) {
                policyVersionsAsked.add(version);
                return answer("policy@v" + version, prompts, n);
            }
        };
        RoundContext.Judging evaluator = new RoundContext.Judging() {
            @Override
            public List<Double> againstEmpty(List<String> prompts, List<String> responses) {
                throw new AssertionError("TSO never asks against the empty response");
            }

            @Override
            public List<Double> compare(List<String> prompts, List<String> a, List<String> b) {
                throw new AssertionError("TSO never asks pairwise");
            }

            @Override
            public List<Double> rubric(List<String> prompts, List<String> responses) {
                List<Double> out = new ArrayList<>();
                responses.forEach(r -> {
                    assertTrue(!r.isBlank(), "empty samples are never scored");
                    out.add(RUBRIC.getOrDefault(r, 5.0));
                });
                return out;
            }
        };
        long version = st.alignmentMethod().samplingVersion(st, round);
        return new RoundContext(st, round, st.splitOf(round), tasks, version, (role, prompts, n, sampling) -> {
            assertEquals("tso_self", role);
            List<List<String>> out = new ArrayList<>();
            prompts.forEach(p -> out.add(selfSamples));
            return out;
        }, evaluator, models);
    }

    private List<List<String>> answer(String model, List<String> prompts, int n) {
        assertEquals(1, n, "one draw per prompt and source");
        sampledFrom.merge(model, prompts.size(), Integer::sum);
        List<List<String>> out = new ArrayList<>();
        prompts.forEach(p -> out.add(List.of(model + " says " + p)));
        return out;
    }

    @Test
    void roundsAreMiniBatchesSampledFromTheIterationsFirstVersionWithTheReferenceAtEachMiniBatchsStart() {
        RunSettings st = run("tso", 300, settings("", Map.of(), Map.of()));
        AlignmentMethod m = st.alignmentMethod();
        assertEquals(3, st.roundsPerSplit(), "T = 3 mini-batches per iteration");
        assertEquals(9, st.totalRounds());
        assertEquals(100, st.promptsInRound(4));
        assertEquals(List.of(0L, 0L, 0L, 3L, 3L, 3L, 6L, 6L, 6L), versions(st, m));
        assertEquals(2, m.maxPolicyStaleness(), "the last mini-batch lags the trainer by T - 1");
        for (int r = 0; r < 9; r++) {
            assertEquals(r, m.reference().versionFor(m.samplingVersion(st, r), r), "round r's reference is version r");
        }
        assertEquals(2, m.epochsPerRound(st), "2 epochs per mini-batch");
        // 300 prompts × 2 pairs per mini-batch cycle, 2 epochs, batches of 8: 3 × 3 × 2 × ⌈200 / 8⌉
        assertEquals(3 * 3 * 2 * 25, st.plannedTotalSteps());

        RunSettings plain = run("tso-no-mini-batch", 300, settings("", Map.of(), Map.of()));
        assertEquals(1, plain.roundsPerSplit());
        assertEquals(0, plain.alignmentMethod().maxPolicyStaleness());
        assertEquals(List.of(0L, 1L, 2L), versions(plain, plain.alignmentMethod()));
    }

    private static List<Long> versions(RunSettings st, AlignmentMethod m) {
        List<Long> out = new ArrayList<>();
        for (int r = 0; r < st.totalRounds(); r++) {
            out.add(m.samplingVersion(st, r));
        }
        return out;
    }

    @Test
    void dualClipWithMarginsScaledToTheLengthUnlessTheRunSetsThem() {
        RunSettings st = run("tso", 30, settings("", Map.of(), Map.of()));
        assertEquals(new AlignmentMethod.ObjectiveChoice("dual-clip", Map.of("beta", 0.1, "length_scale", 400.0)),
                st.objective());
        RunSettings paperForm = new RunSettings("r", "tso", 3, 5, 0, 30, 8, 0, 0, null, Map.of("length_scale", 0.0), "",
                1, true, "held-out", settings("", Map.of(), Map.of()));
        assertEquals(0.0, paperForm.objective().params().get("length_scale"));
        assertEquals(new AlignmentMethod.ObjectiveChoice("dpo", Map.of("beta", 0.1)),
                run("tso-dpo", 30, settings("", Map.of(), Map.of())).objective());
    }

    @Test
    void matrixPairsDrawTheirSourcesByTheMixtureWeights() {
        int n = 1000;
        RunSettings st = run("tso-matrix-only", 300, settings("", Map.of("reference", 0.3, "large", 0.7), Map.of()));
        TsoMethod tso = (TsoMethod) st.alignmentMethod();
        // split 2 (rounds 6..8 of T = 3): negatives from versions 0 and 3 (where splits 0 and 1 started) and small;
        // a round of 1000 prompts, more than the settings' 100, for a sharper count
        RoundExamples built = tso.buildRound(round(st, 6, tasks(n), List.of()));
        Map<String, Integer> chosen = new TreeMap<>();
        Map<String, Integer> rejected = new TreeMap<>();
        for (RoundExample e : built.examples()) {
            JudgedPair p = (JudgedPair) e;
            chosen.merge(p.chosenSource(), 1, Integer::sum);
            rejected.merge(p.rejectedSource(), 1, Integer::sum);
            if (!p.chosenSource().equals("reference")) {
                assertTrue(p.chosen().startsWith(p.chosenSource() + " says "), p.toString());
            }
            assertTrue(p.rejected().startsWith(p.rejectedSource() + " says "), p.toString());
        }
        int pairs = built.examples().size();
        assertEquals(2 * n, pairs + built.dropped(), "two pairs per prompt");
        assertEquals(0, built.dropped(), "distinct sources never give the same text");
        within(0.3, chosen.get("reference"), pairs);
        within(0.7, chosen.get("large"), pairs);
        for (String negative : List.of("policy@v0", "policy@v3", "small")) {
            within(1.0 / 3, rejected.get(negative), pairs);
        }
        assertEquals(3, rejected.size());
        assertEquals(0, built.judgeComparisons(), "matrix pairs need no evaluator");
        assertEquals(List.of(0L, 3L), policyVersionsAsked.stream().distinct().sorted().toList());
    }

    @Test
    void theFirstIterationHasNoEarlierVersionSoTheOthersTakeItsWeight() {
        RunSettings st = run("tso-matrix-only", 300,
                settings("", Map.of(), Map.of("earlier", 0.5, "small", 0.5)));
        TsoMethod tso = (TsoMethod) st.alignmentMethod();
        RoundExamples built = tso.buildRound(round(st, 0, tasks(100), List.of()));
        for (RoundExample e : built.examples()) {
            assertEquals("small", ((JudgedPair) e).rejectedSource());
        }
        assertTrue(policyVersionsAsked.isEmpty());
        assertEquals(Map.of(TsoMethod.policyName(0), 0.5, "small", 0.5),
                tso.negativeSources(List.of(0L)), "the second iteration splits them as given");
        // the default positive mixture is the paper's 50/50
        assertEquals(Map.of("reference", 0.5, "large", 0.5), tso.positiveSources());
    }

    @Test
    void selfPairsSplitThePolicysSamplesByTheEvaluatorsScoreAgainstTheirMean() {
        RunSettings st = run("tso-self-only", 30, settings("", Map.of(), Map.of()));
        TsoMethod tso = (TsoMethod) st.alignmentMethod();
        // scores 9, 7, 3 and an empty sample: mean (9 + 7 + 3) / 3 = 6.33; positives great, good; negative poor
        RoundExamples built = tso.buildRound(round(st, 0, tasks(10), List.of("great", "good", "poor", "")));
        assertEquals(20, built.examples().size());
        for (RoundExample e : built.examples()) {
            JudgedPair p = (JudgedPair) e;
            assertTrue(p.chosen().equals("great") || p.chosen().equals("good"), p.toString());
            assertEquals("poor", p.rejected());
            assertEquals("self", p.chosenSource());
        }
        assertEquals(30, built.judgeComparisons(), "three non-empty samples scored per prompt");
        assertEquals(40, built.samplesDrawn(), "K = 4 samples per prompt");
        assertTrue(sampledFrom.isEmpty(), "self pairs sample no matrix model");

        // all samples alike: no positive and no negative, so no self pair
        RoundExamples alike = tso.buildRound(round(st, 0, tasks(5), List.of("fair", "fair", "x", "y")));
        assertEquals(0, alike.examples().size());
        assertEquals(10, alike.dropped());
    }

    @Test
    void bothKindsGiveOneMatrixAndOneSelfPairPerPrompt() {
        RunSettings st = run("tso", 30, settings("", Map.of(), Map.of()));
        RoundExamples built = st.alignmentMethod().buildRound(round(st, 0, tasks(10), List.of("great", "poor")));
        long self = built.examples().stream().filter(e -> ((JudgedPair) e).chosenSource().equals("self")).count();
        assertEquals(10, self);
        assertEquals(20, built.examples().size());
        assertEquals(AlignmentMethod.JudgeChoice.pinned("evaluator", "/m/evaluator"), st.alignmentMethod().judge());
    }

    @Test
    void selfPoolsExcludeEmptySamplesAndSamplesAtTheMean() {
        TsoMethod.SelfPools pools = TsoMethod.SelfPools.split(List.of("a", "b", "c", "d"),
                java.util.Arrays.asList(4.0, 6.0, null, 5.0));
        assertEquals(List.of("b"), pools.positives());
        assertEquals(List.of("a"), pools.negatives());
    }

    @Test
    void drawFollowsTheWeightsAndSkipsZeroOnes() {
        Map<String, Double> w = new java.util.LinkedHashMap<>();
        w.put("a", 0.0);
        w.put("b", 0.25);
        w.put("c", 0.75);
        SplittableRandom random = new SplittableRandom(1);
        int b = 0;
        int draws = 40_000;
        for (int i = 0; i < draws; i++) {
            String s = TsoMethod.draw(w, random);
            assertTrue(!s.equals("a"));
            b += s.equals("b") ? 1 : 0;
        }
        within(0.25, b, draws);
    }

    @Test
    void settingsAreValidatedNamingTheField() {
        assertField("config.tso.mini_batches", () -> new TsoMethod.Settings(11, 0, "", 0, "", 0, LARGER, SMALLER,
                Map.of(), Map.of(), "", "/e"));
        assertField("config.tso.loss", () -> new TsoMethod.Settings(0, 0, "ipo", 0, "", 0, LARGER, SMALLER, Map.of(),
                Map.of(), "", "/e"));
        assertField("config.tso.beta", () -> new TsoMethod.Settings(0, 0, "", -1, "", 0, LARGER, SMALLER, Map.of(),
                Map.of(), "", "/e"));
        assertField("config.tso.self_samples", () -> new TsoMethod.Settings(0, 0, "", 0, "", 1, LARGER, SMALLER,
                Map.of(), Map.of(), "", "/e"));
        assertField("config.tso.positive_weights", () -> settings("", Map.of("reference", 0.5, "large", 0.6),
                Map.of()));
        assertField("config.tso.negative_weights[small]", () -> settings("", Map.of(), Map.of("small", 1.5)));
        assertField("config.tso.larger_models[large]", () -> new TsoMethod.Settings(0, 0, "", 0, "", 0,
                Map.of("large", "relative/dir"), SMALLER, Map.of(), Map.of(), "", "/e"));
        assertField("config.tso.smaller_models[large]", () -> new TsoMethod.Settings(0, 0, "", 0, "", 0, LARGER,
                Map.of("large", "/m/large"), Map.of(), Map.of(), "", "/e"));
        // what only the merged settings show: a weight on a model the run does not serve, a missing matrix
        assertField("config.tso.positive_weights[huge]", () -> run("tso", 30,
                settings("", Map.of("reference", 0.5, "huge", 0.5), Map.of())));
        assertField("config.tso.larger_models", () -> run("tso", 30, new TsoMethod.Settings(0, 0, "", 0, "", 0,
                Map.of(), SMALLER, Map.of(), Map.of(), "", "/e")));
        assertField("config.tso.evaluator_location", () -> run("tso", 30, new TsoMethod.Settings(0, 0, "", 0, "", 0,
                LARGER, SMALLER, Map.of(), Map.of(), "", "")));
        assertField("config.algorithm", () -> run("tso-unknown", 30, null));
        // matrix pairs only need no evaluator
        run("tso-matrix-only", 30, new TsoMethod.Settings(0, 0, "", 0, "", 0, LARGER, SMALLER, Map.of(), Map.of(),
                "", ""));
    }

    private static void assertField(String field, org.junit.jupiter.api.function.Executable e) {
        InvalidSettingException x = assertThrows(InvalidSettingException.class, e);
        assertEquals(field, x.field(), x.getMessage());
    }

    /** A count within four binomial standard errors of its expected share. */
    private static void within(double share, Integer count, int n) {
        double c = count == null ? 0 : count;
        double sd = Math.sqrt(n * share * (1 - share));
        assertTrue(Math.abs(c - n * share) <= 4 * sd, c + " of " + n + " where " + share + " was expected");
    }
}
