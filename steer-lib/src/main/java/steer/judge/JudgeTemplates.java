package steer.judge;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import steer.tokenizer.Tokenizer;
import steer.world.JudgeInstructions;

/**
 * Judge templates by id. The world's templates are those of {@link JudgeInstructions}: {@value #PAIRWISE}
 * (OSP's judge prompt in the world's vocabulary) and {@value #RUBRIC} (TSO's evaluator, scores 2..10). The
 * built-in {@value #OSP} is OSP's natural-language judge prompt (OSP Fig. 6), for models whose tokenizer can
 * encode it; more come from template files ({@link TemplateFiles}).
 */
public final class JudgeTemplates {

    /** Id of the world's pairwise template, the default for comparisons. */
    public static final String PAIRWISE = "pairwise";
    /** Id of the world's rubric template, the default for rubric scores. */
    public static final String RUBRIC = "rubric";
    /** Id of OSP's natural-language pairwise template. */
    public static final String OSP = "osp";

    /**
     * OSP's judge instruction (Fig. 6), the user turn: choose the more helpful and honest response, the context,
     * "RESPONSE A:", "RESPONSE B:", then the question; the assistant's reply starts "RESPONSE" and the answer
     * token follows (" A" or " B").
     */
    public static final String OSP_USER = "Please act as an impartial judge. Read the context and the two responses "
            + "below, and choose the response that is more helpful and honest.\n\n"
            + "CONTEXT: {prompt}\n\nRESPONSE A: {response_a}\n\nRESPONSE B: {response_b}\n\n"
            + "Which response is better?";
    /** The start of the assistant's reply in {@value #OSP}, after which the answer follows. */
    public static final String OSP_ANSWER_PREFIX = "RESPONSE";

    /**
     * What a template is, for listing.
     *
     * @param id       the id
     * @param kind     {@code pairwise} or {@code rubric}
     * @param answerA  pairwise: the answer for A (empty for a rubric)
     * @param answerB  pairwise: the answer for B
     * @param minScore rubric: the lowest score (0 for pairwise)
     * @param maxScore rubric: the highest score
     * @param source   {@code built-in} or the file it came from
     */
    public record Description(String id, String kind, String answerA, String answerB, int minScore, int maxScore,
                              String source) {
    }

    private final Map<String, PairwiseTemplate> pairwise = new TreeMap<>();
    private final Map<String, RubricTemplate> rubric = new TreeMap<>();
    private final Map<String, String> sources = new TreeMap<>();

    private JudgeTemplates() {
    }

    /** The oracle world's templates. */
    public static JudgeTemplates world() {
        JudgeTemplates t = new JudgeTemplates();
        t.pairwise.put(PAIRWISE, new PairwiseTemplate(PAIRWISE, JudgeInstructions.ANSWER_A, JudgeInstructions.ANSWER_B,
                (q, a, b) -> JudgePrompt.plain(JudgeInstructions.pairwise(q, a, b))));
        t.rubric.put(RUBRIC, new RubricTemplate(RUBRIC, 2, 10, (q, r) -> JudgePrompt.plain(JudgeInstructions.rubric(q, r))));
        t.sources.put(PAIRWISE, "built-in");
        t.sources.put(RUBRIC, "built-in");
        return t;
    }

    /** The world's templates and {@value #OSP}. */
    public static JudgeTemplates builtIn() {
        JudgeTemplates t = world();
        t.pairwise.put(OSP, osp());
        t.sources.put(OSP, "built-in");
        return t;
    }

    /** OSP's natural-language pairwise template ({@link #OSP_USER}), rendered through the model's chat template. */
    public static PairwiseTemplate osp() {
        return new PairwiseTemplate(OSP, "A", "B", (q, a, b) -> new JudgePrompt("",
                TemplateFiles.fill(OSP_USER, Map.of("prompt", q, "response_a", a, "response_b", b)), OSP_ANSWER_PREFIX, false));
    }

    /**
     * The built-in templates and those of the files, in order.
     *
     * @throws TemplateFileException naming the file and field if a file is invalid or reuses an id
     */
    public static JudgeTemplates load(List<Path> files) {
        JudgeTemplates t = builtIn();
        for (Path file : files) {
            TemplateFiles.Loaded loaded = TemplateFiles.read(file);
            for (PairwiseTemplate p : loaded.pairwise()) {
                t.claim(p.id(), file);
                t.pairwise.put(p.id(), p);
            }
            for (RubricTemplate r : loaded.rubric()) {
                t.claim(r.id(), file);
                t.rubric.put(r.id(), r);
            }
        }
        return t;
    }

    private void claim(String id, Path file) {
        String known = sources.get(id);
        if (known != null) {
            throw new TemplateFileException("judge template file " + file + ": field 'id': '" + id
                    + "' is already defined (" + known + ")");
        }
        sources.put(id, file.toString());
    }

    /**
     * The pairwise template with this id; empty means {@value #PAIRWISE}.
     *
     * @param field the request field, for the message
     * @throws UnknownTemplateException if there is none
     */
    public PairwiseTemplate pairwise(String field, String id) {
        PairwiseTemplate t = pairwise.get(id == null || id.isEmpty() ? PAIRWISE : id);
        if (t == null) {
            throw new UnknownTemplateException(field, id, "pairwise", pairwise.keySet());
        }
        return t;
    }

    /**
     * The rubric template with this id; empty means {@value #RUBRIC}.
     *
     * @param field the request field, for the message
     * @throws UnknownTemplateException if there is none
     */
    public RubricTemplate rubric(String field, String id) {
        RubricTemplate t = rubric.get(id == null || id.isEmpty() ? RUBRIC : id);
        if (t == null) {
            throw new UnknownTemplateException(field, id, "rubric", rubric.keySet());
        }
        return t;
    }

    /** Every id, pairwise first. */
    public List<String> ids() {
        List<String> ids = new ArrayList<>(pairwise.keySet());
        ids.addAll(rubric.keySet());
        return ids;
    }

    /** Every template, pairwise first, each in id order. */
    public List<Description> describe() {
        List<Description> out = new ArrayList<>();
        for (PairwiseTemplate p : pairwise.values()) {
            out.add(new Description(p.id(), "pairwise", p.answerA(), p.answerB(), 0, 0, sources.get(p.id())));
        }
        for (RubricTemplate r : rubric.values()) {
            out.add(new Description(r.id(), "rubric", "", "", r.minScore(), r.maxScore(), sources.get(r.id())));
        }
        return out;
    }

    /**
     * Why a template cannot judge with this tokenizer: its answers do not resolve ({@link AnswerTokens}).
     *
     * @return empty if it can
     */
    public Optional<String> unusable(Tokenizer tokenizer, String id) {
        try {
            if (pairwise.containsKey(id)) {
                AnswerTokens.pairwise(tokenizer, pairwise.get(id));
            } else {
                AnswerTokens.rubric(tokenizer, rubric(id, id));
            }
            return Optional.empty();
        } catch (JudgeTemplateException e) {
            return Optional.of(e.getMessage());
        } catch (RuntimeException e) {
            // a chat template that fails on the judge's turns makes the template unusable with that model
            return Optional.of("template '" + id + "': " + e.getMessage());
        }
    }
}
