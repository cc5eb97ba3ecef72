package steer.judge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.model.LanguageModel;
import steer.model.SequenceScorer;
import steer.world.JudgeInstructions;
import steer.world.TinyWorldModel;

class PairwiseJudgeTest {

    @TempDir
    Path dir;

    @Test
    void verdictsWorkedByHand() {
        // logits (2, 0) with A first: p_AB = 1/(1+e^-2) = 0.880797077977882; with B first the judge again picks
        // response A, now called B: logits (0, 2), p(first) = 1/(1+e^2) = 0.119202922022118, p_BA = 0.880797077977882
        PairwiseJudge.Verdict consistent = PairwiseJudge.Verdict.of(new PairwiseJudge.OrderLogits(2, 0),
                new PairwiseJudge.OrderLogits(0, 2));
        assertEquals(0.880797077977882, consistent.pAB(), 1e-12);
        assertEquals(0.880797077977882, consistent.pBA(), 1e-12);
        assertEquals(0.880797077977882, consistent.pABetter(), 1e-12);
        // a judge that always says "A" by 1 nat: p_AB = 0.731058578630005, p_BA = 1 - 0.731058578630005; mean 0.5
        PairwiseJudge.Verdict biased = PairwiseJudge.Verdict.of(new PairwiseJudge.OrderLogits(1, 0),
                new PairwiseJudge.OrderLogits(1, 0));
        assertEquals(0.731058578630005, biased.pAB(), 1e-12);
        assertEquals(0.268941421369995, biased.pBA(), 1e-12);
        assertEquals(0.5, biased.pABetter(), 1e-15);
        assertEquals(0.0, PairwiseJudge.pFirst(-1e4f, 1e4f), 1e-12);
        assertEquals(1.0, PairwiseJudge.pFirst(1e4f, -1e4f), 1e-12);
    }

    @Test
    void aModelsVerdictIsTheSoftmaxOfItsAnswerLogitsAndSwappingTheResponsesMirrorsIt() {
        try (LanguageModel model = LanguageModel.load(TinyWorldModel.write(dir.resolve("m"), 3))) {
            PairwiseJudge judge = new PairwiseJudge(JudgeTemplates.world().pairwise("template_id", ""));
            String q = "add 3 4";
            List<PairwiseJudge.Verdict> v = judge.compare(model, List.of(
                    new PairwiseJudge.Item(q, "answer : 7 .", "answer : 8 ."),
                    new PairwiseJudge.Item(q, "answer : 8 .", "answer : 7 ."),
                    new PairwiseJudge.Item(q, "answer : 7 .", "")));

            int a = model.tokenizer().encodeWithoutSpecialTokens("A")[0];
            int b = model.tokenizer().encodeWithoutSpecialTokens("B")[0];
            float[][] alone = SequenceScorer.nextTokenLogits(model.decoder(), List.of(
                    model.tokenizer().encode(JudgeInstructions.pairwise(q, "answer : 7 .", "answer : 8 .")),
                    model.tokenizer().encode(JudgeInstructions.pairwise(q, "answer : 8 .", "answer : 7 ."))));
            assertEquals(alone[0][a], v.get(0).ab().a(), 1e-5);
            assertEquals(alone[0][b], v.get(0).ab().b(), 1e-5);
            assertEquals(alone[1][a], v.get(0).ba().a(), 1e-5);
            double pAB = 1 / (1 + Math.exp((double) alone[0][b] - alone[0][a]));
            double pBA = 1 - 1 / (1 + Math.exp((double) alone[1][b] - alone[1][a]));
            assertEquals(pAB, v.get(0).pAB(), 1e-5);
            assertEquals((pAB + pBA) / 2, v.get(0).pABetter(), 1e-5);

            assertEquals(1.0, v.get(0).pABetter() + v.get(1).pABetter(), 1e-5, "swapping A and B mirrors p");
            assertEquals(v.get(0).pAB(), 1 - v.get(1).pBA(), 1e-5);

            // the comparison with the empty response is the pairwise prompt with an empty side
            float[][] empty = SequenceScorer.nextTokenLogits(model.decoder(), List.of(
                    model.tokenizer().encode("judge query : add 3 4 response A : answer : 7 . response B : better :")));
            assertEquals(empty[0][a], v.get(2).ab().a(), 1e-5);
            assertTrue(v.get(2).pABetter() > 0 && v.get(2).pABetter() < 1);
        }
    }

    @Test
    void withTheSharedPrefixTheVerdictsAreThoseOfTheOnePassRead() {
        try (LanguageModel model = LanguageModel.load(TinyWorldModel.write(dir.resolve("m"), 5))) {
            PairwiseJudge judge = new PairwiseJudge(JudgeTemplates.world().pairwise("template_id", ""));
            List<PairwiseJudge.Item> items = List.of(
                    new PairwiseJudge.Item("add 3 4", "answer : 7 .", "answer : 8 ."),
                    new PairwiseJudge.Item("count the letters of banana", "answer : 6 .", "answer : 6 ."),
                    new PairwiseJudge.Item("add 3 4", "answer : 7 .", ""));
            List<PairwiseJudge.Verdict> onePass = judge.compare(model, items);
            String before = System.getProperty(PairwiseJudge.SHARED_PREFIX_PROPERTY);
            System.setProperty(PairwiseJudge.SHARED_PREFIX_PROPERTY, "true");
            List<PairwiseJudge.Verdict> shared;
            try {
                shared = judge.compare(model, items);
            } finally {
                if (before == null) {
                    System.clearProperty(PairwiseJudge.SHARED_PREFIX_PROPERTY);
                } else {
                    System.setProperty(PairwiseJudge.SHARED_PREFIX_PROPERTY, before);
                }
            }
            for (int i = 0; i < items.size(); i++) {
                assertEquals(onePass.get(i).ab().a(), shared.get(i).ab().a(), 1e-4, "item " + i);
                assertEquals(onePass.get(i).ba().b(), shared.get(i).ba().b(), 1e-4, "item " + i);
                assertEquals(onePass.get(i).pABetter(), shared.get(i).pABetter(), 1e-5, "item " + i);
            }
        }
    }

    @Test
    void templatesAreLookedUpById() {
        JudgeTemplates t = JudgeTemplates.world();
        assertEquals(List.of("pairwise", "rubric"), t.ids());
        assertEquals("pairwise", t.pairwise("template_id", "").id());
        assertEquals("rubric", t.rubric("template_id", "rubric").id());
        UnknownTemplateException e = assertThrows(UnknownTemplateException.class, () -> t.pairwise("items[2].template_id", "rubric"));
        assertEquals("items[2].template_id: no pairwise template 'rubric' (known: pairwise)", e.getMessage());
        assertArrayEquals(new String[] {"judge query : q response A : a response B : better :"},
                new String[] {t.pairwise("f", "pairwise").prompt().build("q", "a", "").user()});
    }
}
