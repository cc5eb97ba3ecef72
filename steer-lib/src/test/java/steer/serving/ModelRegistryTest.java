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
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.LoraCheckpoint;
import steer.checkpoint.LoraConfig;
import steer.checkpoint.LoraConfig.Target;
import steer.model.LanguageModel;
import steer.model.SamplingParams;
import steer.world.TinyWorldModel;

class ModelRegistryTest {

    @TempDir
    Path dir;

    @TempDir
    static Path shared;

    /** Tiny models under distinct seeds, all of one size; and the committed small world model, about 9 times larger. */
    static Path tiny1;
    static Path tiny2;
    static Path small;
    /** Bytes one tiny model's weights take as held: float32, so 4 a parameter. */
    static long tinyBytes;

    @BeforeAll
    static void writeModels() {
        tiny1 = TinyWorldModel.write(shared.resolve("tiny1"), 1);
        tiny2 = TinyWorldModel.write(shared.resolve("tiny2"), 2);
        small = Path.of(System.getProperty("steer.world.models.dir")).resolve("small");
        try (LanguageModel m = LanguageModel.load(tiny1)) {
            tinyBytes = m.parameterBytes();
            assertEquals(4 * m.parameterCount(), tinyBytes);
        }
    }

    private static List<String> names(ModelRegistry registry) {
        return registry.list().stream().map(ServedModel::name).toList();
    }

    private static List<String> names(List<ServedModel> models) {
        return models.stream().map(ServedModel::name).toList();
    }

    /** Acquires and releases {@code name}, as a request would: it becomes the most recently used. */
    private static void use(ModelRegistry registry, String name) {
        registry.acquire(name).close();
    }

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

    @Test
    void threeNamesAreServedAtOnceEachWithItsMemory() {
        try (ModelRegistry registry = new ModelRegistry(Optional.empty())) {
            assertTrue(registry.load("policy", 0, tiny1).evicted().isEmpty());
            assertTrue(registry.load("policy@v1", 1, tiny2).evicted().isEmpty());
            ModelRegistry.LoadResult big = registry.load("sft-small", 0, small);
            assertTrue(big.evicted().isEmpty(), "no budget, no evictions");
            assertEquals(List.of("policy", "policy@v1", "sft-small"), names(registry));
            assertEquals(tinyBytes, registry.find("policy").orElseThrow().memoryBytes());
            assertEquals(tinyBytes, registry.find("policy@v1").orElseThrow().memoryBytes());
            assertEquals(4 * big.model().parameters(), big.model().memoryBytes());
            assertTrue(big.model().memoryBytes() > 3 * tinyBytes, "small is larger than three tiny models");
            assertEquals(2 * tinyBytes + big.model().memoryBytes(), registry.memoryUsedBytes());
            assertEquals(0, registry.memoryBudgetBytes());
            for (String name : names(registry)) {
                try (ModelRegistry.Lease l = registry.acquire(name)) {
                    assertEquals(name, l.info().name());
                    assertTrue(open(l.model()));
                }
            }
        }
    }

    @Test
    void aBudgetEvictsTheLeastRecentlyUsedUnpinnedNamesAndTheirLeasesFinish() {
        try (ModelRegistry registry = new ModelRegistry(Optional.empty(), 3 * tinyBytes)) {
            registry.loadConfigured("policy", 0, tiny1); // pinned, and never used below: the oldest of all
            registry.load("a", 0, tiny1);
            registry.load("b", 0, tiny2);
            assertEquals(3 * tinyBytes, registry.memoryUsedBytes(), "exactly full: nothing evicted yet");
            use(registry, "a"); // b is now the least recently used unpinned name

            ModelRegistry.LoadResult c = registry.load("c", 0, tiny2);
            assertEquals(List.of("b"), names(c.evicted()));
            assertEquals(List.of("a", "c", "policy"), names(registry));
            assertThrows(UnknownModelException.class, () -> registry.acquire("b"));

            ModelRegistry.Lease running = registry.acquire("a");
            LanguageModel leased = running.model();
            use(registry, "c"); // a was acquired before c, so a goes next, though a request still holds it
            ModelRegistry.LoadResult d = registry.load("d", 0, tiny1);
            assertEquals(List.of("a"), names(d.evicted()));
            assertEquals(List.of("c", "d", "policy"), names(registry));
            assertTrue(open(leased), "an evicted model finishes the request that leased it");
            assertEquals(1, leased.complete(List.of("query : add 1 2"), SamplingParams.greedy(2), List.of()).size());
            running.close();
            assertFalse(open(leased), "and is closed when that lease ends");
            assertEquals(3 * tinyBytes, registry.memoryUsedBytes());
        }
    }

    @Test
    void thePinnedStartModelIsNeverEvicted() {
        try (ModelRegistry registry = new ModelRegistry(Optional.empty(), 2 * tinyBytes)) {
            registry.loadConfigured("policy", 0, tiny1);
            assertTrue(registry.pinned("policy"));
            registry.load("a", 0, tiny2);
            assertFalse(registry.pinned("a"));
            for (String next : List.of("b", "c", "d")) {
                ModelRegistry.LoadResult r = registry.load(next, 0, tiny2);
                assertEquals(1, r.evicted().size(), "one unpinned model makes room");
                assertFalse(names(r.evicted()).contains("policy"));
                assertEquals(List.of(next, "policy"), names(registry));
            }
            // a new version of the pinned name replaces it and stays pinned
            ModelRegistry.LoadResult v1 = registry.load("policy", 1, tiny2);
            assertTrue(v1.evicted().isEmpty());
            assertTrue(registry.pinned("policy"));
            assertEquals(1, registry.find("policy").orElseThrow().version());
        }
    }

    @Test
    void aModelTooLargeForTheBudgetFailsAndEvictsNothing() {
        try (ModelRegistry registry = new ModelRegistry(Optional.empty(), 3 * tinyBytes)) {
            registry.loadConfigured("policy", 0, tiny1);
            registry.load("a", 0, tiny1);
            registry.load("b", 0, tiny2);
            LanguageModel a;
            try (ModelRegistry.Lease l = registry.acquire("a")) {
                a = l.model();
            }
            MemoryBudgetException e = assertThrows(MemoryBudgetException.class, () -> registry.load("big", 0, small));
            assertTrue(e.getMessage().startsWith("model 'big' from " + small.toAbsolutePath().normalize() + " needs "),
                    e.getMessage());
            assertTrue(e.getMessage().contains("memory budget of " + 3 * tinyBytes + " bytes"), e.getMessage());
            assertTrue(e.getMessage().contains("(pinned: policy, " + tinyBytes + " bytes"), e.getMessage());
            assertTrue(e.getMessage().endsWith("nothing was evicted"), e.getMessage());
            assertEquals(List.of("a", "b", "policy"), names(registry));
            assertEquals(3 * tinyBytes, registry.memoryUsedBytes());
            // replacing a served name with a model too large keeps what that name served
            assertThrows(MemoryBudgetException.class, () -> registry.load("a", 1, small));
            try (ModelRegistry.Lease l = registry.acquire("a")) {
                assertSame(a, l.model());
                assertEquals(0, l.info().version());
                assertTrue(open(a));
            }
        }
        try (ModelRegistry empty = new ModelRegistry(Optional.empty(), tinyBytes - 1)) {
            assertThrows(MemoryBudgetException.class, () -> empty.loadConfigured("policy", 0, tiny1));
            assertTrue(empty.list().isEmpty());
            assertFalse(empty.pinned("policy"), "a start model that did not load is not pinned");
        }
    }

    @Test
    void replacingANameCountsItsOldSizeAsFreed() {
        try (ModelRegistry registry = new ModelRegistry(Optional.empty(), 3 * tinyBytes)) {
            registry.loadConfigured("policy", 0, tiny1);
            registry.load("a", 0, tiny1);
            registry.load("b", 0, tiny2); // full
            use(registry, "a");
            ModelRegistry.LoadResult swap = registry.load("b", 1, tiny1); // b is the least recently used, yet stays
            assertTrue(swap.evicted().isEmpty());
            assertEquals(0, swap.previous().orElseThrow().version());
            assertEquals(List.of("a", "b", "policy"), names(registry));
            assertEquals(3 * tinyBytes, registry.memoryUsedBytes());
        }
    }

    @Test
    void aNegativeBudgetIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ModelRegistry(Optional.empty(), -1));
        assertEquals("memory budget: -1 bytes is negative; 0 = unbounded", e.getMessage());
    }

    private static int arrays(LanguageModel m) {
        return m.decoder().manager().getManagedArrays().size();
    }

    static final LoraConfig LORA = LoraConfig.of(2, EnumSet.of(Target.Q, Target.V));

    /** Native arrays one {@link #LORA} adapter on a tiny model holds: A and B per layer and target, and the scale. */
    static int adapterArrays() {
        return 2 * LORA.targets().size() * TinyWorldModel.SIZE.layers() + 1;
    }

    @Test
    void adaptersGoOntoTheServedBaseReplaceEachOtherAndKeepTheBaseOpenUntilAFullModelReplacesThem() throws IOException {
        Path first = TinyWorldModel.writeAdapter(dir.resolve("first"), tiny1, LORA, 1, 0.3);
        Path second = TinyWorldModel.writeAdapter(dir.resolve("second"), tiny1, LORA, 2, 0.3);
        try (ModelRegistry registry = new ModelRegistry(Optional.empty())) {
            registry.load("policy", 0, tiny1);
            ModelRegistry.Lease onBase = registry.acquire("policy");
            LanguageModel base = onBase.model();
            int before = arrays(base);

            ModelRegistry.LoadResult v1 = registry.load("policy", 1, first);
            assertEquals(Optional.of(tiny1.toAbsolutePath().normalize()), v1.model().base());
            assertEquals(first.toAbsolutePath().normalize(), v1.model().location());
            assertEquals(0, v1.previous().orElseThrow().version());
            DecoderConfig c = base.decoder().config();
            long adapterValues = (long) c.numLayers() * LORA.rank()
                    * (Target.Q.in(c) + Target.Q.out(c) + Target.V.in(c) + Target.V.out(c));
            assertEquals(tinyBytes + 4 * adapterValues, v1.model().memoryBytes(), "the base's weights and the adapter's");
            assertEquals(registry.memoryUsedBytes(), v1.model().memoryBytes());
            ModelRegistry.Lease onFirst = registry.acquire("policy");
            LanguageModel adapted = onFirst.model();
            assertSame(base.tokenizer(), adapted.tokenizer());
            assertSame(base.decoder().manager(), adapted.decoder().manager(), "the base's weights, not a copy");
            assertEquals(before + adapterArrays(), arrays(base));

            // a second version onto the same base; a request on the first adapter finishes on it
            ModelRegistry.LoadResult v2 = registry.load("policy", 2, second);
            assertEquals(Optional.of(tiny1.toAbsolutePath().normalize()), v2.model().base(), "onto the base, not stacked");
            assertEquals(before + 2 * adapterArrays(), arrays(base));
            assertEquals(1, adapted.complete(List.of("query : add 1 2"), SamplingParams.greedy(2), List.of()).size());
            onFirst.close();
            assertEquals(before + adapterArrays(), arrays(base), "the last lease of the replaced adapter frees it");
            onBase.close();
            assertTrue(open(base), "the served adapter keeps its base open");

            // a misfit fails naming the file, and the second adapter stays served
            Path misfit = TinyWorldModel.writeAdapter(dir.resolve("misfit"), tiny1, LoraConfig.of(2, EnumSet.of(Target.Q)), 3, 0.3);
            Files.writeString(misfit.resolve(LoraConfig.FILE_NAME),
                    Files.readString(misfit.resolve(LoraConfig.FILE_NAME)).replace("\"r\" : 2", "\"r\" : 4"));
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> registry.load("policy", 3, misfit));
            assertFalse(e.badRequest());
            assertTrue(e.getMessage().startsWith("cannot apply the adapter " + misfit.toAbsolutePath().normalize()
                    + " onto 'policy' (base " + tiny1.toAbsolutePath().normalize() + "): "), e.getMessage());
            assertTrue(e.getMessage().contains(LoraCheckpoint.WEIGHTS_FILE + ": tensor "), e.getMessage());
            assertEquals(2, registry.find("policy").orElseThrow().version());
            assertEquals(before + adapterArrays(), arrays(base), "a failed adapter load leaves nothing allocated");

            // a full model under the name replaces adapter and base alike
            registry.load("policy", 4, tiny2);
            assertFalse(open(base));
            try (ModelRegistry.Lease l = registry.acquire("policy")) {
                assertTrue(l.info().base().isEmpty());
                assertNotSame(base.tokenizer(), l.model().tokenizer());
            }
        }
    }

    @Test
    void anAdapterNeedsItsBaseServedUnderTheNameAndClosingTheRegistryClosesBoth() {
        Path adapter = TinyWorldModel.writeAdapter(dir.resolve("adapter"), tiny1, LORA, 1, 0.3);
        try (ModelRegistry registry = new ModelRegistry(Optional.empty())) {
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> registry.load("fresh", 1, adapter));
            assertEquals("location: " + adapter.toAbsolutePath().normalize() + " is a LoRA adapter (adapter_config.json)"
                    + " but no model is served under 'fresh' to apply it onto; load its base model under that name first",
                    e.getMessage());
            assertTrue(registry.list().isEmpty());
        }
        LanguageModel base;
        ModelRegistry registry = new ModelRegistry(Optional.empty());
        registry.load("policy", 0, tiny1);
        try (ModelRegistry.Lease l = registry.acquire("policy")) {
            base = l.model();
        }
        registry.load("policy", 1, adapter);
        registry.close();
        assertFalse(open(base), "the registry's close releases the adapter, and the adapter its base");
    }
}
