package steer.align;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The token ids of every response a round sampled from the run's policy, so the examples a method built from the
 * texts can carry the ids the trainer should train on. Methods work on texts and need not know about ids: the loop
 * records each sample here as it arrives and {@link #attach attaches} ids to the finished examples.
 *
 * <p>A response is found by the prompt it was sampled under and its text, or, where an example pairs it with
 * another prompt (SSO scores y+ under x as well), by its text alone. A text sampled twice with different ids is
 * ambiguous and gets none, so an example never carries ids that were not sampled for it; it then trains from its
 * text as before.
 *
 * <p>Only the policy's own samples count: the round's sampling version ({@link #POLICY}, TSO's {@code self}) and
 * earlier versions of the same policy ({@code policy@v<N>}), which share its tokenizer. TSO's reference answers and
 * other models' samples (whose tokenizer may differ) stay text.
 */
public final class RoundTokens {

    /** The source of the round's own samples, as {@link JudgedPair#chosenSource} names them (empty). */
    public static final String POLICY = "";

    private final Map<List<String>, Optional<ResponseTokens>> byPromptAndText = new HashMap<>();
    private final Map<List<String>, Optional<ResponseTokens>> byText = new HashMap<>();
    private int attached;
    private int textOnly;

    /** The source name of an earlier version of the policy, as TSO's pairs name it. */
    public static String earlierVersion(long version) {
        return "policy@v" + version;
    }

    /**
     * Records one sample.
     *
     * @param source {@link #POLICY} or {@link #earlierVersion}
     * @param prompt the prompt it was sampled under
     * @param text   its text, as the method sees it
     * @param tokens its ids and finish reason
     */
    public synchronized void record(String source, String prompt, String text, ResponseTokens tokens) {
        put(byPromptAndText, List.of(source, prompt, text), tokens);
        put(byText, List.of(source, text), tokens);
    }

    private static void put(Map<List<String>, Optional<ResponseTokens>> map, List<String> key, ResponseTokens t) {
        Optional<ResponseTokens> before = map.get(key);
        map.put(key, before == null || before.equals(Optional.of(t)) ? Optional.of(t) : Optional.empty());
    }

    /** The examples with the ids of each response that has them. */
    public synchronized List<RoundExample> attach(List<RoundExample> examples) {
        List<RoundExample> out = new ArrayList<>(examples.size());
        for (RoundExample e : examples) {
            out.add(attach(e));
        }
        return out;
    }

    private RoundExample attach(RoundExample e) {
        if (e instanceof SsoTriple t) {
            return t.withTokens(find(POLICY, t.promptPlus(), t.yPlus()), find(POLICY, t.promptMinus(), t.yMinus()),
                    find(POLICY, t.prompt(), t.yOrig()));
        }
        JudgedPair p = (JudgedPair) e;
        return p.withTokens(find(ledger(p.chosenSource()), p.prompt(), p.chosen()),
                find(ledger(p.rejectedSource()), p.prompt(), p.rejected()));
    }

    /** The ledger a pair's source samples are in, or null for a source that is not the policy. */
    private static String ledger(String source) {
        if (source.isEmpty() || source.equals("self")) {
            return POLICY;
        }
        return source.startsWith("policy@v") ? source : null;
    }

    private ResponseTokens find(String source, String prompt, String text) {
        ResponseTokens t = null;
        if (source != null) {
            Optional<ResponseTokens> exact = byPromptAndText.get(List.of(source, prompt, text));
            Optional<ResponseTokens> any = exact != null ? exact : byText.get(List.of(source, text));
            t = any == null ? null : any.orElse(null);
        }
        if (t == null) {
            textOnly++;
        } else {
            attached++;
        }
        return t;
    }

    /** Responses {@link #attach} gave ids to so far. */
    public synchronized int attached() {
        return attached;
    }

    /** Responses {@link #attach} left as text so far (not the policy's, or ambiguous). */
    public synchronized int textOnly() {
        return textOnly;
    }
}
