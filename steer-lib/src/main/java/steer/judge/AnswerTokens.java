package steer.judge;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.WeakHashMap;
import steer.tokenizer.Tokenizer;

/**
 * Answer strings resolved to token ids for one tokenizer, as they follow the template's prompt.
 *
 * <p>A BPE tokenizer spells a word after a space with the space inside the token (Qwen's "ĠA", 362, is not "A",
 * 32), so the id of an answer depends on what precedes it. The form is chosen from the rendered prompt: after
 * whitespace (a chat template's generation prompt ends in a newline) the answer is appended as written; after
 * anything else (OSP's "… RESPONSE") it is appended after one space. The form is then checked: the ids of
 * prompt + form must be the prompt's ids followed by the answer's, so no merge crosses the boundary. The prompt
 * used is the template built with placeholder texts; templates end in fixed text (or a chat template's
 * generation prompt), so every real prompt ends the same way.
 *
 * <p>Resolutions are cached per tokenizer and template, so a served model resolves each template once.
 */
public final class AnswerTokens {

    /** Query and responses of the probe prompt the answers are resolved after. */
    private static final String PROBE = "x";

    /**
     * How an answer continues a prompt.
     *
     * @param answer the answer as the template writes it
     * @param form   the text appended to the prompt: {@code answer} or {@code " " + answer}
     * @param ids    the tokens it adds, one or more
     */
    public record Continuation(String answer, String form, int[] ids) {

        /** Whether the answer is one token. */
        public boolean single() {
            return ids.length == 1;
        }
    }

    private static final Map<Tokenizer, Map<Object, Object>> CACHE = new WeakHashMap<>();

    private AnswerTokens() {
    }

    /**
     * The single-token ids of a pairwise template's two answers.
     *
     * @return {@code {idA, idB}}
     * @throws JudgeTemplateException naming the template, the answer and the ids it became if an answer is not
     *                                one token, the two are the same token, or an answer does not continue the
     *                                prompt at a token boundary
     */
    public static int[] pairwise(Tokenizer tokenizer, PairwiseTemplate template) {
        return (int[]) cached(tokenizer, template, () -> {
            JudgePrompt probe = template.prompt().build(PROBE, PROBE, PROBE);
            Continuation a = resolve(tokenizer, template.id(), probe, template.answerA());
            Continuation b = resolve(tokenizer, template.id(), probe, template.answerB());
            requireSingle(tokenizer, template.id(), a);
            requireSingle(tokenizer, template.id(), b);
            if (a.ids()[0] == b.ids()[0]) {
                throw new JudgeTemplateException("template '" + template.id() + "': answers '" + a.answer() + "' and '"
                        + b.answer() + "' are the same token " + a.ids()[0] + " of " + tokenizer.file());
            }
            return new int[] {a.ids()[0], b.ids()[0]};
        });
    }

    /**
     * The continuations of a rubric template's scores min..max, {@code [i]} for score {@code min + i}; a score may
     * be several tokens.
     *
     * @throws JudgeTemplateException if a score does not continue the prompt at a token boundary
     */
    public static Continuation[] rubric(Tokenizer tokenizer, RubricTemplate template) {
        return (Continuation[]) cached(tokenizer, template, () -> {
            JudgePrompt probe = template.prompt().build(PROBE, PROBE);
            Continuation[] out = new Continuation[template.maxScore() - template.minScore() + 1];
            for (int i = 0; i < out.length; i++) {
                out[i] = resolve(tokenizer, template.id(), probe, Integer.toString(template.minScore() + i));
            }
            return out;
        });
    }

    /**
     * How {@code answer} continues {@code prompt} in this tokenizer.
     *
     * @throws JudgeTemplateException if it adds no token or a token merges across the boundary
     */
    public static Continuation resolve(Tokenizer tokenizer, String templateId, JudgePrompt prompt, String answer) {
        String text = prompt.text(tokenizer);
        boolean afterSpace = text.isEmpty() || Character.isWhitespace(text.charAt(text.length() - 1));
        String form = afterSpace ? answer : " " + answer;
        int[] head = tokenizer.encodeWithoutSpecialTokens(text);
        int[] full = tokenizer.encodeWithoutSpecialTokens(text + form);
        if (full.length <= head.length || !Arrays.equals(head, 0, head.length, full, 0, head.length)) {
            throw new JudgeTemplateException("template '" + templateId + "': answer '" + answer + "' (as '" + form
                    + "') does not follow the prompt at a token boundary of " + tokenizer.file() + ": the prompt ends "
                    + Arrays.toString(Arrays.copyOfRange(head, Math.max(0, head.length - 3), head.length))
                    + " but with the answer it ends "
                    + Arrays.toString(Arrays.copyOfRange(full, Math.max(0, head.length - 3), full.length)));
        }
        return new Continuation(answer, form, Arrays.copyOfRange(full, head.length, full.length));
    }

    private static void requireSingle(Tokenizer tokenizer, String templateId, Continuation c) {
        if (!c.single()) {
            throw new JudgeTemplateException("template '" + templateId + "': answer '" + c.answer() + "' (as '" + c.form()
                    + "') is " + c.ids().length + " tokens " + Arrays.toString(c.ids()) + " of " + tokenizer.file()
                    + "; a pairwise answer must be exactly one token");
        }
    }

    private interface Resolution {
        Object get();
    }

    /** Resolves once per (tokenizer, template); a refusal is cached too, and thrown again. */
    private static Object cached(Tokenizer tokenizer, Object template, Resolution resolve) {
        synchronized (CACHE) {
            Object known = CACHE.computeIfAbsent(tokenizer, t -> new HashMap<>()).get(template);
            if (known instanceof JudgeTemplateException) {
                throw new JudgeTemplateException(((JudgeTemplateException) known).getMessage());
            }
            if (known != null) {
                return known;
            }
        }
        Object value;
        try {
            value = resolve.get();
        } catch (JudgeTemplateException e) {
            synchronized (CACHE) {
                CACHE.computeIfAbsent(tokenizer, t -> new HashMap<>()).put(template, e);
            }
            throw e;
        }
        synchronized (CACHE) {
            CACHE.computeIfAbsent(tokenizer, t -> new HashMap<>()).put(template, value);
        }
        return value;
    }
}
