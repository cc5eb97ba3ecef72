package steer.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static steer.checkpoint.CheckpointFixtures.assertFails;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsShardedTest {

    @TempDir
    Path dir;

    private Map<String, HostTensor> weights;
    private Path index;

    /** Writes the tiny Llama's weights split over two shards, the first half of the names in shard 1. */
    @BeforeEach
    void writeShards() throws IOException {
        weights = CheckpointFixtures.randomWeights(CheckpointFixtures.tinyLlama(false), 11);
        List<HostTensor> all = new ArrayList<>(weights.values());
        List<HostTensor> first = all.subList(0, all.size() / 2);
        List<HostTensor> second = all.subList(all.size() / 2, all.size());
        SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), first);
        SafetensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), second);
        StringBuilder json = new StringBuilder("{\"metadata\":{\"total_size\":0},\"weight_map\":{");
        for (HostTensor t : all) {
            String shard = first.contains(t) ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
            json.append('"').append(t.name()).append("\":\"").append(shard).append("\",");
        }
        json.setLength(json.length() - 1);
        json.append("}}");
        index = Files.writeString(dir.resolve(SafetensorsReader.INDEX_FILE), json);
    }

    @Test
    void shardedLoadEqualsUnshardedLoad() throws IOException {
        Path single = Files.createDirectory(dir.resolve("single"));
        SafetensorsWriter.write(single.resolve(SafetensorsReader.SINGLE_FILE), weights.values());

        Map<String, HostTensor> sharded = SafetensorsReader.readCheckpoint(dir);
        Map<String, HostTensor> unsharded = SafetensorsReader.readCheckpoint(single);

        assertEquals(unsharded.keySet(), sharded.keySet());
        assertEquals(new ArrayList<>(weights.keySet()), new ArrayList<>(sharded.keySet()));  // weight_map order
        for (String name : unsharded.keySet()) {
            assertArrayEquals(unsharded.get(name).shape(), sharded.get(name).shape(), name);
            assertArrayEquals(unsharded.get(name).data(), sharded.get(name).data(), name);
        }
    }

    @Test
    void singleFileWinsOverTheIndex() {
        SafetensorsWriter.write(dir.resolve(SafetensorsReader.SINGLE_FILE), List.of(new HostTensor("only", new long[] {1}, new float[] {1})));

        assertEquals(List.of("only"), new ArrayList<>(SafetensorsReader.readCheckpoint(dir).keySet()));
    }

    @Test
    void indexNamingAMissingShard() throws IOException {
        Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
        assertFails(() -> SafetensorsReader.readCheckpoint(dir), index, "shard model-00002-of-00002.safetensors", "not found");
    }

    @Test
    void tensorMissingFromItsShard() throws IOException {
        Path shard = dir.resolve("model-00002-of-00002.safetensors");
        String missing = HfTensorLayout.FINAL_NORM;
        Map<String, HostTensor> kept = SafetensorsReader.read(shard);
        kept.remove(missing);
        SafetensorsWriter.write(shard, kept.values());
        assertFails(() -> SafetensorsReader.readCheckpoint(dir), shard, "tensor " + missing, "missing from it");
    }

    @Test
    void malformedIndex() throws IOException {
        Files.writeString(index, "{\"weight_map\": ");
        assertFails(() -> SafetensorsReader.readCheckpoint(dir), index, "not valid JSON");
        Files.writeString(index, "{\"metadata\": {}}");
        assertFails(() -> SafetensorsReader.readCheckpoint(dir), index, "\"weight_map\" is missing");
        Files.writeString(index, "{\"weight_map\": {\"w\": \"../elsewhere.safetensors\"}}");
        assertFails(() -> SafetensorsReader.readCheckpoint(dir), index, "weight_map entry w", "same directory");
    }

    @Test
    void directoryWithoutWeights() throws IOException {
        Path empty = Files.createDirectory(dir.resolve("empty"));
        assertFails(() -> SafetensorsReader.readCheckpoint(empty), empty, "neither model.safetensors nor model.safetensors.index.json");
        Path absent = dir.resolve("absent");
        assertFails(() -> SafetensorsReader.readCheckpoint(absent), absent, "directory not found");
    }
}
