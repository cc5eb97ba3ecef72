package steer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.model.LanguageModel;
import steer.world.JudgeAugmentation;

/** {@code ./steer judge augment} on the committed small world model with a tiny budget. */
class JudgeCommandTest {

    private static final Path SMALL = Path.of(System.getProperty("user.dir")).getParent().resolve("models/world/small");

    @TempDir
    Path dir;

    @Test
    void augmentWritesALoadableJudgeAndReportsBeforeAndAfter() throws Exception {
        Path out = dir.resolve("judge");
        // 0.001 of the seed set: 20 pairs, 40 instructions, 3 steps of 16
        JsonNode r = Stories260kTest.parse(Stories260kTest.capture("judge", "augment", "--model", SMALL.toString(),
                "--out", out.toString(), "--seed-fraction", "0.001", "--epochs", "1", "--seed", "1", "--json"));
        assertEquals(20, r.get("seed_pairs").asInt());
        assertEquals(40, r.get("instructions").asInt());
        assertEquals(3, r.get("steps").asInt());
        assertTrue(r.get("train_seconds").asDouble() > 0);
        for (String when : new String[] {"before", "after"}) {
            for (String key : new String[] {"judge_accuracy", "position_consistency"}) {
                double v = r.get(when).get(key).asDouble(-1);
                assertTrue(v >= 0 && v <= 1, when + "." + key + " = " + v + " in " + r);
            }
        }
        try (LanguageModel judge = LanguageModel.load(out); LanguageModel start = LanguageModel.load(SMALL)) {
            assertEquals(start.decoder().config(), judge.decoder().config());
        }
        assertTrue(Files.exists(out.resolve("tokenizer.json")));
        assertEquals(40, Files.readAllLines(out.resolve(JudgeAugmentation.INSTRUCTIONS_FILE)).size());
        assertEquals(3, Files.readAllLines(out.resolve("metrics.jsonl")).size());
        assertFalse(Files.exists(out.resolve("checkpoints")), "only the finished judge is kept");
        assertEquals(r.get("after"), Stories260kTest.parse(Files.readString(out.resolve(JudgeAugmentation.REPORT_FILE)))
                .get("after"));
    }

    @Test
    void badFractionsAreOneLineErrorsWithExitCode2() {
        for (String f : new String[] {"0", "-0.5", "1.01", "0.00001", "abc"}) {
            Path out = dir.resolve("never");
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            PrintStream old = System.err;
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code;
            try {
                code = Main.run("judge", "augment", "--model", SMALL.toString(), "--out", out.toString(),
                        "--seed-fraction", f);
            } finally {
                System.setErr(old);
            }
            String msg = err.toString(StandardCharsets.UTF_8);
            assertEquals(2, code, f + ": " + msg);
            assertTrue(msg.contains("--seed-fraction"), msg);
            assertFalse(Files.exists(out), "nothing is written for " + f);
        }
    }

    @Test
    void calibrateWritesTheReportWithTheReliabilityDiagram() throws Exception {
        Path out = dir.resolve("calibration");
        String printed = Stories260kTest.capture("judge", "calibrate", "--model", SMALL.toString(), "--pairs", "40",
                "--fit-pairs", "60", "--out", out.toString());
        assertTrue(printed.contains("40 held-out pairs") && printed.contains("60 seed pairs"), printed);
        assertTrue(printed.contains("raw ") && printed.contains("calibrated "), printed);
        assertTrue(Files.readString(out.resolve("calibration.html")).contains("data:image/png;base64,"));
        JsonNode r = Stories260kTest.parse(Files.readString(out.resolve("calibration.json"))).get("report");
        assertEquals(40, r.get("heldOut").asInt());
        assertEquals(1.0, r.get("raw").get("temperature").asDouble());
        double t = r.get("calibrated").get("temperature").asDouble();
        assertTrue(t > 0.05 && t < 20, "fitted in the search interval: " + t);
        assertTrue(r.get("fitFitted").asDouble() <= r.get("fitRaw").asDouble() + 1e-9,
                "the fitted temperature is no worse on the pairs it was fitted on");
        assertEquals(r.get("raw").get("accuracy"), r.get("calibrated").get("accuracy"));
    }

    @Test
    void calibrateRefusesAMissingModelAndAnUnknownTemplate() {
        String[][] cases = {{"--model", "judge", "calibrate", "--model", dir.resolve("none").toString()},
                {"no-such", "judge", "calibrate", "--model", SMALL.toString(), "--template", "no-such", "--pairs", "2"}};
        for (String[] c : cases) {
            String[] args = java.util.Arrays.copyOfRange(c, 1, c.length);
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            PrintStream old = System.err;
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code;
            try {
                code = Main.run(args);
            } finally {
                System.setErr(old);
            }
            String msg = err.toString(StandardCharsets.UTF_8);
            assertEquals(2, code, msg);
            assertTrue(msg.contains(c[0]), "the error names " + c[0] + ": " + msg);
        }
    }

    @Test
    void compareAsksTheRunningJudgeThroughTheClientWithItsKey() throws Exception {
        Path root = SMALL.getParent().getParent().getParent();
        Path jar = root.resolve("judge-svc/target/quarkus-app/quarkus-run.jar");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isRegularFile(jar), "judge-svc is packaged before steer-cli");
        java.util.Map<String, String> config = new java.util.LinkedHashMap<>();
        config.put("steer.judge.model-location", SMALL.toString());
        config.put("steer.judge.model-name", "sft");
        config.put("steer.judge.api-keys", "team-key-1");
        try (steer.launch.ServiceProcess judge = new steer.launch.ServiceProcess("judge", jar,
                steer.launch.FreePorts.next(), config, dir.resolve("logs")).start()) {
            judge.awaitReady(java.time.Duration.ofMinutes(2));
            String[] ask = {"judge", "compare", "--target", judge.address(), "--prompt", "add 3 4", "--response-a",
                    "answer : 7 .", "--response-b", "answer : 9 .", "--json"};
            String[] withKey = java.util.Arrays.copyOf(ask, ask.length + 2);
            withKey[ask.length] = "--api-key";
            withKey[ask.length + 1] = "team-key-1";
            JsonNode c = Stories260kTest.parse(Stories260kTest.capture(withKey));
            steer.judge.PairwiseJudge.Verdict expected;
            try (LanguageModel m = LanguageModel.load(SMALL)) {
                expected = new steer.judge.PairwiseJudge(steer.judge.JudgeTemplates.world().pairwise("t", ""))
                        .compare(m, java.util.List.of(new steer.judge.PairwiseJudge.Item("add 3 4", "answer : 7 .",
                                "answer : 9 ."))).get(0);
            }
            assertEquals(expected.pABetter(), c.get("p_a_better").asDouble(), 1e-6, c.toString());
            assertEquals(expected.pAB(), c.get("p_a_better_ab").asDouble(), 1e-6);
            assertEquals("sft", c.get("model").asText());

            // without the key: one line naming the status, exit code 2, and the service still answers
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            PrintStream old = System.err;
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code;
            try {
                code = Main.run(ask);
            } finally {
                System.setErr(old);
            }
            assertEquals(2, code);
            assertTrue(err.toString(StandardCharsets.UTF_8).contains("UNAUTHENTICATED"), err.toString());
            assertEquals(c, Stories260kTest.parse(Stories260kTest.capture(withKey)));
        }
    }
}
