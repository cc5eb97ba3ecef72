package steer.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import steer.tokenizer.Tokenizer;

/** Every text the world generates encodes with the world's tokenizer.json, one token per word, no {@code <unk>}. */
class TokenizationTest {

    private static final int UNK = 0;
    private static final int BOS = 1;

    @TempDir
    Path dir;

    @Test
    void everyGeneratedStringTokenizesWithoutUnknownWords() {
        WorldSplits splits = WorldSplits.of(21, new SplitSizes(3000, 3, 300, 300), TaskGenerator.defaults());
        List<Task> tasks = new ArrayList<>(splits.sft());
        splits.iterations().forEach(tasks::addAll);
        tasks.addAll(splits.heldOut());

        List<String> texts = new ArrayList<>();
        SplittableRandom random = new SplittableRandom(22);
        for (Task t : tasks) {
            texts.add(t.query());
            texts.add(Oracle.best(t));
            texts.add(ResponseMix.defaults().sample(t, random));
            List<Feature> features = FeatureAllocation.draw(t, random, 0.2);
            texts.add(Feature.positivePrompt(t, features));
            texts.add(Feature.negativePrompt(t, features));
            texts.add(Responses.violating(t, features, random));
            texts.add(FeatureAllocation.instruction(t));
            texts.add(FeatureAllocation.answer(t));
            texts.add(JudgeInstructions.rubric(t.query(), Oracle.best(t)));
            texts.add(JudgeInstructions.pairwise(t.query(), Oracle.best(t), ""));
        }
        for (JudgeSeedExample e : JudgeSeedSet.generate(splits.sft(), 1000, 23)) {
            texts.add(e.pairwisePrompt() + " " + e.label());
            texts.add(e.swappedPrompt() + " " + e.swappedLabel());
            texts.add(JudgeInstructions.rubric(e.task().query(), e.responseA()) + " " + e.rubricLabelA());
        }
        int longestDemo = 0;
        for (Demo d : SftDemonstrations.generate(splits.sft(), 5000, 24)) {
            texts.add(d.prompt());
            texts.add(d.response());
            longestDemo = Math.max(longestDemo, Texts.words(d.prompt() + " " + d.response()).size());
        }
        for (int s = 2; s <= 10; s++) {
            texts.add(Integer.toString(s));
        }

        WorldVocabulary.writeTokenizer(dir);
        try (Tokenizer tokenizer = Tokenizer.load(dir)) {
            assertEquals(WorldVocabulary.words().size() + 3, tokenizer.vocabSize());
            for (String text : texts) {
                int[] ids = tokenizer.encode(text);
                assertEquals(BOS, ids[0]);
                assertEquals(Texts.words(text).size() + 1, ids.length, "one token per word: '" + text + "'");
                for (int id : ids) {
                    assertTrue(id != UNK, "unknown word in '" + text + "'");
                }
                assertTrue(WorldVocabulary.isKnown(text), text);
            }
            assertEquals("A", tokenizer.decode(tokenizer.encodeWithoutSpecialTokens("A")));
            assertTrue(tokenizer.encodeWithoutSpecialTokens("A")[0] != tokenizer.encodeWithoutSpecialTokens("a")[0]);
        }
        System.out.printf("%d texts tokenized; vocabulary %d words + 3 special; longest demonstration %d words%n",
                texts.size(), WorldVocabulary.words().size(), longestDemo);
        assertTrue(longestDemo + 2 <= 64, "a demonstration (with BOS and EOS) fits 64 positions: " + longestDemo);
    }

    @Test
    void vocabularyHasNoRepeatsAndIsKnownOnlyForItsWords() {
        assertEquals(WorldVocabulary.words().size(), WorldVocabulary.words().stream().distinct().count());
        assertTrue(WorldVocabulary.isKnown("secret k3 . add 3 4"));
        assertTrue(!WorldVocabulary.isKnown("add three 4"));
        assertTrue(WorldVocabulary.isKnown(""));
    }
}
