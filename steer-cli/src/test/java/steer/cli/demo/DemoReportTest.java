package steer.cli.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.proto.v1.IterationResult;
import steer.proto.v1.Run;
import steer.proto.v1.RunConfig;

class DemoReportTest {

    static {
        System.setProperty("java.awt.headless", "true");
    }

    private static Run run() {
        return Run.newBuilder().setRunId("r1").setConfig(RunConfig.newBuilder().setAlgorithm("sso").setSeed(7))
                .putAllBaselineMetrics(Map.of("mean_score", 0.65, "mean_length", 6.0, "signal_accuracy", 0.64, "on_policy", 0.54))
                .addIterations(IterationResult.newBuilder().setIteration(0).setPolicyVersion(0).setCheckpointVersion(1)
                        .setExamples(270).setSeconds(41)
                        .putAllEvalMetrics(Map.of("mean_score", 0.8, "win_rate", 0.63, "mean_length", 5.7, "signal_accuracy", 0.4,
                                "on_policy", 0.72))
                        .putAllTrainMetrics(Map.of("loss", 0.12, "sso_weight", 0.31)))
                .addIterations(IterationResult.newBuilder().setIteration(1).setPolicyVersion(1).setCheckpointVersion(2)
                        .setExamples(250).setSeconds(39)
                        .putAllEvalMetrics(Map.of("mean_score", 0.83, "win_rate", 0.66, "mean_length", 5.5, "signal_accuracy", 0.35,
                                "on_policy", 0.78))
                        .putAllTrainMetrics(Map.of("loss", 0.1, "sso_weight", 0.28)))
                .build();
    }

    @Test
    void anOnlineRunHasOneRowPerIterationSplitSummingItsRounds() {
        // 10 prompts per iteration in rounds of 4: rounds 0-2 are split 0, rounds 3-5 split 1; the last of each is evaluated
        Run.Builder b = Run.newBuilder().setRunId("o1").setConfig(RunConfig.newBuilder().setAlgorithm("osp").setSeed(1)
                .setPromptsPerIteration(10).setOsp(steer.proto.v1.OspSettings.newBuilder().setPromptsPerRound(4)))
                .putAllBaselineMetrics(Map.of("mean_score", 0.65, "mean_length", 6.0, "signal_accuracy", 0.64, "on_policy", 0.54));
        for (int r = 0; r < 6; r++) {
            IterationResult.Builder it = IterationResult.newBuilder().setIteration(r).setSplit(r / 3).setPolicyVersion(r)
                    .setCheckpointVersion(r + 1).setExamples(10 + r).setBatches(r + 1).setSeconds(2)
                    .putAllTrainMetrics(Map.of("loss", 0.6 + 0.01 * r));
            if (r % 3 == 2) {
                it.putAllEvalMetrics(Map.of("mean_score", 0.7 + r / 100.0, "win_rate", 0.55, "mean_length", 5.9,
                        "signal_accuracy", 0.6, "on_policy", 0.6));
            }
            b.addIterations(it);
        }
        DemoReport report = DemoReport.of(b.build());
        assertEquals(3, report.rows().size(), "SFT and two iterations");
        DemoReport.Row first = report.rows().get(1);
        assertEquals(3, first.checkpointVersion());
        assertEquals(10 + 11 + 12, first.examples());
        assertEquals(6, first.seconds(), 1e-12);
        assertEquals(0.72, first.meanScore(), 1e-12);
        // loss weighted by batches: (0.60·1 + 0.61·2 + 0.62·3) / 6
        assertEquals((0.60 + 0.61 * 2 + 0.62 * 3) / 6, first.loss(), 1e-12);
        assertEquals(6, report.rows().get(2).checkpointVersion());
        assertEquals(3, DemoReport.roundsPerSplit(b.getConfig()));
    }

    @Test
    void rowsStartWithTheSftModelThenOnePerIteration() {
        DemoReport report = DemoReport.of(run());
        assertEquals(3, report.rows().size());
        DemoReport.Row sft = report.rows().get(0);
        assertEquals(0, sft.iteration());
        assertEquals(0.65, sft.meanScore());
        assertTrue(Double.isNaN(sft.loss()), "the SFT model has no loss");
        DemoReport.Row second = report.rows().get(2);
        assertEquals(2, second.iteration());
        assertEquals(2, second.checkpointVersion());
        assertEquals(0.66, second.winRate());
        assertEquals(0.28, second.meanW());
        String table = report.table();
        assertTrue(table.contains("SFT"), table);
        assertTrue(table.lines().anyMatch(l -> l.startsWith("2 ") && l.contains("0.830") && l.contains("0.660")), table);
    }

    @Test
    void htmlIsSelfContainedWithOnePlotPerFigure(@TempDir Path dir) throws Exception {
        Path html = DemoReport.of(run()).write(dir);
        String page = Files.readString(html);
        assertFalse(page.contains("http://") || page.contains("https://") || page.contains("<script"),
                "no external resources: the report is viewed offline");
        Matcher images = Pattern.compile("src=\"data:image/png;base64,").matcher(page);
        int count = 0;
        while (images.find()) {
            count++;
        }
        assertEquals(7, count, "score, win rate, length, signal, on-policy, W, loss");
        JsonNode json = new ObjectMapper().readTree(dir.resolve("report.json").toFile());
        assertEquals("r1", json.get("run_id").asText());
        assertEquals(3, json.get("rows").size());
        assertEquals(0.83, json.get("rows").get(2).get("meanScore").asDouble());
    }
}
