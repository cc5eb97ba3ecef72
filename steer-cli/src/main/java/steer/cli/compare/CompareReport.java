package steer.cli.compare;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import steer.cli.compare.Stats.PairedInterval;
import steer.cli.compare.Stats.Summary;
import steer.proto.v1.IterationResult;
import steer.proto.v1.Run;
import steer.proto.v1.RunConfig;

/**
 * What {@code steer compare} reports: per method, mean ± sd over its seeds of the last evaluated round's figures
 * and of each run's totals; the named pairs' paired differences with 95% t-intervals; what was the same for every
 * method and what was not; as terminal tables, {@code compare.json} and a self-contained {@code compare.html}.
 * Every figure is a pure function of the runs.
 */
public final class CompareReport {

    /**
     * What the command was asked to run.
     *
     * @param methods             in the order given
     * @param seeds               in the order given
     * @param promptsPerIteration 0 = the whole iteration split
     * @param model               the SFT model every run started from
     * @param settings            the {@code --set} settings
     */
    public record Setup(List<String> methods, List<Long> seeds, int iterations, int promptsPerIteration,
                        String evaluationSplit, String model, List<RunConfigOverrides.Setting> settings) {
        public Setup {
            methods = List.copyOf(methods);
            seeds = List.copyOf(seeds);
            settings = List.copyOf(settings);
        }
    }

    /**
     * One method over its seeds. The evaluation figures are of each succeeded run's last evaluated round; wall
     * time and the totals (sums over a run's rounds) of each succeeded run.
     *
     * @param runs      runs started
     * @param failed    runs that did not succeed
     * @param evaluated succeeded runs with an evaluated round: the n of the evaluation figures
     */
    public record MethodSummary(String method, String display, int runs, int failed, int evaluated, Summary winRate,
                                Summary meanScore, Summary meanLength, Summary wallSeconds, Summary signalAccuracy,
                                Summary usedJudgeAccuracy, Summary samplesDrawn, Summary judgeComparisons,
                                Summary optimizerSteps) {
    }

    /** A named pair over the seeds both of its methods succeeded on; differences are method − baseline. */
    public record PairResult(Methods.Pair pair, List<Long> seeds, List<Double> winRateDifferences,
                             List<Double> meanScoreDifferences, PairedInterval winRate, PairedInterval meanScore) {
    }

    /** A curve's point: the figure's mean ± sd over the seeds at one iteration split (from 1). */
    public record Point(int split, Summary value) {
    }

    /** The figures plotted per iteration split: eval_metrics key and title. */
    static final List<Map.Entry<String, String>> CURVES = List.of(
            Map.entry("win_rate", "win rate against SFT"),
            Map.entry("mean_score", "mean oracle score"),
            Map.entry("signal_accuracy", "signal accuracy"));

    private final Setup setup;
    private final List<RunOutcome> outcomes;
    private final List<MethodSummary> summaries;
    private final List<PairResult> pairs;

    private CompareReport(Setup setup, List<RunOutcome> outcomes) {
        this.setup = setup;
        this.outcomes = List.copyOf(outcomes);
        this.summaries = setup.methods().stream().map(m -> summarize(m, runsOf(this.outcomes, m))).toList();
        this.pairs = Methods.pairsAmong(setup.methods()).stream().map(p -> pair(p, setup.seeds(), this.outcomes)).toList();
    }

    public static CompareReport of(Setup setup, List<RunOutcome> outcomes) {
        return new CompareReport(setup, outcomes);
    }

    public List<MethodSummary> summaries() {
        return summaries;
    }

    public List<PairResult> pairs() {
        return pairs;
    }

    public List<RunOutcome> failures() {
        return outcomes.stream().filter(o -> !o.succeeded()).toList();
    }

    // ---------------------------------------------------------------- the figures

    static List<RunOutcome> runsOf(List<RunOutcome> outcomes, String method) {
        return outcomes.stream().filter(o -> o.method().equals(method)).toList();
    }

    /** One method's summary over its runs. */
    public static MethodSummary summarize(String method, List<RunOutcome> runs) {
        List<Run> ok = runs.stream().filter(RunOutcome::succeeded).map(RunOutcome::run).toList();
        List<IterationResult> last = ok.stream().map(RunFigures::lastEvaluated).flatMap(Optional::stream).toList();
        Function<String, Summary> atLast = key -> Stats.summary(last.stream().map(r -> RunFigures.eval(r, key)).toList());
        return new MethodSummary(method, Methods.display(method), runs.size(),
                (int) runs.stream().filter(o -> !o.succeeded()).count(), last.size(),
                atLast.apply("win_rate"), atLast.apply("mean_score"), atLast.apply("mean_length"),
                Stats.summary(runs.stream().filter(RunOutcome::succeeded).map(RunOutcome::wallSeconds).toList()),
                atLast.apply("signal_accuracy"), atLast.apply("used_judge_accuracy"),
                total(ok, RunFigures::samplesDrawn), total(ok, RunFigures::judgeComparisons),
                total(ok, RunFigures::optimizerSteps));
    }

    private static Summary total(List<Run> runs, ToDoubleFunction<Run> figure) {
        return Stats.summary(runs.stream().map(r -> figure.applyAsDouble(r)).toList());
    }

    /** The last evaluated round of each seed's succeeded run of {@code method}. */
    static Map<Long, IterationResult> lastBySeed(List<RunOutcome> outcomes, String method) {
        Map<Long, IterationResult> bySeed = new LinkedHashMap<>();
        for (RunOutcome o : runsOf(outcomes, method)) {
            if (o.succeeded()) {
                RunFigures.lastEvaluated(o.run()).ifPresent(r -> bySeed.put(o.seed(), r));
            }
        }
        return bySeed;
    }

    /** A named pair's paired differences over the seeds (in {@code seeds}' order) both its methods have. */
    public static PairResult pair(Methods.Pair pair, List<Long> seeds, List<RunOutcome> outcomes) {
        Map<Long, IterationResult> a = lastBySeed(outcomes, pair.method());
        Map<Long, IterationResult> b = lastBySeed(outcomes, pair.baseline());
        List<Long> paired = new ArrayList<>();
        List<Double> win = new ArrayList<>();
        List<Double> score = new ArrayList<>();
        for (long seed : new LinkedHashSet<>(seeds)) {
            if (a.containsKey(seed) && b.containsKey(seed)) {
                paired.add(seed);
                win.add(RunFigures.eval(a.get(seed), "win_rate") - RunFigures.eval(b.get(seed), "win_rate"));
                score.add(RunFigures.eval(a.get(seed), "mean_score") - RunFigures.eval(b.get(seed), "mean_score"));
            }
        }
        return new PairResult(pair, paired, win, score, Stats.paired(win), Stats.paired(score));
    }

    /** A method's curve of an eval figure over the iteration splits: mean ± sd over its succeeded runs. */
    public static List<Point> curve(List<RunOutcome> runs, String key) {
        SortedMap<Integer, List<Double>> bySplit = new TreeMap<>();
        for (RunOutcome o : runs) {
            if (o.succeeded()) {
                RunFigures.evaluatedBySplit(o.run()).forEach((split, round) ->
                        bySplit.computeIfAbsent(split, s -> new ArrayList<>()).add(RunFigures.eval(round, key)));
            }
        }
        List<Point> points = new ArrayList<>();
        bySplit.forEach((split, values) -> {
            Summary s = Stats.summary(values);
            if (!s.isEmpty()) {
                points.add(new Point(split, s));
            }
        });
        return points;
    }

    // ---------------------------------------------------------------- what is equal and what is not

    /** What every method shared, one sentence each, computed from the runs' configurations. */
    public List<String> equalAcrossMethods() {
        List<String> out = new ArrayList<>();
        List<RunConfig> configs = configs();
        Set<Object> iterations = distinct(configs, RunConfig::getIterations);
        Set<Object> prompts = distinct(configs, RunConfig::getPromptsPerIteration);
        Set<Object> worldSeeds = distinct(configs, RunConfig::getWorldSeed);
        Set<Object> splits = distinct(configs, c -> c.getEvaluationSplit().isEmpty() ? "held-out" : c.getEvaluationSplit());
        Set<Object> evalQueries = distinct(configs, RunConfig::getEvalQueries);
        if (iterations.size() == 1 && prompts.size() == 1 && worldSeeds.size() == 1) {
            int p = (Integer) prompts.iterator().next();
            int n = (Integer) iterations.iterator().next();
            out.add(String.format(Locale.ROOT, "The same prompts per iteration: world seed %s's iteration splits, %s of each, "
                    + "for %d iteration%s (a split's prompts do not depend on the run's seed or method).",
                    worldSeeds.iterator().next(), p == 0 ? "all prompts" : "the first " + p + " prompts", n, n == 1 ? "" : "s"));
        }
        if (splits.size() == 1 && evalQueries.size() == 1 && worldSeeds.size() == 1) {
            int q = (Integer) evalQueries.iterator().next();
            String split = (String) splits.iterator().next();
            out.add("The same evaluation set: " + (split.equals("validation")
                    ? "the validation queries held back from the end of every iteration split"
                    : "the world's held-out queries") + (q == 0 ? "" : ", " + q + " of them") + " (evaluation split " + split
                    + "), sampled at the run's settings and scored by the oracle, which no method sees.");
        }
        out.add("The same SFT model for every run, " + setup.model() + ", and one stack (one Kafka broker, one generator, "
                + "judge, trainer and orchestrator) for all of them, one run at a time.");
        Map<String, Set<Long>> seedsByMethod = new LinkedHashMap<>();
        for (String m : setup.methods()) {
            seedsByMethod.put(m, new TreeSet<>(runsOf(outcomes, m).stream().map(RunOutcome::seed).toList()));
        }
        if (new LinkedHashSet<>(seedsByMethod.values()).size() <= 1) {
            out.add("The same seeds for every method: " + setup.seeds() + " (a pair compares the same seed).");
        }
        List<String> shared = setup.settings().stream().filter(st -> st.method().equals(RunConfigOverrides.ALL))
                .map(st -> st.key() + "=" + st.value()).toList();
        if (!shared.isEmpty()) {
            out.add("The same settings given to every method: " + String.join(", ", shared) + ".");
        }
        return out;
    }

    /** What differed between the methods, computed from the runs (and the settings each was given). */
    public List<String> differentAcrossMethods() {
        List<String> out = new ArrayList<>();
        List<RunConfig> configs = configs();
        for (var check : List.<Map.Entry<String, Function<RunConfig, Object>>>of(
                Map.entry("iterations", RunConfig::getIterations),
                Map.entry("prompts per iteration", RunConfig::getPromptsPerIteration),
                Map.entry("world seed", RunConfig::getWorldSeed),
                Map.entry("evaluation split", c -> c.getEvaluationSplit().isEmpty() ? "held-out" : c.getEvaluationSplit()),
                Map.entry("evaluation queries", RunConfig::getEvalQueries))) {
            if (distinct(configs, check.getValue()).size() > 1) {
                out.add("Not the same " + check.getKey() + ": " + perMethod(check.getValue()) + ".");
            }
        }
        Map<String, Set<Long>> seedsByMethod = new LinkedHashMap<>();
        for (String m : setup.methods()) {
            seedsByMethod.put(m, new TreeSet<>(runsOf(outcomes, m).stream().map(RunOutcome::seed).toList()));
        }
        if (new LinkedHashSet<>(seedsByMethod.values()).size() > 1) {
            out.add("Not the same seeds: " + seedsByMethod + ".");
        }
        for (MethodSummary s : summaries) {
            out.add(String.format(Locale.ROOT, "%s: per run %s samples drawn, %s judge comparisons, %s optimizer steps, %s s wall "
                    + "time%s.", s.display(), pm(s.samplesDrawn(), 0), pm(s.judgeComparisons(), 0), pm(s.optimizerSteps(), 0),
                    pm(s.wallSeconds(), 0), settingsOf(s.method())));
        }
        return out;
    }

    private String settingsOf(String method) {
        List<String> own = setup.settings().stream().filter(st -> st.method().equals(method))
                .map(st -> st.key() + "=" + st.value()).toList();
        return own.isEmpty() ? "" : "; settings " + String.join(", ", own);
    }

    private String perMethod(Function<RunConfig, Object> figure) {
        Map<String, Set<String>> values = new LinkedHashMap<>();
        for (RunOutcome o : outcomes) {
            values.computeIfAbsent(o.method(), m -> new TreeSet<>()).add(String.valueOf(figure.apply(configOf(o))));
        }
        List<String> parts = new ArrayList<>();
        values.forEach((m, v) -> parts.add(Methods.display(m) + " " + String.join("/", v)));
        return String.join(", ", parts);
    }

    /** The configurations the runs ran with: as the orchestrator returned them, else as they were sent. */
    private List<RunConfig> configs() {
        return outcomes.stream().map(CompareReport::configOf).toList();
    }

    private static RunConfig configOf(RunOutcome o) {
        return o.run() != null && o.run().hasConfig() ? o.run().getConfig() : o.config();
    }

    private static Set<Object> distinct(List<RunConfig> configs, Function<RunConfig, Object> figure) {
        Set<Object> out = new LinkedHashSet<>();
        configs.forEach(c -> out.add(figure.apply(c)));
        return out;
    }

    // ---------------------------------------------------------------- terminal tables

    static final List<String> SUMMARY_HEADER = List.of("method", "n", "failed", "win rate vs SFT", "mean score",
            "mean length", "wall s", "signal accuracy", "used judge accuracy", "samples drawn", "judge comparisons",
            "optimizer steps");

    static List<List<String>> summaryRows(List<MethodSummary> summaries) {
        List<List<String>> rows = new ArrayList<>();
        for (MethodSummary s : summaries) {
            rows.add(List.of(s.display(), Integer.toString(s.evaluated()), Integer.toString(s.failed()),
                    pm(s.winRate(), 3, s.evaluated()), pm(s.meanScore(), 3, s.evaluated()), pm(s.meanLength(), 2, s.evaluated()),
                    pm(s.wallSeconds(), 0), pm(s.signalAccuracy(), 3, s.evaluated()),
                    pm(s.usedJudgeAccuracy(), 3, s.evaluated()), pm(s.samplesDrawn(), 0), pm(s.judgeComparisons(), 0),
                    pm(s.optimizerSteps(), 0)));
        }
        return rows;
    }

    static final List<String> PAIR_HEADER = List.of("pair (difference = first − second)", "n", "win rate difference",
            "95% interval", "mean score difference", "95% interval");

    static List<List<String>> pairRows(List<PairResult> pairs) {
        List<List<String>> rows = new ArrayList<>();
        for (PairResult p : pairs) {
            rows.add(List.of(Methods.display(p.pair().method()) + " − " + Methods.display(p.pair().baseline()),
                    Integer.toString(p.seeds().size()), signed(p.winRate().meanDifference()), interval(p.winRate()),
                    signed(p.meanScore().meanDifference()), interval(p.meanScore())));
        }
        return rows;
    }

    /** The terminal output: the summary table, then the pairs (if any). */
    public String table() {
        StringBuilder out = new StringBuilder();
        out.append("At each run's last evaluated round; mean ± sd over the seeds (n runs); totals per run summed over its "
                + "rounds\n");
        out.append(textTable(SUMMARY_HEADER, summaryRows(summaries)));
        if (!pairs.isEmpty()) {
            out.append("\nPaired differences over the same seeds, mean ± t(0.975, n−1)·sd/√n\n");
            out.append(textTable(PAIR_HEADER, pairRows(pairs)));
        }
        return out.toString();
    }

    /** Columns padded to their widest cell; the first left-aligned, the others right-aligned. */
    static String textTable(List<String> header, List<List<String>> rows) {
        int[] width = new int[header.size()];
        List<List<String>> all = new ArrayList<>();
        all.add(header);
        all.addAll(rows);
        for (List<String> row : all) {
            for (int c = 0; c < row.size(); c++) {
                width[c] = Math.max(width[c], row.get(c).length());
            }
        }
        StringBuilder out = new StringBuilder();
        for (List<String> row : all) {
            StringBuilder line = new StringBuilder();
            for (int c = 0; c < row.size(); c++) {
                String cell = row.get(c);
                String pad = " ".repeat(width[c] - cell.length());
                line.append(c == 0 ? cell + pad : "  " + pad + cell);
            }
            out.append(line.toString().stripTrailing()).append('\n');
        }
        return out.toString();
    }

    /** {@code mean ± sd}; the mean alone for one value; "-" for none. */
    static String pm(Summary s, int decimals) {
        if (s.isEmpty()) {
            return "-";
        }
        String f = "%." + decimals + "f";
        return Double.isNaN(s.sd()) ? String.format(Locale.ROOT, f, s.mean())
                : String.format(Locale.ROOT, f + " ± " + f, s.mean(), s.sd());
    }

    /** As {@link #pm(Summary, int)}, noting n when fewer runs than {@code of} report the figure. */
    static String pm(Summary s, int decimals, int of) {
        String v = pm(s, decimals);
        return s.isEmpty() || s.n() == of ? v : v + " (n=" + s.n() + ")";
    }

    static String signed(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%+.3f", v);
    }

    static String interval(PairedInterval p) {
        return p.n() < 2 ? "- (n<2)" : String.format(Locale.ROOT, "[%+.3f, %+.3f]", p.low(), p.high());
    }

    // ---------------------------------------------------------------- compare.json

    /** The whole comparison: setup, what is equal and what is not, summaries, pairs, curves, and every run in full. */
    public ObjectNode json() {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        ObjectNode s = root.putObject("setup");
        s.set("methods", mapper.valueToTree(setup.methods()));
        s.set("seeds", mapper.valueToTree(setup.seeds()));
        s.put("iterations", setup.iterations());
        s.put("prompts_per_iteration", setup.promptsPerIteration());
        s.put("evaluation_split", setup.evaluationSplit());
        s.put("model", setup.model());
        s.set("settings", mapper.valueToTree(setup.settings().stream().map(RunConfigOverrides.Setting::toString).toList()));
        root.set("equal_across_methods", mapper.valueToTree(equalAcrossMethods()));
        root.set("different_across_methods", mapper.valueToTree(differentAcrossMethods()));
        ArrayNode sums = root.putArray("summaries");
        for (MethodSummary m : summaries) {
            ObjectNode o = sums.addObject();
            o.put("method", m.method());
            o.put("display", m.display());
            o.put("runs", m.runs());
            o.put("failed", m.failed());
            o.put("evaluated", m.evaluated());
            o.set("win_rate", summary(mapper, m.winRate()));
            o.set("mean_score", summary(mapper, m.meanScore()));
            o.set("mean_length", summary(mapper, m.meanLength()));
            o.set("wall_seconds", summary(mapper, m.wallSeconds()));
            o.set("signal_accuracy", summary(mapper, m.signalAccuracy()));
            o.set("used_judge_accuracy", summary(mapper, m.usedJudgeAccuracy()));
            o.set("samples_drawn", summary(mapper, m.samplesDrawn()));
            o.set("judge_comparisons", summary(mapper, m.judgeComparisons()));
            o.set("optimizer_steps", summary(mapper, m.optimizerSteps()));
            ObjectNode curves = o.putObject("per_split");
            for (var c : CURVES) {
                ArrayNode points = curves.putArray(c.getKey());
                for (Point p : curve(runsOf(outcomes, m.method()), c.getKey())) {
                    ObjectNode pn = points.addObject();
                    pn.put("split", p.split());
                    pn.setAll(summary(mapper, p.value()));
                }
            }
        }
        ArrayNode ps = root.putArray("pairs");
        for (PairResult p : pairs) {
            ObjectNode o = ps.addObject();
            o.put("method", p.pair().method());
            o.put("baseline", p.pair().baseline());
            o.set("seeds", mapper.valueToTree(p.seeds()));
            o.set("win_rate", interval(mapper, p.winRate(), p.winRateDifferences()));
            o.set("mean_score", interval(mapper, p.meanScore(), p.meanScoreDifferences()));
        }
        ArrayNode runs = root.putArray("runs");
        for (RunOutcome r : outcomes) {
            ObjectNode o = runs.addObject();
            o.put("method", r.method());
            o.put("seed", r.seed());
            o.put("run_id", r.runId());
            o.put("succeeded", r.succeeded());
            o.put("error", r.error());
            num(o, "wall_seconds", r.wallSeconds());
            o.set("config", ProtoJson.of(r.config()));
            o.set("run", r.run() == null ? null : ProtoJson.of(r.run()));
        }
        return root;
    }

    private static ObjectNode summary(ObjectMapper mapper, Summary s) {
        ObjectNode o = mapper.createObjectNode();
        num(o, "mean", s.mean());
        num(o, "sd", s.sd());
        o.put("n", s.n());
        return o;
    }

    private static ObjectNode interval(ObjectMapper mapper, PairedInterval p, List<Double> differences) {
        ObjectNode o = mapper.createObjectNode();
        ArrayNode d = o.putArray("differences");
        differences.forEach(v -> {
            if (Double.isNaN(v)) {
                d.addNull();
            } else {
                d.add(v);
            }
        });
        num(o, "mean", p.meanDifference());
        num(o, "sd", p.sd());
        o.put("n", p.n());
        num(o, "t", p.t());
        num(o, "low", p.low());
        num(o, "high", p.high());
        return o;
    }

    /** JSON has no NaN: a figure that does not exist is null. */
    private static void num(ObjectNode o, String name, double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            o.putNull(name);
        } else {
            o.put(name, v);
        }
    }

    // ---------------------------------------------------------------- files

    /** Writes {@code compare.html} and {@code compare.json} into {@code dir}; returns the HTML file. */
    public Path write(Path dir) {
        try {
            Files.createDirectories(dir);
            JsonNode json = json();
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(dir.resolve("compare.json").toFile(), json);
            Path html = dir.resolve("compare.html");
            Files.writeString(html, html(), StandardCharsets.UTF_8);
            return html;
        } catch (IOException e) {
            throw new UncheckedIOException("could not write the comparison to " + dir, e);
        }
    }

    String html() {
        StringBuilder page = new StringBuilder();
        page.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Steer: methods compared</title>\n"
                + "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}"
                + "td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
                + "th{background:#eee}img{margin:6px}.err{color:#a00}</style></head><body>\n");
        page.append("<h1>Methods compared in the oracle world</h1>\n<p>")
                .append(esc(String.join(", ", setup.methods().stream().map(Methods::display).toList())))
                .append("; seeds ").append(esc(setup.seeds().toString())).append(". Figures are the oracle's, which no method "
                        + "sees, at each run's last evaluated round; win rate is against the SFT model on the evaluation set "
                        + "(ties count half). Mean ± standard deviation (n − 1) over the seeds.</p>\n");
        page.append("<h2>The same for every method</h2>\n<ul>\n");
        equalAcrossMethods().forEach(s -> page.append("<li>").append(esc(s)).append("</li>\n"));
        page.append("</ul>\n<h2>Not the same</h2>\n<ul>\n");
        differentAcrossMethods().forEach(s -> page.append("<li>").append(esc(s)).append("</li>\n"));
        page.append("</ul>\n<p>Samples drawn, judge comparisons and optimizer steps are each run's sums over its rounds, "
                + "as the orchestrator reports them (0 where no round reports the figure).</p>\n");
        page.append("<h2>Per method</h2>\n").append(htmlTable(SUMMARY_HEADER, summaryRows(summaries)));
        if (!pairs.isEmpty()) {
            page.append("<h2>Paired differences</h2>\n<p>Over the seeds both methods succeeded on (the same seed is a pair): "
                    + "mean of the differences with its 95% interval, mean ± t(0.975, n − 1) · sd / √n.</p>\n")
                    .append(htmlTable(PAIR_HEADER, pairRows(pairs)));
        }
        page.append("<h2>Per iteration</h2>\n<p>The evaluated round of each iteration split; the line is the mean over the "
                + "seeds, the band ± one standard deviation.</p>\n<div>\n");
        for (var c : CURVES) {
            page.append(plot(c.getKey(), c.getValue()));
        }
        page.append("</div>\n<h2>Runs</h2>\n");
        List<List<String>> runRows = new ArrayList<>();
        for (RunOutcome o : outcomes) {
            Optional<IterationResult> last = o.succeeded() ? RunFigures.lastEvaluated(o.run()) : Optional.empty();
            runRows.add(List.of(Methods.display(o.method()), Long.toString(o.seed()), o.runId(),
                    o.succeeded() ? "succeeded" : o.error(), String.format(Locale.ROOT, "%.0f", o.wallSeconds()),
                    last.map(r -> fmt(RunFigures.eval(r, "win_rate"))).orElse("-"),
                    last.map(r -> fmt(RunFigures.eval(r, "mean_score"))).orElse("-"),
                    o.run() == null ? "-" : Integer.toString(o.run().getIterationsCount())));
        }
        page.append(htmlTable(List.of("method", "seed", "run", "outcome", "wall s", "win rate", "mean score", "rounds"),
                runRows));
        page.append("<p>Every run in full: <code>compare.json</code> beside this page.</p>\n</body></html>\n");
        return page.toString();
    }

    private static String htmlTable(List<String> header, List<List<String>> rows) {
        StringBuilder t = new StringBuilder("<table><tr>");
        header.forEach(h -> t.append("<th>").append(esc(h)).append("</th>"));
        t.append("</tr>\n");
        for (List<String> row : rows) {
            t.append("<tr>");
            row.forEach(c -> t.append("<td>").append(esc(c)).append("</td>"));
            t.append("</tr>\n");
        }
        return t.append("</table>\n").toString();
    }

    private static final java.awt.Color[] PALETTE = {
        new java.awt.Color(31, 119, 180), new java.awt.Color(255, 127, 14), new java.awt.Color(44, 160, 44),
        new java.awt.Color(214, 39, 40), new java.awt.Color(148, 103, 189), new java.awt.Color(140, 86, 75),
        new java.awt.Color(227, 119, 194), new java.awt.Color(127, 127, 127), new java.awt.Color(188, 189, 34),
        new java.awt.Color(23, 190, 207)};

    /** Every method's curve of one figure on one plot, as an embedded PNG; empty when no run has the figure. */
    String plot(String key, String title) {
        // the legend sits below the plot, a line per method
        org.knowm.xchart.XYChart chart = new org.knowm.xchart.XYChartBuilder().width(560)
                .height(300 + 20 * setup.methods().size()).title(title).xAxisTitle("iteration split")
                .yAxisTitle(key.replace('_', ' ')).build();
        chart.getStyler().setXAxisDecimalPattern("0");
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideS);
        boolean any = false;
        for (int m = 0; m < setup.methods().size(); m++) {
            String method = setup.methods().get(m);
            List<Point> points = curve(runsOf(outcomes, method), key);
            if (points.isEmpty()) {
                continue;
            }
            any = true;
            java.awt.Color color = PALETTE[m % PALETTE.length];
            double[] x = points.stream().mapToDouble(Point::split).toArray();
            double[] y = points.stream().mapToDouble(p -> p.value().mean()).toArray();
            double[] sd = points.stream().mapToDouble(p -> Double.isNaN(p.value().sd()) ? 0 : p.value().sd()).toArray();
            if (points.size() > 1) {
                // the band: a closed polygon along mean + sd and back along mean − sd
                double[] bx = new double[2 * x.length];
                double[] by = new double[2 * x.length];
                for (int i = 0; i < x.length; i++) {
                    bx[i] = x[i];
                    by[i] = y[i] + sd[i];
                    bx[bx.length - 1 - i] = x[i];
                    by[by.length - 1 - i] = y[i] - sd[i];
                }
                var band = chart.addSeries(Methods.display(method) + " ± sd", bx, by);
                band.setXYSeriesRenderStyle(org.knowm.xchart.XYSeries.XYSeriesRenderStyle.PolygonArea);
                band.setFillColor(new java.awt.Color(color.getRed(), color.getGreen(), color.getBlue(), 50));
                band.setLineColor(new java.awt.Color(color.getRed(), color.getGreen(), color.getBlue(), 0));
                band.setMarker(org.knowm.xchart.style.markers.SeriesMarkers.NONE);
                band.setShowInLegend(false);
                var line = chart.addSeries(Methods.display(method), x, y);
                line.setLineColor(color);
                line.setMarkerColor(color);
            } else {
                // one split: no band to draw, so ± sd as an error bar
                var line = chart.addSeries(Methods.display(method), x, y, sd);
                line.setLineColor(color);
                line.setMarkerColor(color);
            }
        }
        if (!any) {
            return "";
        }
        try {
            byte[] png = org.knowm.xchart.BitmapEncoder.getBitmapBytes(chart, org.knowm.xchart.BitmapEncoder.BitmapFormat.PNG);
            return "<img alt=\"" + esc(title) + "\" src=\"data:image/png;base64,"
                    + java.util.Base64.getEncoder().encodeToString(png) + "\">\n";
        } catch (IOException e) {
            throw new UncheckedIOException("could not draw " + title, e);
        }
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.3f", v);
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
