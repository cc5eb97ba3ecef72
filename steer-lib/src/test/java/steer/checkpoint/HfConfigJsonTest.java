package steer.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static steer.checkpoint.CheckpointFixtures.assertFails;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
    }

    @Test
    void qwen2AlwaysHasAttentionBiasAndLlamaMayOptIn() throws IOException {
        assertTrue(HfConfigJson.read(config(QWEN2_0_5B.replace("\"use_cache\": true", "\"attention_bias\": false"))).attentionBias());
        assertTrue(HfConfigJson.read(config(LLAMA_WITH_DEFAULTS.replace("\"rope_scaling\": null", "\"attention_bias\": true"))).attentionBias());
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
                new DecoderConfig("llama", 100, 8, 12, 1, 2, 1, 1.234567890123e-7, 12345.678, 7, false, true, 5, 99)}) {
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
        Path scaling = config(LLAMA_WITH_DEFAULTS.replace("\"rope_scaling\": null",
                "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 32.0}"));
        assertFails(() -> HfConfigJson.read(scaling), scaling, "field \"rope_scaling\"", "llama3", "not supported");
        Path act = config(QWEN2_0_5B.replace("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\""));
        assertFails(() -> HfConfigJson.read(act), act, "field \"hidden_act\"", "not supported");
        Path window = config(QWEN2_0_5B.replace("\"use_sliding_window\": false", "\"use_sliding_window\": true"));
        assertFails(() -> HfConfigJson.read(window), window, "field \"use_sliding_window\"", "not supported");
        Path headDim = config(QWEN2_0_5B.replace("\"use_cache\": true", "\"head_dim\": 128"));
        assertFails(() -> HfConfigJson.read(headDim), headDim, "\"head_dim\" = 128", "not supported");
    }
}
