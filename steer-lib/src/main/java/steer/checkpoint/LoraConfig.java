package steer.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The hyperparameters of a LoRA adapter (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models",
 * arXiv 2106.09685, Eq. 3), as Hugging Face PEFT writes them in {@code adapter_config.json}. Each targeted
 * projection W {@code [out, in]} computes
 * <pre>
 *   W·x + (α / r)·B·(A·x),   A [r, in],  B [out, r]
 * </pre>
 *
 * @param rank      r ≥ 1, the adapter's inner width; no default (PEFT's is 8)
 * @param alpha     α &gt; 0; the update is scaled by α / r, so the learning rate need not be retuned when r changes
 *                  (Hu et al. §4.1); default 8, PEFT's {@code lora_alpha}
 * @param targets   the projections that carry an adapter, at least one; default q and v, PEFT's choice for Llama
 *                  and Qwen2 (and Hu et al.'s for GPT-3, §7.1)
 * @param dropout   {@code lora_dropout} in [0, 1), kept in the file; Steer applies no dropout, so a non-zero value
 *                  is refused when training starts ({@link #requireNoDropout}); default 0
 * @param baseModel {@code base_model_name_or_path}: the base checkpoint the adapter was trained on, or null
 */
public record LoraConfig(int rank, double alpha, Set<Target> targets, double dropout, String baseModel) {

    /** The file PEFT keeps these settings in. */
    public static final String FILE_NAME = "adapter_config.json";

    /** α when none is given: PEFT's {@code LoraConfig.lora_alpha}. */
    public static final double DEFAULT_ALPHA = 8;

    /** The projections an adapter may target, with their PEFT module names and places in a decoder layer. */
    public enum Target {
        Q("q_proj", "self_attn"), K("k_proj", "self_attn"), V("v_proj", "self_attn"), O("o_proj", "self_attn"),
        GATE("gate_proj", "mlp"), UP("up_proj", "mlp"), DOWN("down_proj", "mlp");

        private final String module;
        private final String block;

        Target(String module, String block) {
            this.module = module;
            this.block = block;
        }

        /** The PEFT {@code target_modules} name, e.g. {@code q_proj}. */
        public String module() {
            return module;
        }

        /** The module's path inside a decoder layer, e.g. {@code self_attn.q_proj}. */
        public String path() {
            return block + "." + module;
        }

        /** Input width of the projection under {@code c}. */
        public int in(DecoderConfig c) {
            return switch (this) {
                case O -> c.qDim();
                case DOWN -> c.intermediateSize();
                default -> c.hiddenSize();
            };
        }

        /** Output width of the projection under {@code c}. */
        public int out(DecoderConfig c) {
            return switch (this) {
                case Q -> c.qDim();
                case K, V -> c.kvDim();
                case O, DOWN -> c.hiddenSize();
                case GATE, UP -> c.intermediateSize();
            };
        }

        /** A target by its short name ({@code q}, {@code gate}) or PEFT module name ({@code q_proj}). */
        public static Target parse(String name) {
            String n = name.trim().toLowerCase(Locale.ROOT);
            for (Target t : values()) {
                if (t.module.equals(n) || t.module.equals(n + "_proj")) {
                    return t;
                }
            }
            throw new IllegalArgumentException("unknown LoRA target '" + name + "'; expected q, k, v, o, gate, up or down");
        }
    }

    public LoraConfig {
        if (rank < 1) {
            throw new IllegalArgumentException("LoRA rank r must be at least 1, got " + rank + " (PEFT's default is 8)");
        }
        if (!(alpha > 0 && Double.isFinite(alpha))) {
            throw new IllegalArgumentException("LoRA alpha must be finite and > 0, got " + alpha + " (PEFT's default is 8)");
        }
        if (targets == null || targets.isEmpty()) {
            throw new IllegalArgumentException("a LoRA adapter needs at least one target of q, k, v, o, gate, up, down");
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("LoRA dropout must be in [0, 1), got " + dropout);
        }
        targets = Set.copyOf(EnumSet.copyOf(targets));
    }

    /** The targets when none are given: q and v, PEFT's default for Llama and Qwen2. */
    public static final Set<Target> DEFAULT_TARGETS = Set.of(Target.Q, Target.V);

    /**
     * The settings a service request names, zero values taking the defaults: α 0 = {@value #DEFAULT_ALPHA}, no
     * targets = {@link #DEFAULT_TARGETS}; no dropout, no base model named.
     *
     * @throws IllegalArgumentException naming the setting out of range or the unknown target
     */
    public static LoraConfig fromSettings(int rank, double alpha, List<String> targets) {
        Set<Target> parsed = EnumSet.noneOf(Target.class);
        for (String t : targets) {
            parsed.add(Target.parse(t));
        }
        return new LoraConfig(rank, alpha == 0 ? DEFAULT_ALPHA : alpha, parsed.isEmpty() ? DEFAULT_TARGETS : parsed, 0,
                null);
    }

    /** Rank r with α = {@value #DEFAULT_ALPHA}, no dropout, no base model named. */
    public static LoraConfig of(int rank, Set<Target> targets) {
        return new LoraConfig(rank, DEFAULT_ALPHA, targets, 0, null);
    }

    /** The targets parsed from a comma-separated list such as {@code q,k,v,o,gate,up,down}. */
    public static Set<Target> parseTargets(String list) {
        Set<Target> out = EnumSet.noneOf(Target.class);
        for (String part : list.split(",")) {
            if (!part.isBlank()) {
                out.add(Target.parse(part));
            }
        }
        return out;
    }

    /** The update's scale α / r. */
    public double scale() {
        return alpha / rank;
    }

    /** The same settings with another base model recorded. */
    public LoraConfig withBaseModel(String base) {
        return new LoraConfig(rank, alpha, targets, dropout, base);
    }

    /** The targets in a fixed order (q, k, v, o, gate, up, down). */
    public List<Target> orderedTargets() {
        return List.copyOf(EnumSet.copyOf(targets));
    }

    /** Refuses a dropout Steer would not apply, naming the field, before any training. */
    public void requireNoDropout() {
        if (dropout != 0) {
            throw new IllegalArgumentException("lora_dropout " + dropout + " is not implemented: Steer trains adapters"
                    + " without dropout; set it to 0");
        }
    }

    /**
     * The PEFT tensor name of one adapter matrix, as {@code save_pretrained} writes it for a causal LM (the adapter
     * name {@code default} removed).
     *
     * @param layer  the decoder layer, from 0
     * @param target the projection
     * @param matrix {@code "A"} ({@code [r, in]}) or {@code "B"} ({@code [out, r]})
     * @return e.g. {@code base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight}
     */
    public static String tensorName(int layer, Target target, String matrix) {
        return "base_model.model." + HfTensorLayout.layer(layer, target.path()) + ".lora_" + matrix + ".weight";
    }

    /**
     * Reads {@code adapter_config.json}. Fields that would change the maths but are not implemented (DoRA,
     * rsLoRA's α/√r, per-layer ranks, biases, fan-in/fan-out weights, modules saved in full) are refused with the
     * field named, never ignored.
     *
     * @throws CheckpointException naming the file and the field
     */
    public static LoraConfig read(Path file) {
        ObjectNode root = JsonFiles.readObject(file);
        String peftType = root.path("peft_type").asText("");
        if (!peftType.equals("LORA")) {
            throw new CheckpointException(file, "peft_type must be \"LORA\", got " + JsonFiles.describe(root.path("peft_type")));
        }
        refuseUnless(file, root, "bias", n -> n.asText().equals("none"), "\"none\"");
        refuseUnless(file, root, "fan_in_fan_out", n -> n.isBoolean() && !n.asBoolean(), "false");
        refuseUnless(file, root, "use_rslora", n -> n.isBoolean() && !n.asBoolean(), "false");
        refuseUnless(file, root, "use_dora", n -> n.isBoolean() && !n.asBoolean(), "false");
        for (String field : new String[] {"modules_to_save", "layers_to_transform", "rank_pattern", "alpha_pattern"}) {
            refuseUnless(file, root, field, n -> n.isNull() || n.isEmpty(), "null or empty");
        }
        JsonNode r = root.path("r");
        JsonNode alpha = root.path("lora_alpha");
        JsonNode modules = root.path("target_modules");
        if (!r.canConvertToInt() || !r.isIntegralNumber() || !alpha.isNumber() || !modules.isArray()) {
            throw new CheckpointException(file, "adapter_config.json needs an integer r, a number lora_alpha and a list"
                    + " target_modules (a regular expression is not supported); got r " + JsonFiles.describe(r)
                    + ", lora_alpha " + JsonFiles.describe(alpha) + ", target_modules " + JsonFiles.describe(modules));
        }
        Set<Target> targets = EnumSet.noneOf(Target.class);
        for (JsonNode m : modules) {
            try {
                targets.add(Target.parse(m.asText()));
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(file, "target_modules: " + e.getMessage());
            }
        }
        JsonNode base = root.path("base_model_name_or_path");
        try {
            return new LoraConfig(r.asInt(), alpha.asDouble(), targets, root.path("lora_dropout").asDouble(0),
                    base.isTextual() ? base.asText() : null);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file, e.getMessage(), e);
        }
    }

    private static void refuseUnless(Path file, ObjectNode root, String field,
                                     java.util.function.Predicate<JsonNode> supported, String expected) {
        JsonNode n = root.get(field);
        if (n != null && !supported.test(n)) {
            throw new CheckpointException(file, field + " " + JsonFiles.describe(n) + " is not supported (expected "
                    + expected + ")");
        }
    }

    /** Writes {@code adapter_config.json} with the fields PEFT's loader reads, atomically. */
    public void write(Path file) {
        ObjectNode root = JsonFiles.MAPPER.createObjectNode();
        if (baseModel == null) {
            root.putNull("base_model_name_or_path");
        } else {
            root.put("base_model_name_or_path", baseModel);
        }
        root.put("bias", "none");
        root.put("fan_in_fan_out", false);
        root.put("inference_mode", true);
        root.put("init_lora_weights", true);
        root.put("lora_alpha", alpha);
        root.put("lora_dropout", dropout);
        root.putNull("modules_to_save");
        root.put("peft_type", "LORA");
        root.put("r", rank);
        ArrayNode modules = root.putArray("target_modules");
        List<String> names = new ArrayList<>();
        for (Target t : orderedTargets()) {
            names.add(t.module());
        }
        names.forEach(modules::add);
        root.put("task_type", "CAUSAL_LM");
        root.put("use_dora", false);
        root.put("use_rslora", false);
        byte[] bytes;
        try {
            bytes = JsonFiles.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new CheckpointException(file, "could not encode: " + e, e);
        }
        AtomicFiles.write(file, channel -> {
            java.nio.ByteBuffer buffer = java.nio.ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        });
    }
}
