package steer.objective;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import steer.checkpoint.DecoderConfig;
import steer.model.Decoder;
import steer.model.GradientCheck;
import steer.model.GradientCheck.Entry;
import steer.model.SequenceScorer;

/**
 * Finite-difference checks of every objective through a tiny float64 decoder: the loss of a few (prompt,
 * response) examples scored by {@link SequenceScorer}, differentiated with respect to single weights of the
 * embedding, attention, MLP, norms, q/k/v biases (Qwen2) and untied head (tolerance in {@link GradientCheck}).
 * The reference model is a second decoder of the same shape with other weights; it has no gradients.
 */
class GradientThroughModelTest {

    // B = 2 examples of different lengths, so right padding and the response mask are exercised
    private static final List<int[]> PROMPTS = List.of(new int[] {1, 5, 7}, new int[] {1, 9});
    private static final List<int[]> CHOSEN = List.of(new int[] {3, 4, 2}, new int[] {6, 11, 12, 2});
    private static final List<int[]> REJECTED = List.of(new int[] {8, 2}, new int[] {13, 14, 15});
    /** y°, the response SSO steers away from under the bad principle. */
    private static final List<int[]> STEERED_AWAY = List.of(new int[] {16, 3, 2}, new int[] {10, 2});
    /** Principle tokens put before the prompt: x+ under the good principle, x- under the bad. */
    private static final int GOOD = 17;
    private static final int BAD = 18;

    private static Decoder llama;
    private static Decoder llamaReference;
    private static Decoder qwen2;
    private static Decoder qwen2Reference;

    @BeforeAll
    static void buildDecoders() {
        llama = GradientCheck.decoder(llamaConfig(), 1);
        llamaReference = GradientCheck.decoder(llamaConfig(), 2);
        qwen2 = GradientCheck.decoder(qwen2Config(), 3);
        qwen2Reference = GradientCheck.decoder(qwen2Config(), 4);
    }

    @AfterAll
    static void closeDecoders() {
        for (Decoder d : new Decoder[] {llama, llamaReference, qwen2, qwen2Reference}) {
            d.close();
        }
    }

    /** Llama-style: tied head, grouped-query attention (2 query heads share 1 key/value head), Dh = 8. */
    private static DecoderConfig llamaConfig() {
        return new DecoderConfig("llama", 20, 16, 24, 2, 2, 1, 1e-5, 10000, 32, true, false, 1, 2);
    }

    /** Qwen2-style: q/k/v biases, untied head, one key/value head per query head, Dh = 8. */
    private static DecoderConfig qwen2Config() {
        return new DecoderConfig("qwen2", 20, 16, 24, 2, 2, 2, 1e-6, 1_000_000, 32, false, true, 1, 2);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2"})
    void sft(String kind) {
        check(kind, (policy, reference, m) ->
                Sft.defaults().loss(SftLogps.of(SequenceScorer.score(policy, m, PROMPTS, CHOSEN))).loss());
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2"})
    void dpo(String kind) {
        checkPairs(kind, Dpo.defaults());
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2"})
    void ipo(String kind) {
        checkPairs(kind, Ipo.defaults());
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2"})
    void cdpo(String kind) {
        checkPairs(kind, Cdpo.defaults());
    }

    /**
     * TSO's margins γ_w = 20, γ_l = 10 on summed log-ratios keep both hinges active for short responses (the
     * loss is then linear in the log-ratios); the per-token variant with γ = 0.5 is active too, checked here.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2"})
    void dualClip(String kind) {
        for (DualClip objective : List.of(DualClip.defaults(), new DualClip(0.1, 0.5, 0.5, true))) {
            check(kind, (policy, reference, m) -> {
                PreferenceLogps in = pairs(policy, reference, m, PROMPTS, CHOSEN, REJECTED);
                LogRatios r = in.logRatios(objective.perToken());
                assertAllPositive(r.chosen().mul(-objective.beta()).add(objective.gammaWin()), "chosen hinge");
                assertAllPositive(r.rejected().mul(objective.beta()).add(objective.gammaLose()), "rejected hinge");
                return objective.loss(in).loss();
            });
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2"})
    void spce(String kind) {
        check(kind, (policy, reference, m) -> Spce.defaults().loss(PreferenceLogps.of(
                SequenceScorer.score(policy, m, PROMPTS, CHOSEN), SequenceScorer.score(policy, m, PROMPTS, REJECTED),
                SequenceScorer.score(reference, m, PROMPTS, CHOSEN),
                SequenceScorer.score(reference, m, PROMPTS, REJECTED), m.create(new double[] {0.8, 0.6}))).loss());
    }

    /** SSO by default, its ablations (W ≡ 1; θ = 0 without the steering pairs) and v2's λ in the authors' form. */
    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2"})
    void sso(String kind) {
        Sso d = Sso.defaults();
        List<Sso> variants = List.of(d,
                new Sso(d.base(), d.alpha(), d.theta(), d.gamma(), d.lambda(), false, d.form()),
                new Sso(d.base(), d.alpha(), 0, d.gamma(), d.lambda(), true, d.form()),
                new Sso(d.base(), d.alpha(), d.theta(), d.gamma(), 0.1, true, Sso.Form.AUTHORS_CODE));
        for (Sso objective : variants) {
            check(kind, (policy, reference, m) -> {
                PreferenceLogps plain = pairs(policy, reference, m, PROMPTS, CHOSEN, REJECTED);
                if (objective.theta() == 0) {
                    return objective.loss(new SsoLogps(plain, null, null)).loss();
                }
                PreferenceLogps positive = pairs(policy, reference, m, withPrinciple(GOOD), CHOSEN, REJECTED);
                PreferenceLogps negative = pairs(policy, reference, m, withPrinciple(BAD), STEERED_AWAY, CHOSEN);
                return objective.loss(new SsoLogps(plain, positive, negative)).loss();
            });
        }
    }

    /** A loss of the policy, with a reference decoder, computed on step manager {@code m}. */
    private interface Loss {
        NDArray of(Decoder policy, Decoder reference, NDManager m);
    }

    private static void checkPairs(String kind, PairObjective objective) {
        check(kind, (policy, reference, m) -> objective.loss(pairs(policy, reference, m, PROMPTS, CHOSEN, REJECTED))
                .loss());
    }

    /** Checks the loss's gradient at weight entries from every kind of parameter of the {@code kind} decoder. */
    private static void check(String kind, Loss loss) {
        Decoder policy = kind.equals("llama") ? llama : qwen2;
        Decoder reference = kind.equals("llama") ? llamaReference : qwen2Reference;
        Function<NDManager, NDArray> f = m -> loss.of(policy, reference, m);
        GradientCheck.check(policy, entries(policy.config()), f);
    }

    /** Entries in the fused layout of {@link Decoder#parameters()}: wqkv [C, q | k | v], w_gate_up [C, gate | up]. */
    private static List<Entry> entries(DecoderConfig c) {
        int q = c.numHeads() * c.headDim(), kv = c.kvDim(), I = c.intermediateSize();
        List<Entry> e = new ArrayList<>(List.of(
                new Entry("embed", 5, 3),                           // token 5, in a prompt
                new Entry("embed", 12, 0),                          // token 12, in a chosen response
                new Entry("layers.0.attn_norm", 4),
                new Entry("layers.0.wqkv", 2, 1),                   // q
                new Entry("layers.1.wqkv", 7, q + 3),               // k
                new Entry("layers.0.wqkv", 11, q + kv + kv - 1),    // v
                new Entry("layers.1.wo", 9, 6),
                new Entry("layers.0.mlp_norm", 13),
                new Entry("layers.0.w_gate_up", 6, 2),              // gate
                new Entry("layers.1.w_gate_up", 1, I + 5),          // up
                new Entry("layers.1.w_down", 10, 14),
                new Entry("final_norm", 8)));
        if (c.attentionBias()) {
            e.add(new Entry("layers.0.bqkv", 3));                   // q bias
            e.add(new Entry("layers.1.bqkv", q + 1));               // k bias
            e.add(new Entry("layers.1.bqkv", q + kv + 2));          // v bias
        }
        if (!c.tieWordEmbeddings()) {
            e.add(new Entry("lm_head", 4, 11));
        }
        return e;
    }

    /** Scores chosen and rejected responses under the policy and the reference, B pairs. */
    private static PreferenceLogps pairs(Decoder policy, Decoder reference, NDManager m, List<int[]> prompts,
                                         List<int[]> chosen, List<int[]> rejected) {
        return PreferenceLogps.of(SequenceScorer.score(policy, m, prompts, chosen),
                SequenceScorer.score(policy, m, prompts, rejected), SequenceScorer.score(reference, m, prompts, chosen),
                SequenceScorer.score(reference, m, prompts, rejected), null);
    }

    /** The prompts with a principle token after BOS. */
    private static List<int[]> withPrinciple(int principle) {
        List<int[]> out = new ArrayList<>();
        for (int[] p : PROMPTS) {
            int[] x = new int[p.length + 1];
            x[0] = p[0];
            x[1] = principle;
            System.arraycopy(p, 1, x, 2, p.length - 1);
            out.add(x);
        }
        return out;
    }

    private static void assertAllPositive(NDArray a, String what) {
        for (double v : a.toDoubleArray()) {
            assertTrue(v > 0.05, what + " is not clearly active: " + v);
        }
    }
}
