package steer.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.model.LanguageModel;
import steer.model.SamplingParams;

class WorldEvaluationTest {

    @TempDir
    static Path dir;

    static Path model;

    static List<Task> heldOut;

    /** An untrained small world model: evaluation must work, and be reproducible, whatever the model says. */
    @BeforeAll
    static void setUp() {
        model = TinyWorldModel.write(dir.resolve("model"), 1);
        heldOut = WorldSplits.of(0).heldOut().subList(0, 24);
    }

    private static WorldEvaluation.Settings settings(long seed) {
        return new WorldEvaluation.Settings(new SamplingParams(12, 0.7, 0.8, 0, seed), 40, seed);
    }

    @Test
    void sameSeedSameReportOtherSeedOtherSamples() {
        try (LanguageModel m = LanguageModel.load(model)) {
            WorldEvaluation.Report a = WorldEvaluation.evaluate(m, null, heldOut, settings(3));
            WorldEvaluation.Report b = WorldEvaluation.evaluate(m, null, heldOut, settings(3));
            WorldEvaluation.Report c = WorldEvaluation.evaluate(m, null, heldOut, settings(4));
            assertEquals(a, b);
            assertNotEquals(a.meanLength(), c.meanLength(), "another seed draws other samples");
            assertNull(a.winRate());
            assertEquals(24, a.n());
            for (double v : new double[] {a.meanScore(), a.signalAccuracy(), a.onPolicy(), a.judgeAccuracy(),
                a.positionConsistency()}) {
                assertTrue(v >= 0 && v <= 1, "a rate in [0, 1]: " + a);
            }
        }
    }

    @Test
    void aModelAgainstItselfWinsHalfTheTime() {
        try (LanguageModel m = LanguageModel.load(model); LanguageModel same = LanguageModel.load(model)) {
            WorldEvaluation.Report r = WorldEvaluation.evaluate(m, same, heldOut, settings(5));
            assertEquals(0.5, r.winRate(), 1e-12, "same model, same seed: every query ties");
        }
    }

    @Test
    void judgeProbabilityIsTheSoftmaxOverTheTwoAnswerTokens() {
        assertEquals(0.5, steer.judge.PairwiseJudge.pFirst(2f, 2f), 1e-12);
        assertEquals(1 / (1 + Math.exp(-1.0)), steer.judge.PairwiseJudge.pFirst(3f, 2f), 1e-12);
        assertEquals(0.0, steer.judge.PairwiseJudge.pFirst(-1e4f, 1e4f), 1e-12);
    }
}
