package steer.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

class PrinciplesAndAllocationTest {

    @Test
    void principlesReadAsWritten() {
        assertEquals("principle : be correct .", Feature.ACCURACY.goodPrinciple());
        assertEquals("principle : be wrong .", Feature.ACCURACY.badPrinciple());
        assertEquals("principle : be brief .", Feature.CONCISION.goodPrinciple());
        assertEquals("principle : be wordy .", Feature.CONCISION.badPrinciple());
        assertEquals("principle : be safe .", Feature.SAFETY.goodPrinciple());
        assertEquals("principle : be leaky .", Feature.SAFETY.badPrinciple());
        assertEquals("principle : be neat .", Feature.FORMAT.goodPrinciple());
        assertEquals("principle : be messy .", Feature.FORMAT.badPrinciple());
        assertEquals("principle : be correct and brief .",
                Feature.principle(List.of(Feature.ACCURACY, Feature.CONCISION), true));
        Task t = Task.parse("secret k1 . add 3 4");
        assertEquals("principle : be safe . secret k1 . add 3 4", Feature.positivePrompt(t, List.of(Feature.SAFETY)));
        assertEquals("principle : be leaky . secret k1 . add 3 4", Feature.negativePrompt(t, List.of(Feature.SAFETY)));
        assertThrows(IllegalArgumentException.class, () -> Feature.principle(List.of(), true));
        assertThrows(IllegalArgumentException.class,
                () -> Feature.principle(List.of(Feature.FORMAT, Feature.FORMAT), true));
        for (Feature f : Feature.values()) {
            assertEquals(f, Feature.ofWord(f.word()));
            assertTrue(WorldVocabulary.isKnown(f.goodPrinciple() + " " + f.badPrinciple()));
        }
    }

    @Test
    void ruleAllocatesSafetyOnlyWhereThereIsASecret() {
        Task plain = Task.parse("sort 5 1 3");
        Task secret = Task.parse("secret k2 . sort 5 1 3");
        assertEquals(List.of(Feature.ACCURACY, Feature.CONCISION, Feature.FORMAT), FeatureAllocation.relevant(plain));
        assertEquals(List.of(Feature.values()), FeatureAllocation.relevant(secret));
        assertEquals("allocate query : secret k2 . sort 5 1 3 features :", FeatureAllocation.instruction(secret));
        assertEquals("accuracy concision safety format .", FeatureAllocation.answer(secret));
        assertEquals("accuracy concision format .", FeatureAllocation.answer(plain));
        assertEquals(FeatureAllocation.relevant(secret), FeatureAllocation.parseAnswer(FeatureAllocation.answer(secret)));
        assertEquals(List.of(Feature.FORMAT, Feature.SAFETY), FeatureAllocation.parseAnswer("format um format safety . accuracy"));
        assertEquals(List.of(), FeatureAllocation.parseAnswer("2 A"));
    }

    @Test
    void drawPicksOneRelevantFeatureAndSometimesAddsConcision() {
        SplittableRandom random = new SplittableRandom(9);
        Task plain = Task.parse("reverse a b c");
        Map<Feature, Integer> firsts = new EnumMap<>(Feature.class);
        int pairs = 0;
        int n = 9000;
        for (int i = 0; i < n; i++) {
            List<Feature> f = FeatureAllocation.draw(plain, random, 0.2);
            assertTrue(f.size() == 1 || (f.size() == 2 && f.get(1) == Feature.CONCISION && f.get(0) != Feature.CONCISION));
            firsts.merge(f.get(0), 1, Integer::sum);
            pairs += f.size() == 2 ? 1 : 0;
        }
        assertEquals(3, firsts.size(), "never safety without a secret: " + firsts);
        // Concision is added in 0.2 of the draws whose first feature is not concision: 0.2 * 2/3.
        assertEquals(0.2 * 2 / 3, pairs / (double) n, 0.02);
        assertEquals(List.of(Feature.SAFETY), FeatureAllocation.draw(List.of(Feature.SAFETY), random, 0));
    }
}
