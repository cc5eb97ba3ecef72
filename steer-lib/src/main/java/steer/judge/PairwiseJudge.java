package steer.judge;

import java.util.ArrayList;
import java.util.List;
import steer.model.LanguageModel;
import steer.model.SequenceScorer;

/**
 * A language model as OSP's pairwise judge. With the responses shown in order (A, B), p_AB = softmax(ℓ_A,
 * ℓ_B)[A] over the next-token logits of the two answer tokens after the judge prompt; shown swapped (B first),
 * p_BA = 1 − softmax(ℓ'_A, ℓ'_B)[A], the swapped verdict mapped back to "A is better". The strength is their
 * mean, p = (p_AB + p_BA) / 2, which cancels a position bias (OSP §3.2, Fig. 6).
 *
 * <p>Comparing with an empty response (OSP's ranked pairing) is the same with B = "".
 */
public final class PairwiseJudge {

    /**
     * One comparison.
     *
     * @param prompt    the query
     * @param responseA response A
     * @param responseB response B (empty for a comparison with the empty response)
     */
    public record Item(String prompt, String responseA, String responseB) {
    }

    /**
     * The answer-token logits of one presentation order.
     *
     * @param a logit of the "A" token
     * @param b logit of the "B" token
     */
    public record OrderLogits(float a, float b) {
    }

    /**
     * A judged comparison.
     *
     * @param pABetter p = (p_AB + p_BA) / 2
     * @param pAB      A shown first: softmax(ℓ_A, ℓ_B)[A]
     * @param pBA      B shown first, mapped back: 1 − softmax(ℓ'_A, ℓ'_B)[A]
     * @param ab       logits with A shown first
     * @param ba       logits with B shown first (its "A" token then names response B)
     */
    public record Verdict(double pABetter, double pAB, double pBA, OrderLogits ab, OrderLogits ba) {

        /** The verdict of the two orders' logits. */
        public static Verdict of(OrderLogits ab, OrderLogits ba) {
            double stored = pFirst(ab.a(), ab.b());
            double swapped = pFirst(ba.a(), ba.b());
            return new Verdict((stored + (1 - swapped)) / 2, stored, 1 - swapped, ab, ba);
        }
    }

    private final PairwiseTemplate template;

    /** A judge that prompts with {@code template}. */
    public PairwiseJudge(PairwiseTemplate template) {
        this.template = template;
    }

    /** The template. */
    public PairwiseTemplate template() {
        return template;
    }

    /**
     * System property: {@code true} reads the two orders of each item with their shared prefix (the instructions
     * and the context before response A) run once, {@link SequenceScorer#nextTokenLogitsOfPairs}. Off by default:
     * the logits then differ from the one-pass read by float rounding, and at the world's short prompts the second
     * pass costs more than it saves ({@code ./steer bench generate} prints both on the model it is given: on the
     * world's {@code large} model, 1.07x the one pass's time at a 4-token prefix, 0.77x at 32, 0.53x at 64, with
     * two 16-token responses each way; judge-svc's README has the service's figures). Like the other
     * {@code steer.generation.*} properties, {@code ./steer} passes it on to the services it starts.
     */
    public static final String SHARED_PREFIX_PROPERTY = "steer.generation.judge-shared-prefix";

    /**
     * Judges each item in both orders in one forward pass of 2 × items prompts (or, with
     * {@value #SHARED_PREFIX_PROPERTY}, the shared prefix of each item's two orders once and then their rests).
     *
     * @param model the judge
     * @param items comparisons
     * @return one verdict per item, in order
     * @throws JudgeTemplateException if an answer word is not a single token of the model after the prompt
     *                                ({@link AnswerTokens#pairwise})
     */
    public List<Verdict> compare(LanguageModel model, List<Item> items) {
        int[] answers = AnswerTokens.pairwise(model.tokenizer(), template);
        int idA = answers[0];
        int idB = answers[1];
        List<int[]> prompts = new ArrayList<>(2 * items.size());
        for (Item item : items) {
            prompts.add(encode(model, item.prompt(), item.responseA(), item.responseB()));
            prompts.add(encode(model, item.prompt(), item.responseB(), item.responseA()));
        }
        float[][] logits = Boolean.getBoolean(SHARED_PREFIX_PROPERTY)
                ? SequenceScorer.nextTokenLogitsOfPairs(model.decoder(), prompts)
                : SequenceScorer.nextTokenLogits(model.decoder(), prompts);
        List<Verdict> out = new ArrayList<>(items.size());
        for (int i = 0; i < items.size(); i++) {
            out.add(Verdict.of(new OrderLogits(logits[2 * i][idA], logits[2 * i][idB]),
                    new OrderLogits(logits[2 * i + 1][idA], logits[2 * i + 1][idB])));
        }
        return out;
    }

    /**
     * The token lengths of an item's two prompts, to check them against the model's context before judging.
     *
     * @return the longer of the two orders' prompts, in tokens
     */
    public int promptTokens(LanguageModel model, Item item) {
        return Math.max(encode(model, item.prompt(), item.responseA(), item.responseB()).length,
                encode(model, item.prompt(), item.responseB(), item.responseA()).length);
    }

    /**
     * The token ids of the prompt showing {@code first} as A, through the model's chat template where it has
     * one ({@link JudgePrompt}).
     */
    public int[] encode(LanguageModel model, String query, String first, String second) {
        return template.prompt().build(query, first, second).encode(model.tokenizer());
    }

    /** softmax([a, b])[0] = 1 / (1 + e^(b − a)), stable for any logits. */
    public static double pFirst(float a, float b) {
        return 1 / (1 + Math.exp((double) b - a));
    }
}
