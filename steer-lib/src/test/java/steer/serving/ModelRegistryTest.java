package steer.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.model.LanguageModel;
import steer.model.SamplingParams;
import steer.world.TinyWorldModel;

class ModelRegistryTest {

    @TempDir
    Path dir;

    private static boolean open(LanguageModel m) {
        return m.decoder().manager().isOpen();
    }

    /** Writes a model, then truncates its weights file so that loading it fails. */
    private static Path writeTruncated(Path dir) throws IOException {
        TinyWorldModel.write(dir, 1);
        Path weights = dir.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(weights);
        Files.write(weights, Arrays.copyOf(bytes, bytes.length / 2));
        return dir;
    }

    @Test
    void aSwapKeepsTheOldInstanceForItsLeasesAndClosesItAfterTheLast() {
        Path v0 = TinyWorldModel.write(dir.resolve("v0"), 1);
        Path v1 = TinyWorldModel.write(dir.resolve("v1"), 2);
        try (ModelRegistry registry = new ModelRegistry(Optional.empty())) {
            ModelRegistry.LoadResult first = registry.load("policy", 0, v0);
            assertTrue(first.previous().isEmpty());
            ModelRegistry.Lease running = registry.acquire("policy");
            LanguageModel old = running.model();

            ModelRegistry.LoadResult second = registry.load("policy", 1, v1);
            assertEquals(0, second.previous().orElseThrow().version());
            assertEquals(1, second.model().version());
            assertTrue(open(old), "a running request keeps its instance");
            // the old instance still computes
            assertEquals(1, old.complete(List.of("query : add 1 2"), SamplingParams.greedy(2), List.of()).size());

            try (ModelRegistry.Lease later = registry.acquire("policy")) {
                assertNotSame(old, later.model());
                assertEquals(1, later.info().version());
            }
            running.close();
            assertFalse(open(old), "the last lease closes the swapped-out instance");
            running.close(); // twice is harmless
            try (ModelRegistry.Lease again = registry.acquire("policy")) {
                assertTrue(open(again.model()), "the served instance stays open after its leases end");
            }
        }
    }

    @Test
    void aMalformedCheckpointNamesTheFileAndKeepsTheOldModel() throws Exception {
        Path good = TinyWorldModel.write(dir.resolve("good"), 1);
        Path bad = writeTruncated(dir.resolve("bad"));
        try (ModelRegistry registry = new ModelRegistry(Optional.empty())) {
            registry.load("policy", 0, good);
            LanguageModel served;
            try (ModelRegistry.Lease l = registry.acquire("policy")) {
                served = l.model();
            }
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> registry.load("policy", 1, bad));
            assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
            assertFalse(e.badRequest());
            try (ModelRegistry.Lease l = registry.acquire("policy")) {
                assertSame(served, l.model());
                assertEquals(0, l.info().version());
                assertTrue(open(l.model()));
            }
        }
    }

    @Test
    void unknownNamesAndDisallowedLocationsAreTypedErrors() throws Exception {
        Path root = Files.createDirectories(dir.resolve("store"));
        Path inside = TinyWorldModel.write(root.resolve("v0"), 1);
        Path outside = TinyWorldModel.write(dir.resolve("elsewhere"), 1);
        try (ModelRegistry registry = new ModelRegistry(Optional.of(root))) {
            UnknownModelException unknown = assertThrows(UnknownModelException.class, () -> registry.acquire("nope"));
            assertTrue(unknown.getMessage().startsWith("model: no model named 'nope'"), unknown.getMessage());
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> registry.load("policy", 0, root.resolve("../elsewhere")));
            assertTrue(e.badRequest());
            assertTrue(e.getMessage().contains("outside the allowed checkpoint root"), e.getMessage());
            assertTrue(registry.list().isEmpty());
            assertTrue(Files.isDirectory(outside));
            registry.load("policy", 0, inside);
            assertEquals(List.of("policy"), registry.list().stream().map(ServedModel::name).toList());
            ModelLoadException missing = assertThrows(ModelLoadException.class,
                    () -> registry.load("policy", 1, root.resolve("v9")));
            assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
        }
    }
}
