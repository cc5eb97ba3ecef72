package steer.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Reads and writes the Hugging Face {@code config.json} of a Llama or Qwen2 model as a {@link DecoderConfig}.
 *
 * <p>Defaults for absent fields follow {@code transformers}' {@code LlamaConfig} and {@code Qwen2Config}:
 * {@code num_key_value_heads} = {@code num_attention_heads}, {@code rope_theta} = 10000,
 * {@code tie_word_embeddings} = false, {@code attention_bias} = false for Llama. Qwen2 always has q/k/v
 * biases, whatever the file says. {@code eos_token_id} may be a list (as in Llama 3); the first id is kept.
 * All other fields are required.
 *
 * <p>Settings that would change the maths of the decoder but that {@link DecoderConfig} cannot express
 * (an activation other than SiLU, RoPE scaling, a head dimension other than hidden/heads, MLP biases,
 * sliding-window attention) are refused rather than silently ignored.
 */
public final class HfConfigJson {

    /** The file name inside a checkpoint directory. */
    public static final String FILE_NAME = "config.json";

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
        if (!modelType.equals("llama") && !modelType.equals("qwen2")) {
            throw new CheckpointException(configJson, "model_type \"" + modelType + "\" is not supported (expected llama or qwen2)");
        }
        boolean qwen2 = modelType.equals("qwen2");
        int hiddenSize = f.integer("hidden_size");
        int numHeads = f.integer("num_attention_heads");
        f.refuseUnsupported(hiddenSize, numHeads);
        try {
            return new DecoderConfig(
                    modelType,
                    f.integer("vocab_size"),
                    hiddenSize,
                    f.integer("intermediate_size"),
                    f.integer("num_hidden_layers"),
                    numHeads,
                    f.has("num_key_value_heads") ? f.integer("num_key_value_heads") : numHeads,
                    f.number("rms_norm_eps"),
                    f.ropeTheta(),
                    f.integer("max_position_embeddings"),
                    f.has("tie_word_embeddings") && f.bool("tie_word_embeddings"),
                    qwen2 || (f.has("attention_bias") && f.bool("attention_bias")),
                    f.integer("bos_token_id"),
                    f.firstInteger("eos_token_id"));
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
        root.putArray("architectures").add(qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
        root.put("model_type", config.modelType());
        root.put("vocab_size", config.vocabSize());
        root.put("hidden_size", config.hiddenSize());
        root.put("intermediate_size", config.intermediateSize());
        root.put("num_hidden_layers", config.numLayers());
        root.put("num_attention_heads", config.numHeads());
        root.put("num_key_value_heads", config.numKvHeads());
        root.put("hidden_act", "silu");
        root.put("rms_norm_eps", config.rmsNormEps());
        root.put("rope_theta", config.ropeTheta());
        root.put("max_position_embeddings", config.maxPositionEmbeddings());
        root.put("tie_word_embeddings", config.tieWordEmbeddings());
        if (!qwen2) {
            // Qwen2Config has no such field: its q/k/v biases are implied by the architecture.
            root.put("attention_bias", config.attentionBias());
        }
        root.put("bos_token_id", config.bosTokenId());
        root.put("eos_token_id", config.eosTokenId());
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

        int firstInteger(String field) {
            JsonNode value = required(field);
            if (value.isArray()) {
                if (value.isEmpty()) {
                    throw new CheckpointException(file, "field \"" + field + "\" is an empty list");
                }
                return asInt(field, value.get(0));
            }
            return asInt(field, value);
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

        void refuseUnsupported(int hiddenSize, int numHeads) {
            if (has("hidden_act") && !"silu".equals(root.get("hidden_act").asText())) {
                throw unsupported("hidden_act");
            }
            for (String field : new String[] {"rope_scaling", "rope_parameters"}) {
                JsonNode rope = root.get(field);
                if (rope != null && !rope.isNull()) {
                    String type = rope.path("rope_type").asText(rope.path("type").asText("default"));
                    if (!type.equals("default")) {
                        throw unsupported(field);
                    }
                }
            }
            if (has("head_dim") && numHeads > 0 && root.get("head_dim").asLong() != hiddenSize / numHeads) {
                throw new CheckpointException(file, "field \"head_dim\" = " + root.get("head_dim")
                        + " differs from hidden_size / num_attention_heads = " + hiddenSize / numHeads + ", which is not supported");
            }
            if (has("mlp_bias") && root.get("mlp_bias").asBoolean()) {
                throw unsupported("mlp_bias");
            }
            if (has("use_sliding_window") && root.get("use_sliding_window").asBoolean()) {
                throw unsupported("use_sliding_window");
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
