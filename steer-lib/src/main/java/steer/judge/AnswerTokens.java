package steer.judge;

import steer.model.LanguageModel;

/** Looks answer words up in a model's vocabulary. */
final class AnswerTokens {

    private AnswerTokens() {
    }

    /** The id of {@code word}, which must be exactly one token of the model's vocabulary. */
    static int of(LanguageModel model, String templateId, String word) {
        int[] ids = model.tokenizer().encodeWithoutSpecialTokens(word);
        if (ids.length != 1) {
            throw new JudgeTemplateException("template '" + templateId + "': answer '" + word + "' is " + ids.length
                    + " tokens in " + model.tokenizer().file() + "; it must be exactly one");
        }
        return ids[0];
    }
}
