package steer.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes the Hugging Face {@code config.json} of a Llama, Qwen2 or Qwen3 model as a
 * {@link DecoderConfig}.
 *
 * <p>Defaults for absent fields follow {@code transformers}' {@code LlamaConfig}, {@code Qwen2Config} and
 * {@code Qwen3Config}: {@code num_key_value_heads} = {@code num_attention_heads}, {@code rope_theta} = 10000,
 * {@code head_dim} = {@code hidden_size / num_attention_heads}, {@code tie_word_embeddings} = false,
 * {@code attention_bias} = false. Qwen2 always has q/k/v biases, whatever the file says. {@code eos_token_id}
 * may be one id or a list (Llama 3, Qwen chat models); generation stops at any of them. All other fields are
 * required.
 *
 * <p>Settings that would change the maths of the decoder but that it does not implement are refused rather
 * than silently ignored: an activation other than SiLU, RoPE scaling other than {@code llama3} (linear,
 * dynamic, yarn, longrope, …), MLP biases, an o_proj bias ({@code attention_bias} on Llama or Qwen3), and
 * sliding-window attention ({@code use_sliding_window} true, or a {@code layer_types} entry other than
 * {@code full_attention}). Qwen2's {@code sliding_window} and {@code max_window_layers} are read only when
 * {@code use_sliding_window} is true, as in {@code transformers}, and then refused.
 */
public final class HfConfigJson {

    /** The file name inside a checkpoint directory. */
    public static final String FILE_NAME = "config.json";

    /** The {@code architectures} entry {@code transformers} needs for each model type. */
    private static final Map<String, String> ARCHITECTURES = Map.of(
            "llama", "LlamaForCausalLM", "qwen2", "Qwen2ForCausalLM", "qwen3", "Qwen3ForCausalLM");

    private HfConfigJson() {
    }

    /**
     * Reads a {@code config.json}.
     *
     * @param configJson the file
     * @return the decoder configuration
     * @throws CheckpointException if the file is missing, not JSON, lacks a required field, has a field of
     *                             the wrong type or an unsupported value, or describes an invalid decoder
     */
    public static DecoderConfig read(Path configJson) {
        Fields f = new Fields(configJson, JsonFiles.readObject(configJson));
        String modelType = f.string("model_type");
        if (!DecoderConfig.MODEL_TYPES.contains(modelType)) {
            throw new CheckpointException(configJson, "model_type \"" + modelType + "\" is not supported (expected one of "
                    + String.join(", ", DecoderConfig.MODEL_TYPES) + ")");
        }
        boolean qwen2 = modelType.equals("qwen2");
        f.refuseUnsupported(modelType);
        try {
            int hiddenSize = f.integer("hidden_size");
            int numHeads = f.integer("num_attention_heads");
            return new DecoderConfig(
                    modelType,
                    f.integer("vocab_size"),
                    hiddenSize,
                    f.integer("intermediate_size"),
                    f.integer("num_hidden_layers"),
                    numHeads,
                    f.has("num_key_value_heads") ? f.integer("num_key_value_heads") : numHeads,
                    f.has("head_dim") ? f.integer("head_dim") : DecoderConfig.derivedHeadDim(hiddenSize, numHeads),
                    f.number("rms_norm_eps"),
                    f.ropeTheta(),
                    f.ropeScaling(),
                    f.integer("max_position_embeddings"),
                    f.has("tie_word_embeddings") && f.bool("tie_word_embeddings"),
                    qwen2 || (f.has("attention_bias") && f.bool("attention_bias")),
                    f.integer("bos_token_id"),
                    f.integers("eos_token_id"));
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(configJson, "invalid configuration: " + e.getMessage(), e);
        }
    }

    /**
     * Writes a {@code config.json} that {@code transformers} can load ({@code architectures},
     * {@code torch_dtype} float32), atomically.
     *
     * @param config     the decoder configuration
     * @param configJson the file to create or replace
     * @throws CheckpointException if the file cannot be written
     */
    public static void write(DecoderConfig config, Path configJson) {
        boolean qwen2 = config.modelType().equals("qwen2");
        ObjectNode root = JsonFiles.MAPPER.createObjectNode();
        root.putArray("architectures").add(ARCHITECTURES.get(config.modelType()));
        root.put("model_type", config.modelType());
        root.put("vocab_size", config.vocabSize());
        root.put("hidden_size", config.hiddenSize());
        root.put("intermediate_size", config.intermediateSize());
        root.put("num_hidden_layers", config.numLayers());
        root.put("num_attention_heads", config.numHeads());
        root.put("num_key_value_heads", config.numKvHeads());
        root.put("head_dim", config.headDim());
        root.put("hidden_act", "silu");
        root.put("rms_norm_eps", config.rmsNormEps());
        root.put("rope_theta", config.ropeTheta());
        DecoderConfig.RopeScaling scaling = config.ropeScaling();
        if (scaling == null) {
            root.putNull("rope_scaling");
        } else {
            ObjectNode r = root.putObject("rope_scaling");
            r.put("rope_type", "llama3");
            r.put("factor", scaling.factor());
            r.put("low_freq_factor", scaling.lowFreqFactor());
            r.put("high_freq_factor", scaling.highFreqFactor());
            r.put("original_max_position_embeddings", scaling.originalMaxPositionEmbeddings());
        }
        root.put("max_position_embeddings", config.maxPositionEmbeddings());
        root.put("tie_word_embeddings", config.tieWordEmbeddings());
        if (!qwen2) {
            // Qwen2Config has no such field: its q/k/v biases are implied by the architecture.
            root.put("attention_bias", config.attentionBias());
        }
        root.put("bos_token_id", config.bosTokenId());
        if (config.eosTokenIds().size() == 1) {
            root.put("eos_token_id", config.eosTokenId());
        } else {
            config.eosTokenIds().forEach(root.putArray("eos_token_id")::add);
        }
        root.put("torch_dtype", "float32");
        byte[] bytes;
        try {
            bytes = JsonFiles.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new CheckpointException(configJson, "could not encode: " + e, e);
        }
        AtomicFiles.write(configJson, channel -> {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        });
    }

    /** Typed access to the fields of one {@code config.json}, with errors naming the file and field. */
    private static final class Fields {
        private final Path file;
        private final ObjectNode root;

        Fields(Path file, ObjectNode root) {
            this.file = file;
            this.root = root;
        }

        /** Present and not null; HF writes {@code null} for "use the default". */
        boolean has(String field) {
            JsonNode value = root.get(field);
            return value != null && !value.isNull();
        }

        JsonNode required(String field) {
            if (!has(field)) {
                throw new CheckpointException(file, "required field \"" + field + "\" is missing");
            }
            return root.get(field);
        }

        String string(String field) {
            JsonNode value = required(field);
            if (!value.isTextual()) {
                throw wrongType(field, "a string", value);
            }
            return value.textValue();
        }

        int integer(String field) {
            return asInt(field, required(field));
        }

        /** One integer or a non-empty list of them, as {@code eos_token_id} may be. */
        List<Integer> integers(String field) {
            JsonNode value = required(field);
            if (!value.isArray()) {
                return List.of(asInt(field, value));
            }
            if (value.isEmpty()) {
                throw new CheckpointException(file, "field \"" + field + "\" is an empty list");
            }
            List<Integer> out = new ArrayList<>();
            for (JsonNode item : value) {
                out.add(asInt(field, item));
            }
            return out;
        }

        double number(String field) {
            JsonNode value = required(field);
            if (!value.isNumber()) {
                throw wrongType(field, "a number", value);
            }
            return value.doubleValue();
        }

        boolean bool(String field) {
            JsonNode value = required(field);
            if (!value.isBoolean()) {
                throw wrongType(field, "true or false", value);
            }
            return value.booleanValue();
        }

        /** {@code rope_theta}, or its newer home {@code rope_parameters.rope_theta}, else 10000. */
        double ropeTheta() {
            if (has("rope_theta")) {
                return number("rope_theta");
            }
            JsonNode parameters = root.get("rope_parameters");
            if (parameters != null && parameters.isObject() && parameters.has("rope_theta")) {
                JsonNode theta = parameters.get("rope_theta");
                if (!theta.isNumber()) {
                    throw wrongType("rope_parameters.rope_theta", "a number", theta);
                }
                return theta.doubleValue();
            }
            return 10000.0;
        }

        /**
         * The RoPE scaling of {@code rope_scaling} (or its newer home {@code rope_parameters}): null when
         * absent, null or of type {@code default}; Llama 3's parameters for type {@code llama3}.
         */
        DecoderConfig.RopeScaling ropeScaling() {
            DecoderConfig.RopeScaling found = null;
            for (String field : new String[] {"rope_scaling", "rope_parameters"}) {
                JsonNode rope = root.get(field);
                if (rope == null || rope.isNull()) {
                    continue;
                }
                if (!rope.isObject()) {
                    throw wrongType(field, "an object or null", rope);
                }
                // transformers reads rope_type, or the older key type
                String type = rope.path("rope_type").asText(rope.path("type").asText("default"));
                if (type.equals("default")) {
                    continue;
                }
                if (!type.equals("llama3")) {
                    throw new CheckpointException(file, "field \"" + field + "\" has RoPE scaling type \"" + type
                            + "\", which is not supported (supported: llama3, or none)");
                }
                found = new DecoderConfig.RopeScaling(
                        ropeNumber(rope, field, "factor"),
                        ropeNumber(rope, field, "low_freq_factor"),
                        ropeNumber(rope, field, "high_freq_factor"),
                        asInt(field + ".original_max_position_embeddings",
                                ropeValue(rope, field, "original_max_position_embeddings")));
            }
            return found;
        }

        private JsonNode ropeValue(JsonNode rope, String field, String key) {
            JsonNode value = rope.get(key);
            if (value == null || value.isNull()) {
                throw new CheckpointException(file, "field \"" + field + "\" of type llama3 lacks \"" + key + "\"");
            }
            return value;
        }

        private double ropeNumber(JsonNode rope, String field, String key) {
            JsonNode value = ropeValue(rope, field, key);
            if (!value.isNumber()) {
                throw wrongType(field + "." + key, "a number", value);
            }
            return value.doubleValue();
        }

        void refuseUnsupported(String modelType) {
            if (has("hidden_act") && !"silu".equals(root.get("hidden_act").asText())) {
                throw unsupported("hidden_act");
            }
            if (has("mlp_bias") && root.get("mlp_bias").asBoolean()) {
                throw unsupported("mlp_bias");
            }
            if (!modelType.equals("qwen2") && has("attention_bias") && bool("attention_bias")) {
                throw new CheckpointException(file, "field \"attention_bias\" = true is not supported for " + modelType
                        + ": it adds biases to q/k/v and o_proj, and this decoder has no o_proj bias");
            }
            if (has("use_sliding_window") && bool("use_sliding_window")) {
                throw new CheckpointException(file, "field \"use_sliding_window\" = true (sliding_window "
                        + root.get("sliding_window") + ", max_window_layers " + root.get("max_window_layers")
                        + ") is not supported: this decoder computes full attention only");
            }
            JsonNode layerTypes = root.get("layer_types");
            if (layerTypes != null && layerTypes.isArray()) {
                for (JsonNode t : layerTypes) {
                    if (!"full_attention".equals(t.asText())) {
                        throw new CheckpointException(file, "field \"layer_types\" names \"" + t.asText()
                                + "\", which is not supported: this decoder computes full attention only");
                    }
                }
            }
        }

        private int asInt(String field, JsonNode value) {
            if (!value.isIntegralNumber() || !value.canConvertToInt()) {
                throw wrongType(field, "an integer", value);
            }
            return value.intValue();
        }

        private CheckpointException wrongType(String field, String expected, JsonNode value) {
            return new CheckpointException(file, "field \"" + field + "\" must be " + expected + ", got " + JsonFiles.describe(value));
        }

        private CheckpointException unsupported(String field) {
            return new CheckpointException(file, "field \"" + field + "\" = " + root.get(field) + " is not supported");
        }
    }
}
