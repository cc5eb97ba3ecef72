package steer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@code steer bench serve}'s and {@code bench generate}'s arguments are checked before anything starts. */
class BenchArgumentsTest {

    private static String refused(String... args) {
        return refusedCommand("serve", args);
    }

    private static String refusedCommand(String command, String... args) {
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            String[] all = new String[args.length + 2];
            all[0] = "bench";
            all[1] = command;
            System.arraycopy(args, 0, all, 2, args.length);
            assertEquals(2, Main.run(all), "refused with exit code 2");
        } finally {
            System.setErr(err);
        }
        return captured.toString(StandardCharsets.UTF_8);
    }

    @Test
    void anUnknownSchedulerIsNamedBeforeAnythingStarts() {
        String message = refused("--model", "/nonexistent", "--requests", "5", "--schedulers", "continuous,foo");
        assertTrue(message.contains("unknown scheduler 'foo'") && message.contains("continuous-device"), message);
    }

    @Test
    void aZeroMaxNewTokensIsRefusedNotReplacedByTheDefault() {
        // 0 in GenerateRequest means "the server's default", so the bench would silently measure another mix
        String message = refused("--model", "/nonexistent", "--new-tokens", "16,0");
        assertTrue(message.contains("--new-tokens [16, 0]"), message);
    }

    @Test
    void aNegativeOrNanWarmUpIsRefused() {
        String message = refused("--model", "/nonexistent", "--warm-up", "-1");
        assertTrue(message.contains("--warm-up -1.0"), message);
        message = refused("--model", "/nonexistent", "--warm-up", "NaN");
        assertTrue(message.contains("--warm-up NaN"), message);
    }

    @Test
    void generateRefusesZeroRepeatsAndZeroStreams() {
        // zero repeats once ended in an index error, zero streams in a line of 0 tokens/s
        String message = refusedCommand("generate", "--model", "/nonexistent", "--repeats", "0");
        assertTrue(message.contains("--repeats 0"), message);
        message = refusedCommand("generate", "--model", "/nonexistent", "--streams", "1,0");
        assertTrue(message.contains("--streams [1, 0]"), message);
    }
}
