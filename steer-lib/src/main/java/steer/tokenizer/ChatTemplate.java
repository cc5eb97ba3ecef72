package steer.tokenizer;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jinjava.javax.el.CompositeELResolver;

/**
 * A model's chat template: {@code tokenizer_config.json}'s {@code chat_template} (Jinja), rendered by HubSpot's
 * jinjava with the variables Hugging Face transformers passes ({@code apply_chat_template}): {@code messages}
 * (maps with {@code role} and {@code content}), {@code add_generation_prompt}, and the special tokens the config
 * names ({@code bos_token}, {@code eos_token}, {@code pad_token}, {@code unk_token}, each a string or an
 * AddedToken object with {@code content}).
 *
 * <p>Hugging Face renders with Python's Jinja2, {@code trim_blocks} and {@code lstrip_blocks} on; jinjava is set
 * up the same way, and the gaps between the two engines that real templates (Qwen2.5/Qwen3, Llama 3) hit are
 * bridged here, each in one place:
 * <ul>
 *   <li>Python's {@code str} methods ({@code startswith}, {@code endswith}, {@code strip}, {@code lstrip},
 *       {@code rstrip}, {@code split}, {@code upper}, {@code lower}, {@code replace}) on strings:
 *       {@link PythonStringMethods}, an EL resolver in front of jinjava's own;</li>
 *   <li>{@code raise_exception(msg)} and {@code strftime_now(fmt)}, the functions transformers adds;</li>
 *   <li>two constructs jinjava's expression parser does not read as Python does, rewritten in the source before
 *       parsing: the reversing slice {@code x[::-1]} (as {@code (x|reverse)}), and keyword arguments of
 *       {@code namespace(...)} whose value is an operator expression (jinjava binds {@code y=a - 1} as
 *       {@code (y=a) - 1}; each value is parenthesised).</li>
 * </ul>
 * Any error jinjava reports while rendering fails the render with the file and the errors: a template that
 * half-renders would silently misplace the prompt/response boundary.
 *
 * <p>Thread safety: {@link #render} may be called from several threads at once (each render gets its own
 * jinjava interpreter).
 */
public final class ChatTemplate {

    /** The file name the Hugging Face layout uses for tokenizer settings and the chat template. */
    public static final String CONFIG_FILE = "tokenizer_config.json";

    /**
     * One turn of a conversation.
     *
     * @param role    {@code system}, {@code user} or {@code assistant}
     * @param content the turn's text
     */
    public record Message(String role, String content) {

        public Message {
            if (role == null || role.isEmpty()) {
                throw new IllegalArgumentException("a chat message needs a role");
            }
            if (content == null) {
                throw new IllegalArgumentException("chat message '" + role + "' has no content");
            }
        }

        /** A system turn. */
        public static Message system(String content) {
            return new Message("system", content);
        }

        /** A user turn. */
        public static Message user(String content) {
            return new Message("user", content);
        }

        /** An assistant turn. */
        public static Message assistant(String content) {
            return new Message("assistant", content);
        }
    }

    private static final Pattern REVERSE_SLICE = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)*)\\[::-1\\]");
    private static final Pattern NAMESPACE_CALL = Pattern.compile("\\bnamespace\\(");
    private static final Pattern KEYWORD = Pattern.compile("^\\s*([A-Za-z_][A-Za-z0-9_]*)\\s*=(?!=)(.*)$", Pattern.DOTALL);
    private static final String[] SPECIAL_TOKENS = {"bos_token", "eos_token", "pad_token", "unk_token"};

    private final Path file;
    private final String source;
    private final Map<String, String> specialTokens;
    private final Jinjava jinjava;

    private ChatTemplate(Path file, String source, Map<String, String> specialTokens) {
        this.file = file;
        this.source = source;
        this.specialTokens = specialTokens;
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonStringMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        JinjavaConfig config = JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true)
                .withElResolver(resolver).withFailOnUnknownTokens(false)
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        // Jinja2's semantics for {{- -}}, operator precedence and whitespace control
                        .withUseTrimmingForNotesAndExpressions(true).withUseNaturalOperatorPrecedence(true)
                        .withParseWhitespaceControlStrictly(true).withUsePyishObjectMapper(true).build())
                .build();
        this.jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class,
                "raiseException", String.class));
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now", ChatTemplate.class,
                "strftimeNow", String.class));
    }

    /**
     * The chat template of a model directory, checked by rendering a one-turn conversation.
     *
     * @param modelDir a model directory in the Hugging Face layout
     * @return empty if the directory has no {@value #CONFIG_FILE} or the file names no {@code chat_template}
     *         (plain-text models, such as the oracle world's)
     * @throws TokenizerException naming the file if it is not JSON, its {@code chat_template} is not a string
     *                            (or a list of named templates with a {@code default}), or the template does not
     *                            render
     */
    public static Optional<ChatTemplate> load(Path modelDir) {
        Path file = modelDir.resolve(CONFIG_FILE);
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (JacksonException e) {
            throw new TokenizerException("tokenizer config " + file + " is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new TokenizerException("cannot read tokenizer config " + file + ": " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new TokenizerException("tokenizer config " + file + " is not a JSON object");
        }
        JsonNode template = root.path("chat_template");
        if (template.isMissingNode() || template.isNull()) {
            return Optional.empty();
        }
        String source = templateSource(file, template);
        Map<String, String> special = new HashMap<>();
        for (String name : SPECIAL_TOKENS) {
            JsonNode t = root.path(name);
            if (t.isTextual()) {
                special.put(name, t.asText());
            } else if (t.isObject() && t.path("content").isTextual()) {
                special.put(name, t.path("content").asText());
            } else if (!t.isMissingNode() && !t.isNull()) {
                throw new TokenizerException("tokenizer config " + file + ": " + name
                        + " must be a string or an object with a string 'content', not " + t);
            }
        }
        ChatTemplate chat = new ChatTemplate(file, source, special);
        chat.render(List.of(Message.user("hello")), true);
        return Optional.of(chat);
    }

    /** A template from its source, for tests; {@code file} only names it in errors. */
    public static ChatTemplate of(Path file, String source, Map<String, String> specialTokens) {
        return new ChatTemplate(file, source, Map.copyOf(specialTokens));
    }

    private static String templateSource(Path file, JsonNode template) {
        if (template.isTextual()) {
            return template.asText();
        }
        if (template.isArray()) {
            // transformers' named templates: [{"name": "default", "template": "..."}, {"name": "tool_use", ...}]
            for (JsonNode named : template) {
                if ("default".equals(named.path("name").asText()) && named.path("template").isTextual()) {
                    return named.path("template").asText();
                }
            }
            throw new TokenizerException("tokenizer config " + file + ": chat_template is a list without a template "
                    + "named 'default'");
        }
        throw new TokenizerException("tokenizer config " + file + ": chat_template must be a string, not " + template.getNodeType());
    }

    /**
     * Renders a conversation.
     *
     * @param messages            the turns, in order
     * @param addGenerationPrompt append the opening of an assistant turn (the prompt/response boundary)
     * @return the text, special-token strings included; encode it without adding special tokens again
     * @throws TokenizerException naming the file and jinjava's errors if the template fails (including its own
     *                            {@code raise_exception})
     */
    public String render(List<Message> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> turns = new ArrayList<>(messages.size());
        for (Message m : messages) {
            Map<String, Object> turn = new LinkedHashMap<>();
            turn.put("role", m.role());
            turn.put("content", m.content());
            turns.add(turn);
        }
        Map<String, Object> bindings = new HashMap<>(specialTokens);
        bindings.put("messages", turns);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result;
        try {
            result = jinjava.renderForResult(compatible(source), bindings);
        } catch (RuntimeException e) {
            throw new TokenizerException("chat template of " + file + " failed: " + e.getMessage(), e);
        }
        List<String> errors = new ArrayList<>();
        for (TemplateError e : result.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                Throwable cause = e.getException();
                while (cause != null && cause.getCause() != null && cause.getCause() != cause) {
                    cause = cause.getCause();
                }
                // raise_exception's message is the template author's reason; jinjava wraps it
                errors.add("line " + e.getLineno() + ": " + e.getMessage()
                        + (cause != null && cause.getMessage() != null && !e.getMessage().contains(cause.getMessage())
                        ? " (" + cause.getMessage() + ")" : ""));
            }
        }
        if (!errors.isEmpty()) {
            throw new TokenizerException("chat template of " + file + " does not render: " + String.join("; ", errors));
        }
        return result.getOutput();
    }

    /** The file the template came from. */
    public Path file() {
        return file;
    }

    /** Called by templates as {@code raise_exception(msg)}, as in transformers. */
    public static String raiseException(String message) {
        throw new IllegalStateException("the template raised: " + message);
    }

    /** Called by templates as {@code strftime_now(fmt)} (Llama 3's date line): the local time in a C format. */
    public static String strftimeNow(String format) {
        LocalDateTime now = LocalDateTime.now();
        String out = format.replace("%d", String.format("%02d", now.getDayOfMonth()))
                .replace("%b", now.format(DateTimeFormatter.ofPattern("MMM", java.util.Locale.ROOT)))
                .replace("%B", now.format(DateTimeFormatter.ofPattern("MMMM", java.util.Locale.ROOT)))
                .replace("%m", String.format("%02d", now.getMonthValue()))
                .replace("%Y", Integer.toString(now.getYear()));
        return out;
    }

    /** The source with the two jinjava parser gaps of the class Javadoc rewritten. */
    static String compatible(String source) {
        String s = REVERSE_SLICE.matcher(source).replaceAll("($1|reverse)");
        StringBuilder out = new StringBuilder();
        Matcher m = NAMESPACE_CALL.matcher(s);
        int from = 0;
        while (m.find(from)) {
            int open = m.end();
            int close = matchingParen(s, open);
            if (close < 0) {
                break;
            }
            out.append(s, from, open);
            List<String> args = topLevelArguments(s.substring(open, close));
            List<String> wrapped = new ArrayList<>();
            for (String a : args) {
                Matcher k = KEYWORD.matcher(a);
                wrapped.add(k.matches() ? k.group(1) + "=(" + k.group(2).trim() + ")" : a);
            }
            out.append(String.join(", ", wrapped)).append(')');
            from = close + 1;
        }
        out.append(s.substring(from));
        return out.toString();
    }

    /** Index of the parenthesis closing the one before {@code open}, skipping quoted strings; -1 if none. */
    private static int matchingParen(String s, int open) {
        int depth = 1;
        char quote = 0;
        for (int i = open; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == '\\') {
                    i++;
                } else if (c == quote) {
                    quote = 0;
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if (c == ')' || c == ']' || c == '}') {
                depth--;
                if (depth == 0) {
                    return i;
                }
            }
        }
        return -1;
    }

    private static List<String> topLevelArguments(String args) {
        List<String> out = new ArrayList<>();
        int depth = 0;
        char quote = 0;
        int start = 0;
        for (int i = 0; i < args.length(); i++) {
            char c = args.charAt(i);
            if (quote != 0) {
                if (c == '\\') {
                    i++;
                } else if (c == quote) {
                    quote = 0;
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if (c == ')' || c == ']' || c == '}') {
                depth--;
            } else if (c == ',' && depth == 0) {
                out.add(args.substring(start, i));
                start = i + 1;
            }
        }
        if (!args.substring(start).isBlank()) {
            out.add(args.substring(start));
        }
        return out;
    }
}
