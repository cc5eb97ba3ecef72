package steer.judge;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import steer.world.JudgeInstructions;

/**
 * Judge templates by id. The world's templates are those of {@link JudgeInstructions}: {@value #PAIRWISE}
 * (OSP's judge prompt) and {@value #RUBRIC} (TSO's evaluator, scores 2..10).
 */
public final class JudgeTemplates {

    /** Id of the world's pairwise template, the default for comparisons. */
    public static final String PAIRWISE = "pairwise";
    /** Id of the world's rubric template, the default for rubric scores. */
    public static final String RUBRIC = "rubric";

    private final Map<String, PairwiseTemplate> pairwise = new TreeMap<>();
    private final Map<String, RubricTemplate> rubric = new TreeMap<>();

    private JudgeTemplates() {
    }

    /** The oracle world's templates. */
    public static JudgeTemplates world() {
        JudgeTemplates t = new JudgeTemplates();
        t.pairwise.put(PAIRWISE, new PairwiseTemplate(PAIRWISE, JudgeInstructions.ANSWER_A, JudgeInstructions.ANSWER_B,
                JudgeInstructions::pairwise));
        t.rubric.put(RUBRIC, new RubricTemplate(RUBRIC, 2, 10, JudgeInstructions::rubric));
        return t;
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
}
