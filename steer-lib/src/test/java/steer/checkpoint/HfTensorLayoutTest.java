package steer.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static steer.checkpoint.CheckpointFixtures.assertFails;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class HfTensorLayoutTest {

    private static final Path SOURCE = Path.of("/checkpoints/tiny/model.safetensors");

    private static Map<String, long[]> shapes(DecoderConfig config) {
        return HfTensorLayout.expected(config).stream()
                .collect(Collectors.toMap(HfTensorLayout.TensorSpec::name, HfTensorLayout.TensorSpec::shape, (a, b) -> a, LinkedHashMap::new));
    }

    @Test
    void llamaTableHasTheHuggingFaceNamesAndShapes() {
        // V 32, C 16, I 24, 2 layers, H 4, KV 2, Dh 4: q [16, 16], k and v [8, 16].
        Map<String, long[]> shapes = shapes(CheckpointFixtures.tinyLlama(false));

        assertEquals(1 + 2 * 9 + 2, shapes.size());
        assertArrayEquals(new long[] {32, 16}, shapes.get("model.embed_tokens.weight"));
        assertArrayEquals(new long[] {16}, shapes.get("model.layers.1.input_layernorm.weight"));
        assertArrayEquals(new long[] {16, 16}, shapes.get("model.layers.0.self_attn.q_proj.weight"));
        assertArrayEquals(new long[] {8, 16}, shapes.get("model.layers.0.self_attn.k_proj.weight"));
        assertArrayEquals(new long[] {8, 16}, shapes.get("model.layers.0.self_attn.v_proj.weight"));
        assertArrayEquals(new long[] {16, 16}, shapes.get("model.layers.0.self_attn.o_proj.weight"));
        assertArrayEquals(new long[] {16}, shapes.get("model.layers.1.post_attention_layernorm.weight"));
        assertArrayEquals(new long[] {24, 16}, shapes.get("model.layers.1.mlp.gate_proj.weight"));
        assertArrayEquals(new long[] {24, 16}, shapes.get("model.layers.1.mlp.up_proj.weight"));
        assertArrayEquals(new long[] {16, 24}, shapes.get("model.layers.1.mlp.down_proj.weight"));
        assertArrayEquals(new long[] {16}, shapes.get("model.norm.weight"));
        assertArrayEquals(new long[] {32, 16}, shapes.get("lm_head.weight"));
        assertFalse(shapes.containsKey("model.layers.0.self_attn.q_proj.bias"));
        assertFalse(shapes(CheckpointFixtures.tinyLlama(true)).containsKey("lm_head.weight"));
    }

    @Test
    void qwen2TableHasAttentionBiases() {
        // Qwen2 fixture: H 4, KV 1, Dh 4: q bias [16], k and v bias [4].
        Map<String, long[]> shapes = shapes(CheckpointFixtures.tinyQwen2());

        assertArrayEquals(new long[] {16}, shapes.get("model.layers.1.self_attn.q_proj.bias"));
        assertArrayEquals(new long[] {4}, shapes.get("model.layers.1.self_attn.k_proj.bias"));
        assertArrayEquals(new long[] {4}, shapes.get("model.layers.1.self_attn.v_proj.bias"));
        assertArrayEquals(new long[] {4, 16}, shapes.get("model.layers.0.self_attn.k_proj.weight"));
    }

    @Test
    void completeTensorsPassAndExtrasAreIgnored() {
        DecoderConfig config = CheckpointFixtures.tinyLlama(true);
        Map<String, HostTensor> tensors = CheckpointFixtures.randomWeights(config, 1);
        tensors.put("model.layers.0.self_attn.rotary_emb.inv_freq", new HostTensor("model.layers.0.self_attn.rotary_emb.inv_freq", new long[] {2}, new float[2]));
        // A tied checkpoint may still carry lm_head.weight, even a stale one; transformers ignores it, so do we.
        tensors.put("lm_head.weight", new HostTensor("lm_head.weight", new long[] {1}, new float[1]));

        HfTensorLayout.validateTensors(config, tensors, SOURCE);
    }

    @Test
    void missingTensorIsNamed() {
        DecoderConfig config = CheckpointFixtures.tinyLlama(false);
        Map<String, HostTensor> tensors = CheckpointFixtures.randomWeights(config, 1);
        tensors.remove("model.layers.1.mlp.up_proj.weight");

        assertFails(() -> HfTensorLayout.validateTensors(config, tensors, SOURCE), SOURCE,
                "missing tensor model.layers.1.mlp.up_proj.weight", "[24, 16]");
    }

    @Test
    void untiedCheckpointMustHaveTheOutputHead() {
        DecoderConfig config = CheckpointFixtures.tinyLlama(false);
        Map<String, HostTensor> tensors = CheckpointFixtures.randomWeights(config, 1);
        tensors.remove(HfTensorLayout.LM_HEAD);

        assertFails(() -> HfTensorLayout.validateTensors(config, tensors, SOURCE), SOURCE, "missing tensor lm_head.weight");
    }

    @Test
    void wrongShapeNamesExpectedAndActual() {
        DecoderConfig config = CheckpointFixtures.tinyQwen2();
        Map<String, HostTensor> tensors = CheckpointFixtures.randomWeights(config, 1);
        String name = HfTensorLayout.layer(1, HfTensorLayout.K_BIAS);
        tensors.put(name, new HostTensor(name, new long[] {16}, new float[16]));

        assertFails(() -> HfTensorLayout.validateTensors(config, tensors, SOURCE), SOURCE,
                "tensor model.layers.1.self_attn.k_proj.bias", "expected shape [4]", "actual shape [16]");
    }

    @Test
    void transposedMatrixIsAWrongShape() {
        DecoderConfig config = CheckpointFixtures.tinyLlama(false);
        Map<String, HostTensor> tensors = CheckpointFixtures.randomWeights(config, 1);
        String name = HfTensorLayout.layer(0, HfTensorLayout.DOWN_PROJ);
        tensors.put(name, new HostTensor(name, new long[] {24, 16}, new float[24 * 16]));

        assertFails(() -> HfTensorLayout.validateTensors(config, tensors, SOURCE), SOURCE,
                "tensor " + name, "expected shape [16, 24]", "actual shape [24, 16]");
    }

    @Test
    void headerEntriesNameTheirOwnFileAndUnreadableDtypes() {
        DecoderConfig config = CheckpointFixtures.tinyLlama(true);
        Path shard = Path.of("/checkpoints/tiny/model-00002-of-00002.safetensors");
        Map<String, SafetensorsEntry> entries = new LinkedHashMap<>();
        for (HfTensorLayout.TensorSpec spec : HfTensorLayout.expected(config)) {
            entries.put(spec.name(), new SafetensorsEntry(SOURCE, spec.name(), "BF16", spec.shape(), 0, 0));
        }
        HfTensorLayout.validateEntries(config, entries, SOURCE);

        entries.put(HfTensorLayout.FINAL_NORM, new SafetensorsEntry(shard, HfTensorLayout.FINAL_NORM, "F32", new long[] {17}, 0, 0));
        assertFails(() -> HfTensorLayout.validateEntries(config, entries, SOURCE), shard,
                "tensor model.norm.weight", "expected shape [16]", "actual shape [17]");

        entries.put(HfTensorLayout.FINAL_NORM, new SafetensorsEntry(shard, HfTensorLayout.FINAL_NORM, "I64", new long[] {16}, 0, 0));
        assertFails(() -> HfTensorLayout.validateEntries(config, entries, SOURCE), shard,
                "tensor model.norm.weight has dtype I64", "not supported");

        entries.remove(HfTensorLayout.FINAL_NORM);
        assertFails(() -> HfTensorLayout.validateEntries(config, entries, SOURCE), SOURCE, "missing tensor model.norm.weight");
    }

    @Test
    void layerNamesFollowTheHuggingFacePattern() {
        assertEquals("model.layers.12.mlp.down_proj.weight", HfTensorLayout.layer(12, HfTensorLayout.DOWN_PROJ));
        List<String> names = HfTensorLayout.expected(CheckpointFixtures.tinyLlama(true)).stream().map(HfTensorLayout.TensorSpec::name).toList();
        assertEquals("model.embed_tokens.weight", names.get(0));
        assertEquals("model.norm.weight", names.get(names.size() - 1));
        assertTrue(names.stream().allMatch(n -> n.startsWith("model.")));
    }
}
