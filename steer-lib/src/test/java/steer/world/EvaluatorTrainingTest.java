package steer.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvaluatorTrainingTest {

    static WorldSplits splits;
    static List<JudgeSeedExample> seedSet;

    @BeforeAll
    static void world() {
        splits = WorldSplits.of(0);
        seedSet = JudgeAugmentation.seedSet(splits, 0);
    }

    @Test
    void everyDrawnPairGivesTwoRubricInstructionsAnsweredWithTheAnnotatedScores() {
        List<JudgeSeedExample> pairs = JudgeAugmentation.draw(seedSet, 0.1, 3);
        assertEquals(2000, pairs.size());
        List<EvaluatorTraining.Instruction> in = EvaluatorTraining.instructions(pairs);
        assertEquals(2 * pairs.size(), in.size());
        int flipped = 0;
        int flippedAndWrong = 0;
        for (int i = 0; i < pairs.size(); i++) {
            JudgeSeedExample p = pairs.get(i);
            EvaluatorTraining.Instruction a = in.get(2 * i);
            EvaluatorTraining.Instruction b = in.get(2 * i + 1);
            assertEquals(JudgeInstructions.rubric(p.task().query(), p.responseA()), a.prompt());
            assertTrue(a.prompt().startsWith("rate query : " + p.task().query()) && a.prompt().endsWith(" score :"),
                    a.prompt());
            assertEquals(JudgeInstructions.rubric(p.task().query(), p.responseB()), b.prompt());
            assertEquals(Integer.toString(p.rubricLabelA()), a.answer());
            assertEquals(Integer.toString(p.rubricLabelB()), b.answer());
            assertEquals(i, a.pair());
            assertEquals(i, b.pair());
            assertFalse(a.responseB());
            assertTrue(b.responseB());
            String oracleA = JudgeInstructions.rubricAnswer(p.task(), p.responseA());
            String oracleB = JudgeInstructions.rubricAnswer(p.task(), p.responseB());
            if (p.flipped()) {
                flipped++;
                // the annotator mixed the two responses up: each gets the other's oracle score
                assertEquals(oracleB, a.answer());
                assertEquals(oracleA, b.answer());
                flippedAndWrong += oracleA.equals(oracleB) ? 0 : 1;
            } else {
                assertEquals(oracleA, a.answer());
                assertEquals(oracleB, b.answer());
            }
        }
        assertTrue(flipped > 200 && flipped < 400, "about 15% noisy pairs, got " + flipped);
        assertTrue(flippedAndWrong > 0, "the noise reaches the rubric labels");
    }

    @Test
    void settingsOutOfRangeAreRefusedNamingTheOption() {
        assertEquals(0.2, EvaluatorTraining.Settings.defaults(4).seedFraction());
        assertEquals(4, EvaluatorTraining.Settings.defaults(4).seed());
        for (double f : new double[] {0, -0.5, 1.01, Double.NaN}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new EvaluatorTraining.Settings(f, 0, 0, 2, 16, 1e-4));
            assertTrue(e.getMessage().startsWith("--seed-fraction must be in (0, 1]"), e.getMessage());
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new EvaluatorTraining.Settings(0.1, 0, 0, 0, 16, 1e-4))
                .getMessage().startsWith("--epochs"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new EvaluatorTraining.Settings(0.1, 0, 0, 1, 0, 1e-4))
                .getMessage().startsWith("--batch-size"));
        for (double lr : new double[] {0, -1e-4, Double.POSITIVE_INFINITY, Double.NaN}) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> new EvaluatorTraining.Settings(0.1, 0, 0, 1, 16, lr))
                    .getMessage().startsWith("--lr"));
        }
    }

    @Test
    void spearmanOfKnownRankings() {
        // identical order, reversed order, and a hand-computed case: ranks x (1 2 3 4 5), y (2 1 4 3 5),
        // d² = 1+1+1+1+0 = 4, ρ = 1 − 6·4 / (5·24) = 0.8
        assertEquals(1, EvaluatorTraining.spearman(new double[] {1, 2, 3, 4}, new double[] {10, 20, 30, 40}), 1e-12);
        assertEquals(-1, EvaluatorTraining.spearman(new double[] {1, 2, 3, 4}, new double[] {9, 7, 3, 2}), 1e-12);
        assertEquals(0.8, EvaluatorTraining.spearman(new double[] {0.1, 0.2, 0.3, 0.4, 0.5},
                new double[] {6, 5, 8, 7, 10}), 1e-12);
        // ties take their mean rank: y ranks (1.5 1.5 3), x ranks (1 2 3): Pearson of the ranks is √3/2
        assertEquals(Math.sqrt(3) / 2, EvaluatorTraining.spearman(new double[] {1, 2, 3}, new double[] {4, 4, 9}), 1e-12);
        assertTrue(Double.isNaN(EvaluatorTraining.spearman(new double[] {5, 5, 5}, new double[] {1, 2, 3})));
        assertThrows(IllegalArgumentException.class, () -> EvaluatorTraining.spearman(new double[] {1}, new double[] {1}));
        assertThrows(IllegalArgumentException.class, () -> EvaluatorTraining.spearman(new double[] {1, 2}, new double[] {1, 2, 3}));
    }

    @Test
    void pairwiseAccuracyCountsPredictedTiesHalf() {
        double[] predicted = {7.5, 3.0, 6.0, 6.0, 2.0, 9.0};
        double[] reference = {0.9, 0.2, 0.4, 0.8, 0.3, 0.1};
        // (0,1) right, (2,3) a predicted tie: half, (4,5) wrong, (1,0) right from the other side
        List<int[]> pairs = List.of(new int[] {0, 1}, new int[] {2, 3}, new int[] {4, 5}, new int[] {1, 0});
        assertEquals((1 + 0.5 + 0 + 1) / 4, EvaluatorTraining.pairwiseAccuracy(predicted, reference, pairs), 1e-12);
        assertTrue(Double.isNaN(EvaluatorTraining.pairwiseAccuracy(predicted, reference, List.of())));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EvaluatorTraining
                .pairwiseAccuracy(predicted, new double[] {1, 1, 0, 0, 0, 0}, List.of(new int[] {0, 1})));
        assertTrue(e.getMessage().contains("equal reference"), e.getMessage());
    }

    @Test
    void validationPairsAreSeedPairsTheDrawDidNotTake() {
        List<JudgeSeedExample> drawn = JudgeAugmentation.draw(seedSet, 0.1, 5);
        List<JudgeSeedExample> shuffle = JudgeAugmentation.draw(seedSet, 1.0, 5);
        assertEquals(drawn, shuffle.subList(0, drawn.size()), "the draw is the whole shuffle's prefix");
        EvaluatorTraining.EvaluationSet v = EvaluatorTraining.validationSet(shuffle.subList(shuffle.size() - 3, shuffle.size()));
        assertEquals(6, v.items().size());
        assertEquals(3, v.pairs().size());
        for (int i = 0; i < 3; i++) {
            JudgeSeedExample p = shuffle.get(shuffle.size() - 3 + i);
            assertEquals(p.rubricLabelA(), v.rubric()[2 * i]);
            assertEquals(p.rubricLabelB(), v.rubric()[2 * i + 1]);
            assertEquals(p.label().equals("A"), v.order()[2 * i] > v.order()[2 * i + 1], "the annotated label orders");
        }
    }

    @Test
    void heldOutPairsComeFromHeldOutQueriesWithDifferentOracleScalars() {
        EvaluatorTraining.EvaluationSet mix = EvaluatorTraining.heldOutMixSet(splits.heldOut(), 0);
        assertEquals(2 * EvaluatorTraining.EVALUATION_PAIRS, mix.items().size());
        assertEquals(EvaluatorTraining.EVALUATION_PAIRS, mix.pairs().size());
        List<String> heldOut = splits.heldOut().stream().map(Task::query).toList();
        for (int i = 0; i < mix.items().size(); i++) {
            assertTrue(heldOut.contains(mix.items().get(i).prompt()));
        }
        for (int[] p : mix.pairs()) {
            assertTrue(mix.order()[p[0]] != mix.order()[p[1]]);
        }
    }

    @Test
    void badModelAndOutputDirectoriesAreNamed(@TempDir Path dir) throws Exception {
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> EvaluatorTraining.checkModel(dir.resolve("nope")));
        assertTrue(missing.getMessage().contains("no such directory"), missing.getMessage());
        Path half = Files.createDirectories(dir.resolve("half"));
        Files.writeString(half.resolve("config.json"), "{}");
        IllegalArgumentException notCheckpoint = assertThrows(IllegalArgumentException.class,
                () -> EvaluatorTraining.checkModel(half));
        assertTrue(notCheckpoint.getMessage().contains("missing model.safetensors, tokenizer.json"), notCheckpoint.getMessage());
        Files.writeString(half.resolve("model.safetensors"), "not safetensors");
        Files.writeString(half.resolve("tokenizer.json"), "{}");
        IllegalArgumentException malformed = assertThrows(IllegalArgumentException.class,
                () -> EvaluatorTraining.checkModel(half));
        assertTrue(malformed.getMessage().startsWith("--model " + half + ": cannot load the checkpoint"), malformed.getMessage());

        EvaluatorTraining.checkOutEmpty(dir.resolve("new"));
        EvaluatorTraining.checkOutEmpty(Files.createDirectories(dir.resolve("empty")));
        IllegalArgumentException full = assertThrows(IllegalArgumentException.class,
                () -> EvaluatorTraining.checkOutEmpty(half));
        assertTrue(full.getMessage().contains("is not empty"), full.getMessage());
    }
}
