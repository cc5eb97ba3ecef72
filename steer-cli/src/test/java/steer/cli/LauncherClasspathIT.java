package steer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line on the class path {@code ./steer} gives it ({@code target/steer-cli.jar} and {@code target/lib/*},
 * the runtime scope only), not the test class path: a dependency that only tests see is missing here. Chat models
 * need the Jinja engine and everything it loads, so {@code generate --chat} on the real Qwen tokenizer is the case.
 */
class LauncherClasspathIT {

    @TempDir
    Path dir;

    @Test
    void generateChatRunsOnTheLaunchersClassPath() throws Exception {
        Path model = GenerateChatTest.tinyQwenChatModel(dir.resolve("qwen-tiny"));
        String classPath = System.getProperty("steer.cli.jar") + File.pathSeparator
                + Path.of(System.getProperty("steer.cli.lib")).resolve("*");
        Process p = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1", "-cp", classPath, Main.class.getName(),
                "generate", "--model", model.toString(), "--chat", "--system", "Be brief.", "--prompt", "2+2?",
                "--max-new-tokens", "2", "--temperature", "0", "--json"))
                .redirectError(dir.resolve("stderr.txt").toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES));
        assertEquals(0, p.exitValue(), out + Files.readString(dir.resolve("stderr.txt")));
        JsonNode r = Stories260kTest.parse(out);
        assertTrue(r.get("prompt").asText().endsWith("<|im_start|>assistant\n"), out);
    }
}
