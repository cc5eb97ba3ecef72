package steer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A batch large enough to be split across cores generates the same tokens and log-probabilities, bit for bit,
 * in one part as in two ({@link Generation#PARTS_PROPERTY} caps the parts), for greedy and seeded sampling, with
 * prompts of different lengths.
 */
class GenerationSplitTest {

    @Test
    void oneOrTwoPartsGiveTheSameSequences() {
        try (Decoder d = TinyDecoders.create(TinyDecoders.llama(), 7)) {
            List<int[]> prompts = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                int[] p = new int[1 + i % 4];
                for (int j = 0; j < p.length; j++) {
                    p[j] = 1 + (i * 7 + j * 3) % 40;
                }
                prompts.add(p);
            }
            for (SamplingParams params : List.of(SamplingParams.greedy(10),
                    new SamplingParams(10, 0.9, 0.95, 20, 42))) {
                List<GeneratedSequence> one = generate(d, prompts, params, "1");
                List<GeneratedSequence> two = generate(d, prompts, params, "2");
                assertEquals(prompts.size(), one.size());
                for (int i = 0; i < prompts.size(); i++) {
                    assertArrayEquals(one.get(i).tokenIds(), two.get(i).tokenIds(), "stream " + i);
                    assertArrayEquals(one.get(i).logProbs(), two.get(i).logProbs(), "stream " + i);
                }
            }
        }
    }

    private static List<GeneratedSequence> generate(Decoder d, List<int[]> prompts, SamplingParams params,
                                                    String parts) {
        String before = System.getProperty(Generation.PARTS_PROPERTY);
        System.setProperty(Generation.PARTS_PROPERTY, parts);
        try {
            return Generation.generate(d, prompts, params, Set.of(), Generation.StopCheck.NEVER);
        } finally {
            if (before == null) {
                System.clearProperty(Generation.PARTS_PROPERTY);
            } else {
                System.setProperty(Generation.PARTS_PROPERTY, before);
            }
        }
    }
}
