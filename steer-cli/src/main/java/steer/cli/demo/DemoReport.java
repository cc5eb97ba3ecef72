package steer.cli.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import steer.proto.v1.IterationResult;
import steer.proto.v1.Run;
import steer.proto.v1.RunConfig;

/**
 * What a demo run shows: one row per iteration (row 0 is the SFT model the run starts from), as a table on
 * the terminal, as JSON, and as a self-contained HTML page whose plots are embedded PNGs (no CDN, no script).
 */
public final class DemoReport {

    /** One iteration's figures; NaN where a figure does not apply (the SFT row has no loss). */
    public record Row(int iteration, long checkpointVersion, double meanScore, double winRate, double meanLength,
                      double signalAccuracy, double onPolicy, double meanW, double loss, int examples, int dropped,
                      double seconds) {
    }

    private final String runId;
    private final String algorithm;
    private final long seed;
    private final List<Row> rows;

    public DemoReport(String runId, String algorithm, long seed, List<Row> rows) {
        this.runId = runId;
        this.algorithm = algorithm;
        this.seed = seed;
        this.rows = List.copyOf(rows);
    }

    /** The rows of a finished (or partly finished) run: the SFT baseline, then each completed iteration. */
    public static DemoReport of(Run run) {
        List<Row> rows = new ArrayList<>();
        Map<String, Double> base = run.getBaselineMetricsMap();
        if (!base.isEmpty()) {
            rows.add(new Row(0, 0, get(base, "mean_score"), 0.5, get(base, "mean_length"), get(base, "signal_accuracy"),
                    get(base, "on_policy"), Double.NaN, Double.NaN, 0, 0, 0));
        }
        // one row per iteration split: an online method's rounds of a split are summed (examples, seconds) and
        // averaged by batches (loss, W); the evaluation is the split's last round's
        Map<Integer, List<IterationResult>> splits = new java.util.TreeMap<>();
        boolean online = roundsPerSplit(run.getConfig()) > 1;
        for (IterationResult it : run.getIterationsList()) {
            splits.computeIfAbsent(online ? it.getSplit() : it.getIteration(), k -> new ArrayList<>()).add(it);
        }
        for (Map.Entry<Integer, List<IterationResult>> e : splits.entrySet()) {
            List<IterationResult> rounds = e.getValue();
            IterationResult last = rounds.get(rounds.size() - 1);
            Map<String, Double> eval = last.getEvalMetricsMap();
            int examples = 0;
            int dropped = 0;
            double seconds = 0;
            for (IterationResult it : rounds) {
                examples += it.getExamples();
                dropped += it.getDroppedDegenerate();
                seconds += it.getSeconds();
            }
            rows.add(new Row(e.getKey() + 1, last.getCheckpointVersion(), get(eval, "mean_score"), get(eval, "win_rate"),
                    get(eval, "mean_length"), get(eval, "signal_accuracy"), get(eval, "on_policy"),
                    batchMean(rounds, "sso_weight"), batchMean(rounds, "loss"), examples, dropped, seconds));
        }
        String algorithm = run.getConfig().getAlgorithm().isEmpty() ? "sso" : run.getConfig().getAlgorithm();
        return new DemoReport(run.getRunId(), algorithm, run.getConfig().getSeed(), rows);
    }

    /**
     * Rounds per iteration split of a run's config as the orchestrator returns it (every default spelled out): 1
     * for SSO-like methods, ⌈prompts per iteration / prompts per round⌉ for online ones and TSO's mini-batches.
     */
    public static int roundsPerSplit(RunConfig c) {
        int perRound = c.hasOsp() ? c.getOsp().getPromptsPerRound()
                : c.hasSelfRewarding() ? c.getSelfRewarding().getPromptsPerRound() : 0;
        if (c.hasTso() && c.getTso().getMiniBatches() > 0 && c.getPromptsPerIteration() > 0) {
            // TSO's mini-batches: ⌈prompts / T⌉ per round, as TsoMethod cuts them
            int t = c.getTso().getMiniBatches();
            perRound = (c.getPromptsPerIteration() + t - 1) / t;
        }
        if (perRound <= 0 || c.getPromptsPerIteration() <= 0) {
            return 1;
        }
        return (c.getPromptsPerIteration() + perRound - 1) / perRound;
    }

    /** A train metric's mean over rounds, weighted by their batches; NaN where no round has it. */
    private static double batchMean(List<IterationResult> rounds, String key) {
        if (rounds.size() == 1) {
            return get(rounds.get(0).getTrainMetricsMap(), key);
        }
        double sum = 0;
        double weight = 0;
        for (IterationResult it : rounds) {
            Double v = it.getTrainMetricsMap().get(key);
            if (v != null) {
                sum += v * it.getBatches();
                weight += it.getBatches();
            }
        }
        return weight == 0 ? Double.NaN : sum / weight;
    }

    public List<Row> rows() {
        return rows;
    }

    /** The terminal table. */
    public String table() {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%s, run %s, seed %d%n", algorithm.toUpperCase(Locale.ROOT), runId, seed));
        out.append(String.format(Locale.ROOT, "%-9s %7s %10s %9s %11s %7s %9s %7s %8s %8s %7s%n", "iteration", "version",
                "mean score", "win rate", "mean length", "signal", "on-policy", "mean W", "loss", "examples", "seconds"));
        for (Row r : rows) {
            out.append(String.format(Locale.ROOT, "%-9s %7d %10.3f %9s %11.2f %7.3f %9.3f %7s %8s %8s %7s%n",
                    r.iteration() == 0 ? "SFT" : Integer.toString(r.iteration()), r.checkpointVersion(), r.meanScore(),
                    r.iteration() == 0 ? "-" : fmt(r.winRate()), r.meanLength(), r.signalAccuracy(), r.onPolicy(),
                    fmt(r.meanW()), fmt(r.loss()), r.iteration() == 0 ? "-" : Integer.toString(r.examples()),
                    r.iteration() == 0 ? "-" : String.format(Locale.ROOT, "%.0f", r.seconds())));
        }
        return out.toString();
    }

    /** Writes {@code report.html} and {@code report.json} into {@code dir}; returns the HTML file. */
    public Path write(Path dir) {
        try {
            Files.createDirectories(dir);
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("run_id", runId);
            json.put("algorithm", algorithm);
            json.put("seed", seed);
            json.put("rows", rows);
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValue(dir.resolve("report.json").toFile(), json);
            Path html = dir.resolve("report.html");
            Files.writeString(html, html(), StandardCharsets.UTF_8);
            return html;
        } catch (IOException e) {
            throw new UncheckedIOException("could not write the report to " + dir, e);
        }
    }

    String html() {
        StringBuilder page = new StringBuilder();
        page.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Steer ").append(esc(algorithm))
                .append(" run ").append(esc(runId)).append("</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
                        + "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}"
                        + "th{background:#eee}img{margin:6px}</style></head><body>\n");
        page.append("<h1>").append(esc(algorithm.toUpperCase(Locale.ROOT))).append(" in the oracle world</h1>\n<p>Run <code>")
                .append(esc(runId)).append("</code>, seed ").append(seed).append(". Iteration 0 is the SFT model the run starts "
                        + "from; win rate is against it on the held-out queries (ties count half). Scores are the oracle's, "
                        + "which the method never sees.</p>\n<table><tr><th>iteration</th><th>checkpoint</th><th>mean score</th>"
                        + "<th>win rate</th><th>mean length</th><th>signal accuracy</th><th>on-policy</th><th>mean W</th>"
                        + "<th>loss</th><th>examples</th><th>dropped</th><th>seconds</th></tr>\n");
        for (Row r : rows) {
            page.append("<tr><td>").append(r.iteration() == 0 ? "SFT" : r.iteration()).append("</td><td>")
                    .append(r.checkpointVersion()).append("</td><td>").append(fmt(r.meanScore())).append("</td><td>")
                    .append(r.iteration() == 0 ? "" : fmt(r.winRate())).append("</td><td>").append(fmt(r.meanLength()))
                    .append("</td><td>").append(fmt(r.signalAccuracy())).append("</td><td>").append(fmt(r.onPolicy()))
                    .append("</td><td>").append(fmt(r.meanW())).append("</td><td>").append(fmt(r.loss())).append("</td><td>")
                    .append(r.examples()).append("</td><td>").append(r.dropped()).append("</td><td>")
                    .append(String.format(Locale.ROOT, "%.0f", r.seconds())).append("</td></tr>\n");
        }
        page.append("</table>\n<div>\n");
        page.append(plot("mean oracle score", "score", Row::meanScore));
        page.append(plot("win rate against SFT", "win rate", Row::winRate));
        page.append(plot("mean response length", "tokens", Row::meanLength));
        page.append(plot("signal accuracy (y+ above y-)", "accuracy", Row::signalAccuracy));
        page.append(plot("on-policyness", "mean e^(log-prob/token)", Row::onPolicy));
        page.append(plot("mean W", "W", Row::meanW));
        page.append(plot("training loss", "loss", Row::loss));
        page.append("</div></body></html>\n");
        return page.toString();
    }

    /** One curve over the iterations as an embedded PNG; empty when the figure is missing everywhere. */
    private String plot(String title, String yTitle, ToDoubleFunction<Row> figure) {
        List<Double> xs = new ArrayList<>();
        List<Double> ys = new ArrayList<>();
        for (Row r : rows) {
            double y = figure.applyAsDouble(r);
            if (!Double.isNaN(y)) {
                xs.add((double) r.iteration());
                ys.add(y);
            }
        }
        if (xs.isEmpty()) {
            return "";
        }
        XYChart chart = new XYChartBuilder().width(520).height(320).title(title).xAxisTitle("iteration").yAxisTitle(yTitle)
                .build();
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setXAxisDecimalPattern("0");
        chart.addSeries(algorithm, xs, ys);
        try {
            byte[] png = BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
            return "<img alt=\"" + esc(title) + "\" src=\"data:image/png;base64," + Base64.getEncoder().encodeToString(png)
                    + "\">\n";
        } catch (IOException e) {
            throw new UncheckedIOException("could not draw " + title, e);
        }
    }

    private static double get(Map<String, Double> map, String key) {
        Double v = map.get(key);
        return v == null ? Double.NaN : v;
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.3f", v);
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
