package steer.judge;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Judge templates as data: JSON files holding one template object, or an array of them.
 *
 * <pre>
 * {"id": "osp-like", "kind": "pairwise",
 *  "system": "optional system turn",
 *  "user": "… {prompt} … RESPONSE A: {response_a} … RESPONSE B: {response_b} … Which response is better?",
 *  "answer_prefix": "RESPONSE",
 *  "answers": ["A", "B"]}
 * {"id": "quality", "kind": "rubric", "user": "… {prompt} … {response} … Score (1-10):",
 *  "scores": {"min": 1, "max": 10}}
 * </pre>
 *
 * Fields: {@code id} (letters, digits, {@code . _ -}), {@code kind} ({@code pairwise} or {@code rubric}),
 * {@code user} (required), {@code system}, {@code answer_prefix} (the start of the assistant's reply, after which
 * the answer follows), {@code plain} (true: never rendered through a chat template), and {@code answers} (two
 * different words, no surrounding space) or {@code scores} (0 ≤ min ≤ max ≤ 100). The placeholders
 * {@code {prompt}}, {@code {response_a}}, {@code {response_b}} (pairwise) or {@code {prompt}}, {@code {response}}
 * (rubric) must each appear in {@code system} or {@code user}; any other {@code {word}} is an error. Texts are
 * substituted in one pass, so a response containing "{prompt}" stays as written. Rendering is
 * {@link JudgePrompt}'s.
 */
public final class TemplateFiles {

    private static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([a-z_]+)\\}");
    private static final Set<String> FIELDS = Set.of("id", "kind", "system", "user", "answer_prefix", "plain", "answers",
            "scores");
    private static final List<String> PAIRWISE_SLOTS = List.of("prompt", "response_a", "response_b");
    private static final List<String> RUBRIC_SLOTS = List.of("prompt", "response");

    private TemplateFiles() {
    }

    /** The templates read from one file: pairwise and rubric ones. */
    public record Loaded(List<PairwiseTemplate> pairwise, List<RubricTemplate> rubric) {
    }

    /**
     * Reads and validates a template file.
     *
     * @throws TemplateFileException naming the file, the template's index or id, and the field
     */
    public static Loaded read(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readAllBytes(file));
        } catch (JacksonException e) {
            throw new TemplateFileException("judge template file " + file + " is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new TemplateFileException("cannot read judge template file " + file + ": " + e, e);
        }
        List<JsonNode> nodes = new ArrayList<>();
        if (root != null && root.isArray()) {
            root.forEach(nodes::add);
        } else if (root != null && root.isObject()) {
            nodes.add(root);
        } else {
            throw new TemplateFileException("judge template file " + file + " must hold a template object or an array of them");
        }
        if (nodes.isEmpty()) {
            throw new TemplateFileException("judge template file " + file + " holds no template");
        }
        List<PairwiseTemplate> pairwise = new ArrayList<>();
        List<RubricTemplate> rubric = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            parse(file, root.isArray() ? "[" + i + "]" : "", nodes.get(i), pairwise, rubric);
        }
        return new Loaded(pairwise, rubric);
    }

    private static void parse(Path file, String index, JsonNode node, List<PairwiseTemplate> pairwise,
                              List<RubricTemplate> rubric) {
        String where = "judge template file " + file + index;
        if (!node.isObject()) {
            throw new TemplateFileException(where + ": a template must be a JSON object");
        }
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                throw new TemplateFileException(where + ": unknown field '" + name + "' (known: " + String.join(", ",
                        new java.util.TreeSet<>(FIELDS)) + ")");
            }
        }
        String id = text(where, node, "id", true);
        if (!ID.matcher(id).matches()) {
            throw new TemplateFileException(where + ": field 'id' is '" + id + "'; use 1 to 64 letters, digits, '.', '_' or '-'");
        }
        where = where + " (template '" + id + "')";
        String kind = text(where, node, "kind", true);
        String system = text(where, node, "system", false);
        String user = text(where, node, "user", true);
        String prefix = text(where, node, "answer_prefix", false);
        JsonNode plainNode = node.path("plain");
        if (!plainNode.isMissingNode() && !plainNode.isBoolean()) {
            throw new TemplateFileException(where + ": field 'plain' must be true or false");
        }
        boolean plain = plainNode.asBoolean(false);
        if ("pairwise".equals(kind)) {
            requireSlots(where, system, user, PAIRWISE_SLOTS);
            refuse(where, node, "scores", kind);
            JsonNode answers = node.path("answers");
            if (!answers.isArray() || answers.size() != 2 || !answers.get(0).isTextual() || !answers.get(1).isTextual()) {
                throw new TemplateFileException(where + ": field 'answers' must be an array of two strings, e.g. [\"A\", \"B\"]");
            }
            String a = answer(where, answers.get(0).asText());
            String b = answer(where, answers.get(1).asText());
            if (a.equals(b)) {
                throw new TemplateFileException(where + ": field 'answers' has '" + a + "' twice");
            }
            pairwise.add(new PairwiseTemplate(id, a, b, (q, first, second) -> new JudgePrompt(
                    fill(system, Map.of("prompt", q, "response_a", first, "response_b", second)),
                    fill(user, Map.of("prompt", q, "response_a", first, "response_b", second)), prefix, plain)));
        } else if ("rubric".equals(kind)) {
            requireSlots(where, system, user, RUBRIC_SLOTS);
            refuse(where, node, "answers", kind);
            JsonNode scores = node.path("scores");
            if (!scores.isObject() || !scores.path("min").isInt() || !scores.path("max").isInt() || scores.size() != 2) {
                throw new TemplateFileException(where + ": field 'scores' must be {\"min\": integer, \"max\": integer}");
            }
            int min = scores.get("min").asInt();
            int max = scores.get("max").asInt();
            if (min < 0 || max > 100 || min > max) {
                throw new TemplateFileException(where + ": field 'scores' is " + min + ".." + max + "; need 0 <= min <= max <= 100");
            }
            rubric.add(new RubricTemplate(id, min, max, (q, response) -> new JudgePrompt(
                    fill(system, Map.of("prompt", q, "response", response)),
                    fill(user, Map.of("prompt", q, "response", response)), prefix, plain)));
        } else {
            throw new TemplateFileException(where + ": field 'kind' is '" + kind + "'; use pairwise or rubric");
        }
    }

    private static String text(String where, JsonNode node, String field, boolean required) {
        JsonNode v = node.path(field);
        if (v.isMissingNode() || v.isNull()) {
            if (required) {
                throw new TemplateFileException(where + ": field '" + field + "' is missing");
            }
            return "";
        }
        if (!v.isTextual()) {
            throw new TemplateFileException(where + ": field '" + field + "' must be a string");
        }
        if (required && v.asText().isBlank()) {
            throw new TemplateFileException(where + ": field '" + field + "' is empty");
        }
        return v.asText();
    }

    private static void refuse(String where, JsonNode node, String field, String kind) {
        if (node.has(field)) {
            throw new TemplateFileException(where + ": field '" + field + "' does not apply to a " + kind + " template");
        }
    }

    private static String answer(String where, String a) {
        if (a.isEmpty() || !a.strip().equals(a)) {
            throw new TemplateFileException(where + ": field 'answers' has '" + a + "'; write each answer without "
                    + "surrounding space (the tokenizer's leading-space form is chosen when a model loads)");
        }
        return a;
    }

    private static void requireSlots(String where, String system, String user, List<String> slots) {
        for (String[] part : new String[][] {{"system", system}, {"user", user}}) {
            Matcher m = PLACEHOLDER.matcher(part[1]);
            while (m.find()) {
                if (!slots.contains(m.group(1))) {
                    throw new TemplateFileException(where + ": field '" + part[0] + "' has placeholder {" + m.group(1)
                            + "}; known: {" + String.join("}, {", slots) + "}");
                }
            }
        }
        for (String slot : slots) {
            if (!system.contains("{" + slot + "}") && !user.contains("{" + slot + "}")) {
                throw new TemplateFileException(where + ": field 'user' (or 'system') must contain {" + slot + "}");
            }
        }
    }

    /** Substitutes the placeholders in one pass, so substituted texts are never read as placeholders. */
    static String fill(String text, Map<String, String> values) {
        Matcher m = PLACEHOLDER.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String v = values.get(m.group(1));
            m.appendReplacement(out, Matcher.quoteReplacement(v == null ? m.group() : v));
        }
        m.appendTail(out);
        return out.toString();
    }
}
