package steer.cli.compare;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.proto.v1.IterationResult;
import steer.proto.v1.OspSettings;
import steer.proto.v1.Run;
import steer.proto.v1.RunConfig;
import steer.proto.v1.RunState;

/**
 * Synthetic runs: SSO and PBAA (a round per iteration split), OSP and OSP with IPO (three rounds per split, the last
 * of each evaluated; OSP reports the pinned judge's accuracy), seeds 0, 1, 2; OSP with IPO fails on seed 1.
 */
class CompareReportTest {

    static {
        System.setProperty("java.awt.headless", "true");
    }

    private static final double EPS = 1e-9;
    private static final List<String> METHODS = List.of("sso", "pbaa", "osp", "osp-ipo");
    private static final List<Long> SEEDS = List.of(0L, 1L, 2L);

    private static RunConfig config(String method, long seed) {
        return RunConfig.newBuilder().setRunId(method + "-seed" + seed).setAlgorithm(method).setSeed(seed).setIterations(2)
                .setPromptsPerIteration(20).setEvaluationSplit("held-out").build();
    }

    /** Per split: rounds, the last evaluated with these figures (win rate, mean score, signal accuracy, judge). */
    private static Run run(String method, long seed, int roundsPerSplit, double[][] perSplit) {
        Run.Builder run = Run.newBuilder().setRunId(method + "-seed" + seed).setConfig(config(method, seed))
                .setState(RunState.RUN_STATE_SUCCEEDED).setCompletedIterations(perSplit.length)
                .putAllBaselineMetrics(Map.of("mean_score", 0.55, "mean_length", 6.1));
        int round = 0;
        for (int split = 0; split < perSplit.length; split++) {
            for (int r = 0; r < roundsPerSplit; r++) {
                IterationResult.Builder it = IterationResult.newBuilder().setIteration(round).setSplit(split)
                        .setPolicyVersion(round).setCheckpointVersion(round + 1).setBatches(3).setSamplesDrawn(100)
                        .setJudgeComparisons(roundsPerSplit > 1 ? 50 : 0).setExamples(60).setSeconds(5);
                if (r == roundsPerSplit - 1) {
                    double[] f = perSplit[split];
                    it.putEvalMetrics("win_rate", f[0]).putEvalMetrics("mean_score", f[1])
                            .putEvalMetrics("signal_accuracy", f[2]).putEvalMetrics("mean_length", 5.5 + split);
                    if (f.length > 3) {
                        it.putEvalMetrics("used_judge_accuracy", f[3]);
                    }
                }
                run.addIterations(it);
                round++;
            }
        }
        return run.build();
    }

    private static RunOutcome ok(String method, long seed, int roundsPerSplit, double wall, double[][] perSplit) {
        return RunOutcome.of(method, seed, config(method, seed), run(method, seed, roundsPerSplit, perSplit), wall);
    }

    static List<RunOutcome> outcomes() {
        List<RunOutcome> o = new ArrayList<>();
        // SSO's last win rates 0.62, 0.60, 0.64 (mean 0.62, sd 0.02); mean scores 0.80, 0.79, 0.81 (0.80, sd 0.01)
        o.add(ok("sso", 0, 1, 60, new double[][] {{0.58, 0.75, 0.5}, {0.62, 0.80, 0.40}}));
        o.add(ok("sso", 1, 1, 70, new double[][] {{0.56, 0.74, 0.5}, {0.60, 0.79, 0.42}}));
        o.add(ok("sso", 2, 1, 80, new double[][] {{0.60, 0.76, 0.5}, {0.64, 0.81, 0.44}}));
        // PBAA: win rates 0.60, 0.59, 0.61; mean scores 0.79, 0.79, 0.80
        o.add(ok("pbaa", 0, 1, 50, new double[][] {{0.57, 0.74, 0.5}, {0.60, 0.79, 0.39}}));
        o.add(ok("pbaa", 1, 1, 50, new double[][] {{0.55, 0.73, 0.5}, {0.59, 0.79, 0.41}}));
        o.add(ok("pbaa", 2, 1, 50, new double[][] {{0.59, 0.75, 0.5}, {0.61, 0.80, 0.43}}));
        // OSP: 3 rounds per split; win rate at split 1: 0.55, 0.57, 0.59 (mean 0.57, sd 0.02); judge 0.70, 0.71, 0.72
        o.add(ok("osp", 0, 3, 100, new double[][] {{0.55, 0.70, 0.6, 0.70}, {0.65, 0.82, 0.6, 0.70}}));
        o.add(ok("osp", 1, 3, 110, new double[][] {{0.57, 0.71, 0.6, 0.71}, {0.66, 0.83, 0.6, 0.71}}));
        o.add(ok("osp", 2, 3, 120, new double[][] {{0.59, 0.72, 0.6, 0.72}, {0.70, 0.84, 0.6, 0.72}}));
        // OSP with IPO: seeds 0 and 2; seed 1 fails
        o.add(ok("osp-ipo", 0, 3, 90, new double[][] {{0.55, 0.70, 0.6, 0.70}, {0.63, 0.80, 0.6, 0.70}}));
        o.add(RunOutcome.of("osp-ipo", 1, config("osp-ipo", 1), Run.newBuilder().setRunId("osp-ipo-seed1")
                .setConfig(config("osp-ipo", 1)).setState(RunState.RUN_STATE_FAILED).setError("judge unreachable").build(), 12));
        o.add(ok("osp-ipo", 2, 3, 95, new double[][] {{0.59, 0.72, 0.6, 0.72}, {0.66, 0.83, 0.6, 0.72}}));
        return o;
    }

    static CompareReport report() {
        return CompareReport.of(new CompareReport.Setup(METHODS, SEEDS, 2, 20, "held-out", "models/world/small",
                List.of(RunConfigOverrides.parse("osp-ipo.osp.loss=ipo", METHODS),
                        RunConfigOverrides.parse("*.batch_size=8", METHODS))), outcomes());
    }

    @Test
    void summariesAreAtTheLastEvaluatedRoundOverTheSeeds() {
        CompareReport report = report();
        assertEquals(4, report.summaries().size());
        CompareReport.MethodSummary sso = report.summaries().get(0);
        assertEquals("SSO", sso.display());
        assertEquals(3, sso.evaluated());
        assertEquals(0, sso.failed());
        assertEquals(0.62, sso.winRate().mean(), EPS);
        assertEquals(0.02, sso.winRate().sd(), EPS);
        assertEquals(0.80, sso.meanScore().mean(), EPS);
        assertEquals(0.01, sso.meanScore().sd(), EPS);
        assertEquals(6.5, sso.meanLength().mean(), EPS);
        assertEquals(70, sso.wallSeconds().mean(), EPS);
        assertEquals(10, sso.wallSeconds().sd(), EPS);
        assertEquals(0.42, sso.signalAccuracy().mean(), EPS);
        assertTrue(sso.usedJudgeAccuracy().isEmpty(), "SSO reports no used judge");
        // totals per run: 2 rounds × 100 samples, 2 × 3 batches, no judge calls
        assertEquals(200, sso.samplesDrawn().mean(), EPS);
        assertEquals(0, sso.samplesDrawn().sd(), EPS);
        assertEquals(6, sso.optimizerSteps().mean(), EPS);
        assertEquals(0, sso.judgeComparisons().mean(), EPS);

        CompareReport.MethodSummary osp = report.summaries().get(2);
        // last evaluated round = the last round of split 2: win rates 0.65, 0.66, 0.70 → mean 0.67,
        // sd = √((0.0004 + 0.0001 + 0.0009) / 2) = √0.0007 = 0.0264575131
        assertEquals(0.67, osp.winRate().mean(), EPS);
        assertEquals(0.026457513110645873, osp.winRate().sd(), EPS);
        assertEquals(0.71, osp.usedJudgeAccuracy().mean(), EPS);
        assertEquals(0.01, osp.usedJudgeAccuracy().sd(), EPS);
        // 6 rounds × 100 samples, 6 × 50 judge calls, 6 × 3 batches
        assertEquals(600, osp.samplesDrawn().mean(), EPS);
        assertEquals(300, osp.judgeComparisons().mean(), EPS);
        assertEquals(18, osp.optimizerSteps().mean(), EPS);

        CompareReport.MethodSummary ipo = report.summaries().get(3);
        assertEquals(3, ipo.runs());
        assertEquals(1, ipo.failed());
        assertEquals(2, ipo.evaluated());
        assertEquals(92.5, ipo.wallSeconds().mean(), EPS, "wall time of the succeeded runs");
        assertEquals(1, report.failures().size());
        assertEquals("ended failed: judge unreachable", report.failures().get(0).error());
    }

    @Test
    void pairsAreTheNamedOnesAmongTheMethodsPairedBySeed() {
        List<CompareReport.PairResult> pairs = report().pairs();
        assertEquals(List.of(new Methods.Pair("osp", "osp-ipo"), new Methods.Pair("sso", "pbaa")),
                pairs.stream().map(CompareReport.PairResult::pair).toList());

        CompareReport.PairResult ssoPbaa = pairs.get(1);
        assertEquals(SEEDS, ssoPbaa.seeds());
        // win rate differences 0.02, 0.01, 0.03: mean 0.02, sd 0.01; t(0.975, 2) = 4.3026527297;
        // half-width 4.3026527297 · 0.01 / √3 = 0.0248413771 → [−0.0048413771, 0.0448413771]
        assertEquals(0.02, ssoPbaa.winRate().meanDifference(), EPS);
        assertEquals(0.01, ssoPbaa.winRate().sd(), EPS);
        assertEquals(-0.0048413771, ssoPbaa.winRate().low(), 1e-8);
        assertEquals(0.0448413771, ssoPbaa.winRate().high(), 1e-8);
        // mean score differences 0.01, 0.00, 0.01: mean 0.0066667, sd = √((2 · 0.0033333² + 0.0066667²) / 2) = 0.0057735
        assertEquals(0.006666666667, ssoPbaa.meanScore().meanDifference(), 1e-9);
        assertEquals(0.005773502692, ssoPbaa.meanScore().sd(), 1e-9);

        CompareReport.PairResult ospIpo = pairs.get(0);
        assertEquals(List.of(0L, 2L), ospIpo.seeds(), "seed 1 of OSP with IPO failed: no pair");
        // differences 0.65 − 0.63 = 0.02 and 0.70 − 0.66 = 0.04: mean 0.03, sd = √(2 · 0.01²) = 0.0141421356;
        // t(0.975, 1) = 12.7062047362; half-width 12.7062047362 · 0.0141421356 / √2 = 0.127062047 → [−0.097062, 0.157062]
        assertEquals(0.03, ospIpo.winRate().meanDifference(), EPS);
        assertEquals(-0.0970620474, ospIpo.winRate().low(), 1e-8);
        assertEquals(0.1570620474, ospIpo.winRate().high(), 1e-8);

        List<CompareReport.PairResult> none = CompareReport.of(new CompareReport.Setup(List.of("sso", "osp"), SEEDS, 2, 20,
                "held-out", "m", List.of()), outcomes()).pairs();
        assertTrue(none.isEmpty(), "SSO and OSP are no named pair");
    }

    @Test
    void curvesTakeTheEvaluatedRoundOfEachSplit() {
        List<RunOutcome> osp = CompareReport.runsOf(outcomes(), "osp");
        List<CompareReport.Point> win = CompareReport.curve(osp, "win_rate");
        assertEquals(List.of(1, 2), win.stream().map(CompareReport.Point::split).toList());
        assertEquals(0.57, win.get(0).value().mean(), EPS);
        assertEquals(0.02, win.get(0).value().sd(), EPS);
        assertEquals(0.67, win.get(1).value().mean(), EPS);
        List<CompareReport.Point> ipo = CompareReport.curve(CompareReport.runsOf(outcomes(), "osp-ipo"), "mean_score");
        assertEquals(2, ipo.get(0).value().n(), "the failed seed is not in the curve");
        assertTrue(CompareReport.curve(osp, "no_such_figure").isEmpty());
    }

    @Test
    void roundsWithoutSplitAreTakenAsOnePerIteration() {
        // an orchestrator that does not fill split: every SSO round is split 0, each evaluated
        Run legacy = Run.newBuilder().setState(RunState.RUN_STATE_SUCCEEDED)
                .addIterations(IterationResult.newBuilder().setIteration(0).putEvalMetrics("win_rate", 0.6))
                .addIterations(IterationResult.newBuilder().setIteration(1).putEvalMetrics("win_rate", 0.7)).build();
        var bySplit = RunFigures.evaluatedBySplit(legacy);
        assertEquals(List.of(1, 2), List.copyOf(bySplit.keySet()));
        assertEquals(0.7, RunFigures.eval(bySplit.get(2), "win_rate"));
        assertEquals(0.7, RunFigures.eval(RunFigures.lastEvaluated(legacy).orElseThrow(), "win_rate"));
        assertTrue(RunFigures.lastEvaluated(Run.newBuilder().addIterations(IterationResult.newBuilder()).build()).isEmpty());
    }

    @Test
    void tablesShowMeanSdAndPairs() {
        String table = report().table();
        String sso = line(table, "SSO ");
        assertTrue(sso.contains("0.620 ± 0.020") && sso.contains("0.800 ± 0.010") && sso.contains("70 ± 10")
                && sso.contains("200 ± 0") && sso.contains("6 ± 0"), sso);
        assertTrue(sso.matches("SSO\\s+3\\s+0\\s.*"), sso);
        String osp = line(table, "OSP ");
        assertTrue(osp.contains("0.670 ± 0.026") && osp.contains("0.710 ± 0.010") && osp.contains("300 ± 0"), osp);
        String ipo = line(table, "OSP with IPO ");
        assertTrue(ipo.matches("OSP with IPO\\s+2\\s+1\\s.*"), ipo);
        String pbaa = line(table, "PBAA ");
        assertTrue(pbaa.matches(".*\\s-\\s+200 ± 0.*"), "no used judge: " + pbaa);
        String pair = line(table, "SSO − PBAA");
        assertTrue(pair.contains("+0.020") && pair.contains("[-0.005, +0.045]") && pair.contains("+0.007"), pair);
        String ospPair = line(table, "OSP − OSP with IPO");
        assertTrue(ospPair.matches("OSP − OSP with IPO\\s+2\\s+\\+0\\.030\\s+\\[-0\\.097, \\+0\\.157\\].*"), ospPair);
    }

    @Test
    void aPairOfOneSeedHasNoInterval() {
        List<RunOutcome> o = outcomes().stream().filter(r -> r.seed() == 0).toList();
        CompareReport report = CompareReport.of(new CompareReport.Setup(List.of("sso", "pbaa"), List.of(0L), 2, 20,
                "held-out", "m", List.of()), o);
        String pair = line(report.table(), "SSO − PBAA");
        assertTrue(pair.contains("+0.020") && pair.contains("- (n<2)"), pair);
        assertTrue(line(report.table(), "SSO ").contains(" 0.620 "), "one seed: the mean alone");
    }

    @Test
    void theReportSaysWhatIsEqualAndWhatIsNot() {
        CompareReport report = report();
        String equal = String.join("\n", report.equalAcrossMethods());
        assertTrue(equal.contains("The same prompts per iteration: world seed 0's iteration splits, the first 20 prompts of "
                + "each, for 2 iterations"), equal);
        assertTrue(equal.contains("the world's held-out queries"), equal);
        assertTrue(equal.contains("models/world/small"), equal);
        assertTrue(equal.contains("The same seeds for every method: [0, 1, 2]"), equal);
        assertTrue(equal.contains("The same settings given to every method: batch_size=8."), equal);
        String differ = String.join("\n", report.differentAcrossMethods());
        assertTrue(differ.contains("SSO: per run 200 ± 0 samples drawn, 0 ± 0 judge comparisons, 6 ± 0 optimizer steps"), differ);
        assertTrue(differ.contains("OSP: per run 600 ± 0 samples drawn, 300 ± 0 judge comparisons, 18 ± 0 optimizer steps"),
                differ);
        assertTrue(differ.contains("OSP with IPO: per run") && differ.contains("settings osp.loss=ipo."), differ);
        assertFalse(differ.contains("batch_size"), "a setting of every method is no difference: " + differ);
        assertFalse(differ.contains("Not the same"), differ);

        // a run with another world seed breaks "the same prompts", and the report says so
        List<RunOutcome> o = new ArrayList<>(outcomes());
        RunOutcome first = o.get(0);
        o.set(0, RunOutcome.of("sso", 0, first.config(), first.run().toBuilder()
                .setConfig(first.config().toBuilder().setWorldSeed(9)).build(), 60));
        CompareReport other = CompareReport.of(new CompareReport.Setup(METHODS, SEEDS, 2, 20, "held-out", "m", List.of()), o);
        assertFalse(String.join("\n", other.equalAcrossMethods()).contains("The same prompts"));
        assertTrue(String.join("\n", other.differentAcrossMethods()).contains("Not the same world seed: SSO 0/9, PBAA 0"),
                String.join("\n", other.differentAcrossMethods()));
    }

    @Test
    void writesSelfContainedHtmlAndJsonWithEveryRun(@TempDir Path dir) throws Exception {
        Path html = report().write(dir);
        String page = Files.readString(html);
        assertFalse(page.contains("http://") || page.contains("https://") || page.contains("<script"),
                "no external resources: the report is viewed offline");
        Matcher images = Pattern.compile("src=\"data:image/png;base64,").matcher(page);
        int count = 0;
        while (images.find()) {
            count++;
        }
        assertEquals(3, count, "win rate, mean score, signal accuracy");
        assertTrue(page.contains("The same for every method") && page.contains("Not the same"), "what is equal and what not");
        assertTrue(page.contains("judge unreachable"), "the failed run's error");

        JsonNode json = new ObjectMapper().readTree(dir.resolve("compare.json").toFile());
        assertEquals(METHODS.size(), json.get("setup").get("methods").size());
        assertEquals("osp-ipo.osp.loss=ipo", json.get("setup").get("settings").get(0).asText());
        JsonNode sso = json.get("summaries").get(0);
        assertEquals("sso", sso.get("method").asText());
        assertEquals(0.62, sso.get("win_rate").get("mean").asDouble(), EPS);
        assertEquals(3, sso.get("win_rate").get("n").asInt());
        assertTrue(sso.get("used_judge_accuracy").get("mean").isNull(), "absent is null, not NaN");
        assertEquals(2, sso.get("per_split").get("win_rate").size());
        assertEquals(0.58, sso.get("per_split").get("win_rate").get(0).get("mean").asDouble(), EPS);
        JsonNode pair = json.get("pairs").get(1);
        assertEquals("sso", pair.get("method").asText());
        assertEquals("pbaa", pair.get("baseline").asText());
        assertEquals(3, pair.get("win_rate").get("differences").size());
        assertEquals(4.302652729749464, pair.get("win_rate").get("t").asDouble(), 1e-6);
        assertEquals(-0.0048413771, pair.get("win_rate").get("low").asDouble(), 1e-8);
        assertEquals(12, json.get("runs").size());
        JsonNode failed = json.get("runs").get(10);
        assertFalse(failed.get("succeeded").asBoolean());
        assertEquals("RUN_STATE_FAILED", failed.get("run").get("state").asText());
        JsonNode osp = json.get("runs").get(6).get("run");
        assertEquals(6, osp.get("iterations").size());
        assertEquals(100, osp.get("iterations").get(0).get("samples_drawn").asLong());
        assertEquals(1, osp.get("iterations").get(3).get("split").asInt());
        assertTrue(osp.get("iterations").get(0).get("eval_metrics").isEmpty(), "an unevaluated round");
        assertEquals(0.70, osp.get("iterations").get(2).get("eval_metrics").get("used_judge_accuracy").asDouble(), EPS);
        assertEquals(0.55, osp.get("baseline_metrics").get("mean_score").asDouble(), EPS);
    }

    @Test
    void protoJsonWritesFieldsByProtoNameAndOnlyTheSetOneofMember() {
        RunConfig c = RunConfig.newBuilder().setSeed(-1L).setAlgorithm("osp").setOsp(OspSettings.newBuilder().setSamplesPerPrompt(4))
                .putObjectiveParams("beta", Double.NaN).build();
        JsonNode j = ProtoJson.of(c);
        assertEquals("18446744073709551615", j.get("seed").asText(), "uint64 unsigned");
        assertEquals(4, j.get("osp").get("samples_per_prompt").asInt());
        assertFalse(j.has("sso") || j.has("self_rewarding"), j.toString());
        assertFalse(j.has("sampling"), "an unset message is left out");
        assertEquals(0, j.get("batch_size").asInt(), "defaults are written");
        assertTrue(j.get("objective_params").get("beta").isNull(), "NaN is null");
    }

    private static String line(String table, String start) {
        return table.lines().filter(l -> l.startsWith(start)).findFirst()
                .orElseThrow(() -> new AssertionError("no line " + start + " in\n" + table));
    }
}
