package steer.judge;

import java.util.ArrayList;
import java.util.List;
import steer.tokenizer.ChatTemplate;
import steer.tokenizer.Tokenizer;

/**
 * A judge prompt before the model's formatting: an optional system turn, the user turn holding the instruction,
 * and an optional answer prefix that opens the assistant's reply (OSP's "RESPONSE", after which the answer token
 * follows).
 *
 * <p>For a model with a chat template the text is the template's rendering of [system, user] with the generation
 * prompt on, then the answer prefix; it is encoded without the tokenizer's special tokens, since the template
 * writes its own (transformers' {@code apply_chat_template} does the same). Otherwise, and always for a
 * {@code plain} prompt (the oracle world's, whose vocabulary has no chat markers), the text is
 * {@code system + "\n\n" + user + "\n" + answerPrefix} (empty parts and their separators left out), encoded with
 * the special tokens (BOS), as plain completion prompts are.
 *
 * @param system       the system turn, or empty for none
 * @param user         the user turn, not empty
 * @param answerPrefix text the assistant's reply starts with before the answer, or empty
 * @param plain        never rendered through a chat template
 */
public record JudgePrompt(String system, String user, String answerPrefix, boolean plain) {

    public JudgePrompt {
        system = system == null ? "" : system;
        answerPrefix = answerPrefix == null ? "" : answerPrefix;
        if (user == null || user.isEmpty()) {
            throw new IllegalArgumentException("a judge prompt needs a user turn");
        }
    }

    /** A plain-text prompt, never rendered through a chat template (the oracle world's). */
    public static JudgePrompt plain(String text) {
        return new JudgePrompt("", text, "", true);
    }

    /** The text the model continues, for this tokenizer. */
    public String text(Tokenizer tokenizer) {
        ChatTemplate chat = plain ? null : tokenizer.chatTemplate().orElse(null);
        if (chat != null) {
            List<ChatTemplate.Message> turns = new ArrayList<>(2);
            if (!system.isEmpty()) {
                turns.add(ChatTemplate.Message.system(system));
            }
            turns.add(ChatTemplate.Message.user(user));
            return chat.render(turns, true) + answerPrefix;
        }
        StringBuilder out = new StringBuilder();
        if (!system.isEmpty()) {
            out.append(system).append("\n\n");
        }
        out.append(user);
        if (!answerPrefix.isEmpty()) {
            out.append('\n').append(answerPrefix);
        }
        return out.toString();
    }

    /** Whether the tokenizer formats this prompt through its chat template. */
    public boolean chat(Tokenizer tokenizer) {
        return !plain && tokenizer.chatTemplate().isPresent();
    }

    /** The prompt's token ids for this tokenizer. */
    public int[] encode(Tokenizer tokenizer) {
        String text = text(tokenizer);
        return chat(tokenizer) ? tokenizer.encodeWithoutSpecialTokens(text) : tokenizer.encode(text);
    }
}
