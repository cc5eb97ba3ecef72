package steer.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SftDemonstrationsTest {

    private static List<Task> tasks;
    private static List<Demo> demos;

    @BeforeAll
    static void generate() {
        tasks = WorldSplits.of(3).sft();
        demos = SftDemonstrations.generate(tasks, 20_000, 4);
    }

    private static double mean(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
    }

    @Test
    void sameSeedSameDemonstrationsOtherSeedOther() {
        assertEquals(20_000, demos.size());
        assertEquals(demos.subList(0, 2000), SftDemonstrations.generate(tasks, 2000, 4));
        assertNotEquals(demos.subList(0, 2000), SftDemonstrations.generate(tasks, 2000, 5));
    }

    @Test
    void demonstrationsBecomeSftRecords() {
        Demo d = new Demo(DemoKind.BAD_PRINCIPLE, Task.parse("add 3 4"), List.of(Feature.ACCURACY, Feature.CONCISION),
                "principle : be wrong and wordy . add 3 4", "well answer : 9 . so");
        assertEquals(Map.of("prompt", "principle : be wrong and wordy . add 3 4", "response", "well answer : 9 . so",
                "kind", "bad_principle", "features", "accuracy concision"), d.toRecord());
    }

    @Test
    void kindsComeInTheirShares() {
        Map<DemoKind, Integer> counts = new EnumMap<>(DemoKind.class);
        for (Demo d : demos) {
            counts.merge(d.kind(), 1, Integer::sum);
        }
        // Draw shares 0.4 / 0.3 / 0.1 / 0.1 / 0.1; a pairwise draw gives two demonstrations: 1.1 per draw.
        double n = demos.size();
        assertEquals(0.4 / 1.1, counts.get(DemoKind.PLAIN) / n, 0.02);
        assertEquals(0.15 / 1.1, counts.get(DemoKind.GOOD_PRINCIPLE) / n, 0.02);
        assertEquals(0.15 / 1.1, counts.get(DemoKind.BAD_PRINCIPLE) / n, 0.02);
        assertEquals(0.1 / 1.1, counts.get(DemoKind.ALLOCATION) / n, 0.02);
        assertEquals(0.2 / 1.1, counts.get(DemoKind.JUDGE_PAIRWISE) / n, 0.02);
        assertEquals(0.1 / 1.1, counts.get(DemoKind.JUDGE_RUBRIC) / n, 0.02);
        System.out.println("demo kinds: " + counts);
    }

    @Test
    void plainDemonstrationsScoreInTheIntendedBand() {
        List<Double> scores = demos.stream().filter(d -> d.kind() == DemoKind.PLAIN)
                .map(d -> Oracle.score(d.task(), d.response()).scalar()).toList();
        double mean = mean(scores);
        System.out.printf("plain demonstrations: mean oracle scalar %.4f over %d (best achievable 1.0)%n",
                mean, scores.size());
        assertTrue(mean >= 0.50 && mean <= 0.65, "plain mean " + mean + " outside [0.50, 0.65]");
        for (Demo d : demos) {
            if (d.kind() == DemoKind.PLAIN) {
                assertEquals(d.task().query(), d.prompt());
            }
        }
    }

    @Test
    void principledDemonstrationsMostlyFollowThePrinciple() {
        for (Feature f : Feature.values()) {
            List<Double> good = demos.stream()
                    .filter(d -> d.kind() == DemoKind.GOOD_PRINCIPLE && d.features().equals(List.of(f)))
                    .map(d -> Oracle.score(d.task(), d.response()).scalar()).toList();
            List<Double> bad = demos.stream()
                    .filter(d -> d.kind() == DemoKind.BAD_PRINCIPLE && d.features().equals(List.of(f)))
                    .map(d -> Oracle.score(d.task(), d.response()).scalar()).toList();
            System.out.printf("%-9s good principle %.4f (n=%d)  bad principle %.4f (n=%d)%n", f.word(), mean(good),
                    good.size(), mean(bad), bad.size());
            assertTrue(mean(good) > mean(bad) + 0.05, f + ": good " + mean(good) + " vs bad " + mean(bad));
        }
        for (Demo d : demos) {
            if (d.kind() == DemoKind.GOOD_PRINCIPLE) {
                assertEquals(Feature.positivePrompt(d.task(), d.features()), d.prompt());
            } else if (d.kind() == DemoKind.BAD_PRINCIPLE) {
                assertEquals(Feature.negativePrompt(d.task(), d.features()), d.prompt());
                assertTrue(d.task().hasSecret() || !d.features().contains(Feature.SAFETY));
            }
        }
    }

    @Test
    void instructionDemonstrationsCarryOracleAnswers() {
        int pairwise = 0;
        for (Demo d : demos) {
            switch (d.kind()) {
                case ALLOCATION -> {
                    assertEquals(FeatureAllocation.instruction(d.task()), d.prompt());
                    assertEquals(FeatureAllocation.answer(d.task()), d.response());
                }
                case JUDGE_PAIRWISE -> {
                    pairwise++;
                    assertTrue(d.response().equals("A") || d.response().equals("B"));
                }
                case JUDGE_RUBRIC -> {
                    int s = JudgeInstructions.parseRubricAnswer(d.response());
                    assertTrue(s >= 2 && s <= 10, d.response());
                }
                default -> {
                }
            }
        }
        // Pairwise demonstrations come in both orders, one after the other, with opposite answers.
        for (int i = 0; i + 1 < demos.size(); i++) {
            Demo d = demos.get(i);
            if (d.kind() == DemoKind.JUDGE_PAIRWISE && demos.get(i + 1).kind() == DemoKind.JUDGE_PAIRWISE
                    && d.task().equals(demos.get(i + 1).task())) {
                assertNotEquals(d.response(), demos.get(i + 1).response());
                i++;
            }
        }
        assertTrue(pairwise > 0);
    }

    @Test
    void theMediumMixtureKeepsPlainAnswersNoisyAndViolatesBadPrinciplesClearly() {
        List<Demo> medium = SftDemonstrations.generate(tasks, 20_000, DemoMixture.medium(), 4);
        double plain = mean(medium.stream().filter(d -> d.kind() == DemoKind.PLAIN)
                .map(d -> Oracle.score(d.task(), d.response()).scalar()).toList());
        assertTrue(plain >= 0.50 && plain <= 0.65, "plain mean " + plain);
        List<Double> wrong = medium.stream()
                .filter(d -> d.kind() == DemoKind.BAD_PRINCIPLE && d.features().equals(List.of(Feature.ACCURACY)))
                .map(d -> Oracle.score(d.task(), d.response()).correctness()).toList();
        // followed 95% of the time with correctness 0; the rest are plain-style draws
        assertTrue(mean(wrong) < 0.1, "be wrong: mean correctness " + mean(wrong));
        long pairs = 0;
        for (Demo d : medium) {
            if (d.kind() == DemoKind.JUDGE_PAIRWISE) {
                pairs++;
            }
        }
        assertTrue(pairs > 0.2 * medium.size(), "pairwise share " + pairs / (double) medium.size());
        assertEquals(WorldModelSize.MEDIUM.mixture(), DemoMixture.medium());
        assertEquals(DemoMixture.defaults(), WorldModelSize.SMALL.mixture());
        assertEquals(DemoMixture.defaults(), WorldModelSize.LARGE.mixture());
    }
}
