package steer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code steer compare} for real: one local stack (broker and the four services, the world's small model), SSO and
 * PBAA for seeds 0 and 1 for one iteration of 20 prompts, and a method the orchestrator does not know, whose runs
 * fail without stopping the others. About a minute and a half on two cores.
 */
class CompareCommandTest {

    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

    @Test
    void runsEveryMethodAndSeedOnOneStackAndReportsTheFailedOnes(@TempDir Path work) throws Exception {
        String previousHome = System.getProperty("steer.home");
        System.setProperty("steer.home", ROOT.toString());
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(stdout, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(stderr, true, StandardCharsets.UTF_8));
            code = Main.run("compare", "--methods", "sso,pbaa,no-such-method", "--seeds", "0,1", "--iterations", "1",
                    "--prompts", "20", "--model", "models/world/small", "--out", work.toString(),
                    "--set", "*.eval_queries=100");
        } finally {
            System.setOut(out);
            System.setErr(err);
            if (previousHome == null) {
                System.clearProperty("steer.home");
            } else {
                System.setProperty("steer.home", previousHome);
            }
        }
        String printed = stdout.toString(StandardCharsets.UTF_8);
        String errors = stderr.toString(StandardCharsets.UTF_8);
        System.out.println(printed);
        System.out.println(errors);
        assertEquals(1, code, "two runs failed: the command says so in its exit code");

        // one progress line per run, in order; the unknown method's runs fail, the others still run
        List<String> progress = printed.lines().filter(l -> l.matches(".*\\[\\d/6].*")).toList();
        assertEquals(6, progress.size(), printed);
        for (int i = 0; i < 4; i++) {
            assertTrue(progress.get(i).contains("succeeded in"), progress.get(i));
        }
        assertTrue(progress.get(4).contains("no-such-method") && progress.get(4).contains("FAILED")
                && progress.get(4).contains("INVALID_ARGUMENT"), progress.get(4));
        assertTrue(errors.contains("2 of 6 runs failed"), errors);

        // the table: SSO and PBAA over 2 seeds each, the pair SSO − PBAA over both
        assertTrue(printed.lines().anyMatch(l -> l.matches("SSO\\s+2\\s+0\\s.*±.*")), printed);
        assertTrue(printed.lines().anyMatch(l -> l.matches("PBAA\\s+2\\s+0\\s.*±.*")), printed);
        assertTrue(printed.lines().anyMatch(l -> l.matches("no-such-method\\s+0\\s+2\\s.*")), printed);
        assertTrue(printed.lines().anyMatch(l -> l.matches("SSO − PBAA\\s+2\\s.*\\[.*")), printed);

        JsonNode json = new ObjectMapper().readTree(work.resolve("compare.json").toFile());
        assertEquals(6, json.get("runs").size());
        for (int i = 0; i < 4; i++) {
            JsonNode run = json.get("runs").get(i);
            assertTrue(run.get("succeeded").asBoolean(), run.get("error").asText());
            assertEquals("RUN_STATE_SUCCEEDED", run.get("run").get("state").asText());
            assertEquals(1, run.get("run").get("iterations").size());
            assertEquals(100, run.get("run").get("config").get("eval_queries").asInt(), "--set reached the run");
            assertTrue(run.get("run").get("iterations").get(0).get("eval_metrics").has("win_rate"));
            assertTrue(run.get("wall_seconds").asDouble() > 0);
        }
        assertTrue(json.get("runs").get(4).get("run").isNull(), "refused at StartRun");
        assertEquals(2, json.get("summaries").get(0).get("win_rate").get("n").asInt());
        assertEquals(1, json.get("pairs").size());
        assertEquals(List.of(0, 1), List.of(json.get("pairs").get(0).get("seeds").get(0).asInt(),
                json.get("pairs").get(0).get("seeds").get(1).asInt()));
        String page = Files.readString(work.resolve("compare.html"));
        assertTrue(page.contains("The same prompts per iteration") && page.contains("data:image/png;base64,"));
        assertFalse(page.contains("<script"));
    }
}
