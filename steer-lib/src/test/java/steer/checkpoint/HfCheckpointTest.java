package steer.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static steer.checkpoint.CheckpointFixtures.assertFails;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfCheckpointTest {

    @TempDir
    Path dir;

    private static void assertSameTensors(Map<String, HostTensor> expected, Map<String, HostTensor> actual) {
        assertEquals(new ArrayList<>(expected.keySet()), new ArrayList<>(actual.keySet()));
        for (String name : expected.keySet()) {
            assertArrayEquals(expected.get(name).shape(), actual.get(name).shape(), name);
            assertArrayEquals(CheckpointFixtures.bits(expected.get(name).data()), CheckpointFixtures.bits(actual.get(name).data()), name);
        }
    }

    @Test
    void saveThenLoadIsBitExactForLlamaAndQwen2() {
        for (DecoderConfig config : List.of(CheckpointFixtures.tinyLlama(false), CheckpointFixtures.tinyQwen2())) {
            Path checkpoint = dir.resolve(config.modelType());
            Map<String, HostTensor> weights = CheckpointFixtures.randomWeights(config, 3);

            HfCheckpoint.save(checkpoint, config, weights);
            HfCheckpoint loaded = HfCheckpoint.load(checkpoint);

            assertEquals(config, loaded.config());
            assertSameTensors(weights, loaded.tensors());
        }
    }

    @Test
    void saveCreatesTheDirectoryAndLeavesOtherFilesAlone() throws IOException {
        Path checkpoint = dir.resolve("runs/step-100");
        Files.createDirectories(checkpoint);
        Path tokenizer = Files.writeString(checkpoint.resolve("tokenizer.json"), "{\"model\": {}}");
        DecoderConfig config = CheckpointFixtures.tinyLlama(true);

        HfCheckpoint.save(checkpoint, config, CheckpointFixtures.randomWeights(config, 1));
        HfCheckpoint.save(checkpoint, config, CheckpointFixtures.randomWeights(config, 2));  // overwrite in place

        assertEquals("{\"model\": {}}", Files.readString(tokenizer));
        try (Stream<Path> files = Files.list(checkpoint)) {
            assertEquals(List.of("config.json", "model.safetensors", "tokenizer.json"),
                    files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        assertSameTensors(CheckpointFixtures.randomWeights(config, 2), HfCheckpoint.load(checkpoint).tensors());
    }

    @Test
    void saveRefusesIncompleteWeightsBeforeWritingAnything() {
        DecoderConfig config = CheckpointFixtures.tinyQwen2();
        Map<String, HostTensor> weights = CheckpointFixtures.randomWeights(config, 1);
        weights.remove(HfTensorLayout.layer(0, HfTensorLayout.Q_BIAS));
        Path checkpoint = dir.resolve("never");

        assertFails(() -> HfCheckpoint.save(checkpoint, config, weights), checkpoint, "missing tensor model.layers.0.self_attn.q_proj.bias");
        assertTrue(Files.notExists(checkpoint));
    }

    @Test
    void loadIgnoresLeftoverOutputHeadOfTiedModelAndUnknownTensors() {
        DecoderConfig config = CheckpointFixtures.tinyQwen2();
        Map<String, HostTensor> weights = CheckpointFixtures.randomWeights(config, 5);
        Map<String, HostTensor> withExtras = new LinkedHashMap<>(weights);
        withExtras.put("lm_head.weight", new HostTensor("lm_head.weight", new long[] {2, 2}, new float[4]));
        withExtras.put("model.rotary_emb.inv_freq", new HostTensor("model.rotary_emb.inv_freq", new long[] {2}, new float[2]));
        HfCheckpoint.save(dir, config, withExtras);

        HfCheckpoint loaded = HfCheckpoint.load(dir);

        assertFalse(loaded.tensors().containsKey("lm_head.weight"));
        assertFalse(loaded.tensors().containsKey("model.rotary_emb.inv_freq"));
        assertSameTensors(weights, loaded.tensors());
    }

    @Test
    void loadWidensBfloat16Checkpoint() throws IOException {
        DecoderConfig config = CheckpointFixtures.tinyLlama(false);
        Map<String, HostTensor> weights = CheckpointFixtures.randomWeights(config, 9);
        HfConfigJson.write(config, dir.resolve("config.json"));
        writeBfloat16(dir.resolve("model.safetensors"), weights);

        HfCheckpoint loaded = HfCheckpoint.load(dir);

        for (HostTensor original : weights.values()) {
            float[] actual = loaded.tensors().get(original.name()).data();
            for (int i = 0; i < actual.length; i++) {
                // BF16 keeps the top 16 bits of the float32 we stored.
                assertEquals(Float.floatToRawIntBits(original.data()[i]) & 0xffff0000, Float.floatToRawIntBits(actual[i]), original.name());
            }
        }
    }

    @Test
    void loadNamesFileTensorAndShapesOfAMisshapenTensor() {
        DecoderConfig config = CheckpointFixtures.tinyLlama(false);
        Map<String, HostTensor> weights = CheckpointFixtures.randomWeights(config, 1);
        HfCheckpoint.save(dir, config, weights);
        String name = HfTensorLayout.layer(1, HfTensorLayout.K_PROJ);
        weights.put(name, new HostTensor(name, new long[] {16, 16}, new float[256]));
        SafetensorsWriter.write(dir.resolve("model.safetensors"), weights.values());

        assertFails(() -> HfCheckpoint.load(dir), dir.resolve("model.safetensors"),
                "tensor model.layers.1.self_attn.k_proj.weight", "expected shape [8, 16]", "actual shape [16, 16]");
    }

    @Test
    void loadNamesMissingTensorAndMissingFiles() throws IOException {
        DecoderConfig config = CheckpointFixtures.tinyLlama(false);
        Map<String, HostTensor> weights = CheckpointFixtures.randomWeights(config, 1);
        HfCheckpoint.save(dir, config, weights);
        weights.remove(HfTensorLayout.LM_HEAD);
        SafetensorsWriter.write(dir.resolve("model.safetensors"), weights.values());

        assertFails(() -> HfCheckpoint.load(dir), dir.resolve("model.safetensors"), "missing tensor lm_head.weight");

        Files.delete(dir.resolve("model.safetensors"));
        assertFails(() -> HfCheckpoint.load(dir), dir, "neither model.safetensors nor model.safetensors.index.json");
        Files.delete(dir.resolve("config.json"));
        assertFails(() -> HfCheckpoint.load(dir), dir.resolve("config.json"), "file not found");
    }

    @Test
    void tensorsOfALoadedCheckpointCannotBeReplaced() {
        DecoderConfig config = CheckpointFixtures.tinyLlama(true);
        HfCheckpoint checkpoint = new HfCheckpoint(config, CheckpointFixtures.randomWeights(config, 1));
        assertThrows(UnsupportedOperationException.class, () -> checkpoint.tensors().clear());
    }

    /** Writes the tensors as BF16 (truncating each float32), with a header built by hand. */
    private static void writeBfloat16(Path file, Map<String, HostTensor> tensors) throws IOException {
        ObjectNode header = new ObjectMapper().createObjectNode();
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (HostTensor t : tensors.values()) {
            ObjectNode entry = header.putObject(t.name()).put("dtype", "BF16");
            ArrayNode shape = entry.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            entry.putArray("data_offsets").add(data.size()).add(data.size() + 2L * t.size());
            ByteBuffer bytes = ByteBuffer.allocate(2 * t.size()).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : t.data()) {
                bytes.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
            }
            data.write(bytes.array());
        }
        CheckpointFixtures.safetensors(file, header.toString(), data.toByteArray());
    }
}
