package steer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.world.TinyWorldModel;

class WorldCommandTest {

    @TempDir
    Path dir;

    @Test
    void evalPrintsEveryFigureAsJsonAndIsDeterministicForASeed() {
        Path model = TinyWorldModel.write(dir.resolve("model"), 2);
        String[] args = {"world", "eval", "--model", model.toString(), "--baseline", model.toString(), "--seed", "3", "--json"};
        String first = Stories260kTest.capture(args);
        assertEquals(first, Stories260kTest.capture(args), "same seed, same figures");
        JsonNode r = Stories260kTest.parse(first);
        for (String key : new String[] {"mean_score", "win_rate", "mean_length", "per_feature", "signal_accuracy",
            "on_policy", "judge_accuracy", "position_consistency", "n"}) {
            assertTrue(r.has(key), "missing " + key + " in " + first);
        }
        for (String feature : new String[] {"accuracy", "concision", "safety", "format"}) {
            assertTrue(r.get("per_feature").has(feature), first);
        }
        assertEquals(500, r.get("n").asInt());
        assertEquals(0.5, r.get("win_rate").asDouble(), 1e-12, "a model against itself ties everywhere");
        String table = Stories260kTest.capture("world", "eval", "--model", model.toString(), "--seed", "3");
        assertTrue(table.contains("signal_accuracy") && table.contains("per_feature.safety"), table);
    }
}
