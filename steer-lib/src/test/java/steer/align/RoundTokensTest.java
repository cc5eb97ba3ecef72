package steer.align;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;

class RoundTokensTest {

    private static final ResponseTokens PLUS = new ResponseTokens(new int[] {5, 6, 2}, "eos");
    private static final ResponseTokens MINUS = new ResponseTokens(new int[] {7, 8, 9}, "length");
    private static final ResponseTokens ORIG = new ResponseTokens(new int[] {10, 2}, "eos");

    @Test
    void anSsoTripleGetsTheIdsOfEachResponseFromThePromptItWasSampledUnder() {
        RoundTokens sampled = new RoundTokens();
        sampled.record(RoundTokens.POLICY, "x+", "a 7", PLUS);
        sampled.record(RoundTokens.POLICY, "x-", "a 8 8", MINUS);
        sampled.record(RoundTokens.POLICY, "x", "a 9", ORIG);
        SsoTriple t = new SsoTriple("x", "x+", "x-", "a 7", "a 8 8", "a 9", "accuracy");
        assertEquals(List.of(t.withTokens(PLUS, MINUS, ORIG)), sampled.attach(List.of(t)));
        assertEquals(3, sampled.attached());
    }

    @Test
    void aTextSampledTwiceWithDifferentIdsGetsNoneButTheSameIdsTwiceAreKept() {
        RoundTokens sampled = new RoundTokens();
        // "a 7" under x+ segmented two ways; under x once, the same ids twice
        sampled.record(RoundTokens.POLICY, "x+", "a 7", PLUS);
        sampled.record(RoundTokens.POLICY, "x+", "a 7", new ResponseTokens(new int[] {5, 3, 4, 2}, "eos"));
        sampled.record(RoundTokens.POLICY, "x", "a 9", ORIG);
        sampled.record(RoundTokens.POLICY, "x", "a 9", ORIG);
        SsoTriple t = new SsoTriple("x", "x+", "x-", "a 7", "unsampled", "a 9", "accuracy");
        SsoTriple attached = (SsoTriple) sampled.attach(List.of(t)).get(0);
        assertNull(attached.yPlusTokens(), "ambiguous");
        assertNull(attached.yMinusTokens(), "never sampled");
        assertEquals(ORIG, attached.yOrigTokens());
        assertEquals(2, sampled.textOnly());
    }

    @Test
    void aPairSideGetsIdsOnlyFromThePolicyOrAnEarlierVersionOfIt() {
        RoundTokens sampled = new RoundTokens();
        sampled.record(RoundTokens.POLICY, "q", "good", PLUS);
        sampled.record(RoundTokens.earlierVersion(0), "q", "old", MINUS);
        sampled.record(RoundTokens.POLICY, "q", "written", ORIG);
        List<RoundExample> pairs = List.of(new JudgedPair("q", "good", "old", null, "self", "policy@v0"),
                new JudgedPair("q", "written", "old", null, "reference", "small"),
                new JudgedPair("q", "good", "old", 0.8));
        List<RoundExample> attached = sampled.attach(pairs);
        assertEquals(((JudgedPair) pairs.get(0)).withTokens(PLUS, MINUS), attached.get(0));
        // the reference answer has the text of a policy sample, but it is not one; another model's sample is text
        assertEquals(pairs.get(1), attached.get(1));
        // the round's own samples: "old" was sampled by version 0, not by the round's policy
        assertEquals(((JudgedPair) pairs.get(2)).withTokens(PLUS, null), attached.get(2));
    }
}
