package steer.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static steer.checkpoint.CheckpointFixtures.assertFails;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfConfigJsonTest {

    /** The config.json of Qwen/Qwen2-0.5B as published on the Hugging Face Hub. */
    private static final String QWEN2_0_5B = """
            {
              "architectures": ["Qwen2ForCausalLM"],
              "attention_dropout": 0.0,
              "bos_token_id": 151643,
              "eos_token_id": 151643,
              "hidden_act": "silu",
              "hidden_size": 896,
              "initializer_range": 0.02,
              "intermediate_size": 4864,
              "max_position_embeddings": 131072,
              "max_window_layers": 24,
              "model_type": "qwen2",
              "num_attention_heads": 14,
              "num_hidden_layers": 24,
              "num_key_value_heads": 2,
              "rms_norm_eps": 1e-06,
              "rope_theta": 1000000.0,
              "sliding_window": 131072,
              "tie_word_embeddings": true,
              "torch_dtype": "bfloat16",
              "transformers_version": "4.40.1",
              "use_cache": true,
              "use_sliding_window": false,
              "vocab_size": 151936
            }
            """;

    /** A TinyLlama-style Llama config relying on defaults, with an EOS list as in newer Llama configs. */
    private static final String LLAMA_WITH_DEFAULTS = """
            {
              "architectures": ["LlamaForCausalLM"],
              "model_type": "llama",
              "hidden_size": 2048,
              "intermediate_size": 5632,
              "num_hidden_layers": 22,
              "num_attention_heads": 32,
              "num_key_value_heads": null,
              "rms_norm_eps": 1e-05,
              "rope_scaling": null,
              "max_position_embeddings": 2048,
              "vocab_size": 32000,
              "bos_token_id": 1,
              "eos_token_id": [2, 31999]
            }
            """;

    @TempDir
    Path dir;

    private Path config(String json) throws IOException {
        return Files.writeString(dir.resolve("config.json"), json);
    }

    @Test
    void realQwen2Config() throws IOException {
        DecoderConfig config = HfConfigJson.read(config(QWEN2_0_5B));

        assertEquals(new DecoderConfig("qwen2", 151936, 896, 4864, 24, 14, 2, 1e-6, 1_000_000.0, 131072,
                true, true, 151643, 151643), config);
        assertEquals(64, config.headDim());
    }

    @Test
    void llamaDefaultsAndEosList() throws IOException {
        DecoderConfig config = HfConfigJson.read(config(LLAMA_WITH_DEFAULTS));

        assertEquals(32, config.numKvHeads());          // null means num_attention_heads
        assertEquals(10000.0, config.ropeTheta());
        assertFalse(config.tieWordEmbeddings());
        assertFalse(config.attentionBias());
        assertEquals(2, config.eosTokenId());            // first of the list
        assertEquals(List.of(2, 31999), config.eosTokenIds());
        assertEquals(64, config.headDim());
        assertNull(config.ropeScaling());
    }

    @Test
    void qwen2AlwaysHasAttentionBiasAndLlamaIsRefusedOne() throws IOException {
        assertTrue(HfConfigJson.read(config(QWEN2_0_5B.replace("\"use_cache\": true", "\"attention_bias\": false"))).attentionBias());
        // Llama's attention_bias also adds an o_proj bias, which the decoder lacks: refused, not half-honoured
        Path llama = config(LLAMA_WITH_DEFAULTS.replace("\"rope_scaling\": null", "\"attention_bias\": true"));
        assertFails(() -> HfConfigJson.read(llama), llama, "\"attention_bias\" = true", "o_proj");
        assertFalse(HfConfigJson.read(config(LLAMA_WITH_DEFAULTS.replace("\"rope_scaling\": null",
                "\"attention_bias\": false"))).attentionBias());
    }

    /** The config.json of Qwen/Qwen3-0.6B as published on the Hugging Face Hub. */
    private static final String QWEN3_0_6B = """
            {
              "architectures": ["Qwen3ForCausalLM"],
              "attention_bias": false,
              "attention_dropout": 0.0,
              "bos_token_id": 151643,
              "eos_token_id": 151645,
              "head_dim": 128,
              "hidden_act": "silu",
              "hidden_size": 1024,
              "initializer_range": 0.02,
              "intermediate_size": 3072,
              "max_position_embeddings": 40960,
              "max_window_layers": 28,
              "model_type": "qwen3",
              "num_attention_heads": 16,
              "num_hidden_layers": 28,
              "num_key_value_heads": 8,
              "rms_norm_eps": 1e-06,
              "rope_scaling": null,
              "rope_theta": 1000000,
              "sliding_window": null,
              "tie_word_embeddings": true,
              "torch_dtype": "bfloat16",
              "transformers_version": "4.51.0",
              "use_cache": true,
              "use_sliding_window": false,
              "vocab_size": 151936
            }
            """;

    /** The config.json of meta-llama/Llama-3.2-1B-Instruct as published on the Hugging Face Hub. */
    private static final String LLAMA_3_2_1B_INSTRUCT = """
            {
              "architectures": ["LlamaForCausalLM"],
              "attention_bias": false,
              "attention_dropout": 0.0,
              "bos_token_id": 128000,
              "eos_token_id": [128001, 128008, 128009],
              "head_dim": 64,
              "hidden_act": "silu",
              "hidden_size": 2048,
              "initializer_range": 0.02,
              "intermediate_size": 8192,
              "max_position_embeddings": 131072,
              "mlp_bias": false,
              "model_type": "llama",
              "num_attention_heads": 32,
              "num_hidden_layers": 16,
              "num_key_value_heads": 8,
              "pretraining_tp": 1,
              "rms_norm_eps": 1e-05,
              "rope_scaling": {
                "factor": 32.0,
                "high_freq_factor": 4.0,
                "low_freq_factor": 1.0,
                "original_max_position_embeddings": 8192,
                "rope_type": "llama3"
              },
              "rope_theta": 500000.0,
              "tie_word_embeddings": true,
              "torch_dtype": "bfloat16",
              "transformers_version": "4.45.0.dev0",
              "use_cache": true,
              "vocab_size": 128256
            }
            """;

    @Test
    void realQwen3ConfigWithItsOwnHeadDim() throws IOException {
        DecoderConfig config = HfConfigJson.read(config(QWEN3_0_6B));

        assertEquals(new DecoderConfig("qwen3", 151936, 1024, 3072, 28, 16, 8, 128, 1e-6, 1_000_000.0, null, 40960,
                true, false, 151643, List.of(151645)), config);
        assertEquals(16 * 128, config.qDim());          // 2048, not hidden_size 1024
        assertEquals(8 * 128, config.kvDim());
        assertTrue(config.qkNorm());
    }

    @Test
    void realLlama32ConfigWithLlama3RopeScalingAndEosList() throws IOException {
        DecoderConfig config = HfConfigJson.read(config(LLAMA_3_2_1B_INSTRUCT));

        assertEquals(new DecoderConfig.RopeScaling(32.0, 1.0, 4.0, 8192), config.ropeScaling());
        assertEquals(List.of(128001, 128008, 128009), config.eosTokenIds());
        assertEquals(500000.0, config.ropeTheta());
        assertEquals(64, config.headDim());
        assertFalse(config.qkNorm());
        // the same scaling under transformers 5's rope_parameters, with the older key "type"
        String v5 = LLAMA_3_2_1B_INSTRUCT.replace("\"rope_scaling\"", "\"rope_parameters\"")
                .replace("\"rope_type\": \"llama3\"", "\"type\": \"llama3\"");
        assertEquals(config.ropeScaling(), HfConfigJson.read(config(v5)).ropeScaling());
    }

    @Test
    void qwen2SlidingWindowFlagsAreAcceptedWhileOff() throws IOException {
        // the released Qwen2.5 configs: use_sliding_window false, sliding_window and max_window_layers set
        DecoderConfig plain = HfConfigJson.read(config(QWEN2_0_5B));
        DecoderConfig nullWindow = HfConfigJson.read(config(QWEN2_0_5B.replace("\"sliding_window\": 131072",
                "\"sliding_window\": null").replace("\"max_window_layers\": 24", "\"max_window_layers\": 21")));
        assertEquals(plain, nullWindow);
        Path fullLayers = config(QWEN3_0_6B.replace("\"use_cache\": true",
                "\"layer_types\": [\"full_attention\", \"full_attention\"]"));
        assertEquals(128, HfConfigJson.read(fullLayers).headDim());
    }

    @Test
    void ropeThetaFromNewerRopeParameters() throws IOException {
        String json = LLAMA_WITH_DEFAULTS.replace("\"rope_scaling\": null",
                "\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 500000.0}");
        assertEquals(500000.0, HfConfigJson.read(config(json)).ropeTheta());
    }

    @Test
    void roundTripForBothModelTypes() {
        for (DecoderConfig original : new DecoderConfig[] {
                CheckpointFixtures.tinyLlama(false), CheckpointFixtures.tinyLlama(true), CheckpointFixtures.tinyQwen2(),
                new DecoderConfig("llama", 100, 8, 12, 1, 2, 1, 1.234567890123e-7, 12345.678, 7, false, false, 5, 99),
                new DecoderConfig("qwen3", 100, 8, 12, 1, 2, 1, 6, 1e-6, 1e6, null, 7, true, false, 5, List.of(99, 7)),
                new DecoderConfig("llama", 100, 8, 12, 1, 2, 2, 4, 1e-5, 5e5, new DecoderConfig.RopeScaling(8, 1, 4, 16),
                        7, false, false, 5, List.of(6, 7, 8))}) {
            Path file = dir.resolve(original.modelType() + original.hashCode() + ".json");
            HfConfigJson.write(original, file);
            assertEquals(original, HfConfigJson.read(file));
        }
    }

    @Test
    void writtenFileIsLoadableByTransformers() throws IOException {
        Path llama = dir.resolve("llama.json");
        Path qwen2 = dir.resolve("qwen2.json");
        HfConfigJson.write(CheckpointFixtures.tinyLlama(false), llama);
        HfConfigJson.write(CheckpointFixtures.tinyQwen2(), qwen2);

        JsonNode l = new ObjectMapper().readTree(llama.toFile());
        JsonNode q = new ObjectMapper().readTree(qwen2.toFile());
        assertEquals("LlamaForCausalLM", l.get("architectures").get(0).asText());
        assertEquals("Qwen2ForCausalLM", q.get("architectures").get(0).asText());
        Path qwen3 = dir.resolve("qwen3.json");
        HfConfigJson.write(new DecoderConfig("qwen3", 100, 8, 12, 1, 2, 1, 6, 1e-6, 1e6, null, 7, true, false, 5,
                List.of(99, 7)), qwen3);
        JsonNode q3 = new ObjectMapper().readTree(qwen3.toFile());
        assertEquals("Qwen3ForCausalLM", q3.get("architectures").get(0).asText());
        assertEquals(6, q3.get("head_dim").asInt());
        assertEquals("[99,7]", q3.get("eos_token_id").toString());
        assertEquals("float32", l.get("torch_dtype").asText());
        assertEquals("float32", q.get("torch_dtype").asText());
        assertEquals("silu", l.get("hidden_act").asText());
        assertFalse(l.get("attention_bias").asBoolean());
        assertFalse(q.has("attention_bias"));
    }

    // ---- errors: each names the file and the problem ----

    @Test
    void missingFileOrNotJson() throws IOException {
        Path absent = dir.resolve("absent.json");
        assertFails(() -> HfConfigJson.read(absent), absent, "file not found");
        Path text = config("model_type = llama");
        assertFails(() -> HfConfigJson.read(text), text, "not valid JSON");
        Path list = config("[1, 2, 3]");
        assertFails(() -> HfConfigJson.read(list), list, "not a JSON object");
        Path empty = config("");
        assertFails(() -> HfConfigJson.read(empty), empty, "not a JSON object");
    }

    @Test
    void missingRequiredField() throws IOException {
        Path file = config(QWEN2_0_5B.replace("\"hidden_size\": 896,", ""));
        assertFails(() -> HfConfigJson.read(file), file, "required field \"hidden_size\" is missing");
        Path noEos = config(QWEN2_0_5B.replace("\"eos_token_id\": 151643,", ""));
        assertFails(() -> HfConfigJson.read(noEos), noEos, "required field \"eos_token_id\" is missing");
    }

    @Test
    void fieldOfTheWrongType() throws IOException {
        Path text = config(QWEN2_0_5B.replace("\"hidden_size\": 896", "\"hidden_size\": \"896\""));
        assertFails(() -> HfConfigJson.read(text), text, "field \"hidden_size\" must be an integer", "\"896\"");
        Path fraction = config(QWEN2_0_5B.replace("\"num_hidden_layers\": 24", "\"num_hidden_layers\": 24.5"));
        assertFails(() -> HfConfigJson.read(fraction), fraction, "field \"num_hidden_layers\" must be an integer");
        Path bool = config(QWEN2_0_5B.replace("\"tie_word_embeddings\": true", "\"tie_word_embeddings\": \"yes\""));
        assertFails(() -> HfConfigJson.read(bool), bool, "field \"tie_word_embeddings\" must be true or false");
        Path eps = config(QWEN2_0_5B.replace("\"rms_norm_eps\": 1e-06", "\"rms_norm_eps\": [1e-06]"));
        assertFails(() -> HfConfigJson.read(eps), eps, "field \"rms_norm_eps\" must be a number");
        Path eos = config(LLAMA_WITH_DEFAULTS.replace("[2, 31999]", "[]"));
        assertFails(() -> HfConfigJson.read(eos), eos, "field \"eos_token_id\" is an empty list");
        Path big = config(QWEN2_0_5B.replace("\"vocab_size\": 151936", "\"vocab_size\": 99999999999"));
        assertFails(() -> HfConfigJson.read(big), big, "field \"vocab_size\" must be an integer");
    }

    @Test
    void unknownModelType() throws IOException {
        Path file = config(QWEN2_0_5B.replace("\"model_type\": \"qwen2\"", "\"model_type\": \"mistral\""));
        assertFails(() -> HfConfigJson.read(file), file, "model_type \"mistral\" is not supported");
    }

    @Test
    void invalidDecoderIsWrappedWithTheFileName() throws IOException {
        Path file = config(QWEN2_0_5B.replace("\"num_attention_heads\": 14", "\"num_attention_heads\": 15"));
        assertFails(() -> HfConfigJson.read(file), file, "invalid configuration", "not divisible by num_attention_heads 15");
        Path bos = config(QWEN2_0_5B.replace("\"bos_token_id\": 151643", "\"bos_token_id\": 200000"));
        assertFails(() -> HfConfigJson.read(bos), bos, "invalid configuration", "bos_token_id 200000");
    }

    @Test
    void settingsTheDecoderCannotHonourAreRefused() throws IOException {
        for (String type : new String[] {"linear", "dynamic", "yarn", "longrope"}) {
            Path scaling = config(LLAMA_WITH_DEFAULTS.replace("\"rope_scaling\": null",
                    "\"rope_scaling\": {\"rope_type\": \"" + type + "\", \"factor\": 4.0}"));
            assertFails(() -> HfConfigJson.read(scaling), scaling, "\"rope_scaling\"", "\"" + type + "\"", "not supported");
            Path old = config(LLAMA_WITH_DEFAULTS.replace("\"rope_scaling\": null",
                    "\"rope_scaling\": {\"type\": \"" + type + "\", \"factor\": 4.0}"));
            assertFails(() -> HfConfigJson.read(old), old, "\"rope_scaling\"", "\"" + type + "\"", "not supported");
        }
        Path incomplete = config(LLAMA_WITH_DEFAULTS.replace("\"rope_scaling\": null",
                "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 32.0}"));
        assertFails(() -> HfConfigJson.read(incomplete), incomplete, "\"rope_scaling\"", "llama3", "low_freq_factor");
        Path act = config(QWEN2_0_5B.replace("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\""));
        assertFails(() -> HfConfigJson.read(act), act, "field \"hidden_act\"", "not supported");
        Path window = config(QWEN2_0_5B.replace("\"use_sliding_window\": false", "\"use_sliding_window\": true"));
        assertFails(() -> HfConfigJson.read(window), window, "field \"use_sliding_window\"", "sliding_window 131072",
                "max_window_layers 24", "not supported");
        Path layers = config(QWEN3_0_6B.replace("\"use_cache\": true",
                "\"layer_types\": [\"full_attention\", \"sliding_attention\"]"));
        assertFails(() -> HfConfigJson.read(layers), layers, "\"layer_types\"", "sliding_attention", "not supported");
        Path qwen3Bias = config(QWEN3_0_6B.replace("\"attention_bias\": false", "\"attention_bias\": true"));
        assertFails(() -> HfConfigJson.read(qwen3Bias), qwen3Bias, "\"attention_bias\" = true", "qwen3");
        Path moe = config(QWEN3_0_6B.replace("\"model_type\": \"qwen3\"", "\"model_type\": \"qwen3_moe\""));
        assertFails(() -> HfConfigJson.read(moe), moe, "model_type \"qwen3_moe\" is not supported", "llama, qwen2, qwen3");
    }
}
