package steer.cli;

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
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;
import steer.world.JudgeCalibration;

/** {@code steer judge calibrate}'s report: a self-contained HTML page with the reliability diagram, and a JSON. */
final class CalibrationReport {

    private CalibrationReport() {
    }

    /** The terminal lines. */
    static String table(Path model, JudgeCalibration.Report r) {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "judge %s, template %s: %d held-out pairs (oracle labels), temperature"
                + " fitted on %d seed pairs (annotated labels)%n", model, r.template(), r.heldOut(), r.fitPairs()));
        out.append(String.format(Locale.ROOT, "%-12s %6s %9s %11s %7s %7s %8s%n", "", "T", "accuracy", "consistency",
                "ECE", "Brier", "log loss"));
        for (JudgeCalibration.Figures f : List.of(r.raw(), r.calibrated())) {
            out.append(String.format(Locale.ROOT, "%-12s %6.3f %9.3f %11.3f %7.3f %7.3f %8.3f%n",
                    f == r.raw() ? "raw" : "calibrated", f.temperature(), f.accuracy(), f.positionConsistency(),
                    f.ece(), f.brier(), f.logLoss()));
        }
        out.append(String.format(Locale.ROOT, "fitting pairs' log loss: %.3f at T = 1, %.3f at T = %.3f%n", r.fitRaw(),
                r.fitFitted(), r.calibrated().temperature()));
        return out.toString();
    }

    /** Writes {@code calibration.html} and {@code calibration.json} into {@code dir}; returns the HTML file. */
    static Path write(Path dir, Path model, JudgeCalibration.Report r) {
        try {
            Files.createDirectories(dir);
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("model", model.toString());
            json.put("report", r);
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValue(dir.resolve("calibration.json").toFile(), json);
            Path html = dir.resolve("calibration.html");
            Files.writeString(html, html(model, r), StandardCharsets.UTF_8);
            return html;
        } catch (IOException e) {
            throw new UncheckedIOException("could not write the calibration report to " + dir, e);
        }
    }

    private static String html(Path model, JudgeCalibration.Report r) {
        StringBuilder page = new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                + "<title>Judge calibration</title><style>body{font-family:sans-serif;margin:2em;max-width:1000px}"
                + "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}"
                + "th{background:#eee}</style></head><body>\n");
        page.append("<h1>Judge calibration</h1>\n<p>Judge <code>").append(esc(model.toString()))
                .append("</code>, template <code>").append(esc(r.template())).append("</code>: ").append(r.heldOut())
                .append(" held-out pairs of the oracle world, labelled by the oracle; p(A better) is the mean of both"
                        + " orders of presentation. The temperature is fitted on ").append(r.fitPairs())
                .append(" pairs of the labelled seed set (annotated labels, 15% flipped), never on the pairs it is"
                        + " measured on. ECE over ").append(JudgeCalibration.BINS).append(" equal-width bins.</p>\n");
        page.append("<table><tr><th></th><th>T</th><th>accuracy</th><th>position consistency</th><th>ECE</th>"
                + "<th>Brier</th><th>log loss</th></tr>\n");
        for (JudgeCalibration.Figures f : List.of(r.raw(), r.calibrated())) {
            page.append(String.format(Locale.ROOT, "<tr><td>%s</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td>"
                    + "<td>%.3f</td><td>%.3f</td></tr>%n", f == r.raw() ? "raw" : "calibrated", f.temperature(),
                    f.accuracy(), f.positionConsistency(), f.ece(), f.brier(), f.logLoss()));
        }
        page.append("</table>\n<h2>Reliability diagram</h2>\n").append(diagram(r)).append("<table><tr><th>bin</th>"
                + "<th>pairs</th><th>mean p (raw)</th><th>share A better</th><th>pairs (calibrated)</th>"
                + "<th>mean p</th><th>share A better</th></tr>\n");
        for (int b = 0; b < JudgeCalibration.BINS; b++) {
            JudgeCalibration.Bin raw = r.raw().bins().get(b);
            JudgeCalibration.Bin cal = r.calibrated().bins().get(b);
            page.append(String.format(Locale.ROOT, "<tr><td>%.1f–%.1f</td><td>%d</td><td>%s</td><td>%s</td><td>%d</td>"
                    + "<td>%s</td><td>%s</td></tr>%n", raw.low(), raw.high(), raw.count(), fmt(raw.meanP()),
                    fmt(raw.shareABetter()), cal.count(), fmt(cal.meanP()), fmt(cal.shareABetter())));
        }
        page.append("</table></body></html>\n");
        return page.toString();
    }

    /** Mean p against the share of A-better per non-empty bin, raw and calibrated, with the diagonal. */
    private static String diagram(JudgeCalibration.Report r) {
        XYChart chart = new XYChartBuilder().width(560).height(420).title("reliability").xAxisTitle("mean p(A better)")
                .yAxisTitle("share where A is better").build();
        chart.getStyler().setXAxisMin(0.0).setXAxisMax(1.0).setYAxisMin(0.0).setYAxisMax(1.0);
        chart.addSeries("perfect", List.of(0.0, 1.0), List.of(0.0, 1.0)).setMarker(SeriesMarkers.NONE);
        for (JudgeCalibration.Figures f : List.of(r.raw(), r.calibrated())) {
            List<Double> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            for (JudgeCalibration.Bin b : f.bins()) {
                if (b.count() > 0) {
                    x.add(b.meanP());
                    y.add(b.shareABetter());
                }
            }
            if (!x.isEmpty()) {
                chart.addSeries(String.format(Locale.ROOT, f == r.raw() ? "raw (T = 1)" : "calibrated (T = %.2f)",
                        f.temperature()), x, y);
            }
        }
        try {
            byte[] png = BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
            return "<img alt=\"reliability diagram\" src=\"data:image/png;base64,"
                    + Base64.getEncoder().encodeToString(png) + "\">\n";
        } catch (IOException e) {
            throw new UncheckedIOException("could not draw the reliability diagram", e);
        }
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.3f", v);
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
