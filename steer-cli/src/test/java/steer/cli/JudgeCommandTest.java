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
}
