package steer.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HostTensor;
import steer.data.Demonstration;
import steer.data.PreferencePair;
import steer.model.Decoder;
import steer.model.ResponseLogProbs;
import steer.model.SequenceScorer;
import steer.objective.Dpo;
import steer.objective.Sft;

class PolicyTrainerTest {

    private static final int BOS = 1;
    private static final int EOS = 2;

    /** Prompts of 2–4 random tokens; chosen responses are one fixed pattern, rejected another. */
    static List<PreferencePair> patternPairs(int n, long seed) {
        Random r = new Random(seed);
        List<PreferencePair> pairs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] prompt = new int[2 + r.nextInt(3)];
            prompt[0] = BOS;
            for (int t = 1; t < prompt.length; t++) {
                prompt[t] = 3 + r.nextInt(20);
            }
            pairs.add(new PreferencePair(prompt, new int[] {10, 11, 12, EOS}, new int[] {13, 14, 15, EOS}));
        }
        return pairs;
    }

    /** Fraction of pairs whose implied reward ranks chosen above rejected, and the mean reward margin. */
    static double[] accuracyAndMargin(Decoder policy, Decoder reference, List<PreferencePair> pairs) {
        List<int[]> prompts = new ArrayList<>();
        List<int[]> responses = new ArrayList<>();
        for (PreferencePair p : pairs) {
            prompts.add(p.prompt());
            responses.add(p.chosen());
        }
        for (PreferencePair p : pairs) {
            prompts.add(p.prompt());
            responses.add(p.rejected());
        }
        List<ResponseLogProbs> pol = SequenceScorer.scoreToJava(policy, prompts, responses);
        List<ResponseLogProbs> ref = SequenceScorer.scoreToJava(reference, prompts, responses);
        int n = pairs.size();
        int correct = 0;
        double margin = 0;
        for (int i = 0; i < n; i++) {
            double h = pol.get(i).sum() - ref.get(i).sum() - (pol.get(n + i).sum() - ref.get(n + i).sum());
            correct += h > 0 ? 1 : 0;
            margin += h / n;
        }
        return new double[] {correct / (double) n, margin};
    }

    @Test
    void offlineDpoLearnsHeldOutPreferencesAndItsMarginGrows() {
        DecoderConfig c = TinyModels.config();
        Map<String, HostTensor> init = TinyModels.randomTensors(c, 1);
        List<PreferencePair> train = patternPairs(64, 2);
        List<PreferencePair> heldOut = patternPairs(32, 3);
        try (Decoder policy = Decoder.fromHostTensors(c, init, NDManager.newBaseManager());
             Decoder reference = Decoder.fromHostTensors(c, init, NDManager.newBaseManager())) {
            double before = accuracyAndMargin(policy, reference, heldOut)[1];
            PolicyTrainer trainer = new PolicyTrainer(policy, Dpo.defaults(), new TrainingConfig(
                    AdamWConfig.defaults().withLr(1e-3), new LearningRateSchedule(3, 30, 0.1), 1.0, 16))
                    .frozenReference(reference);
            List<Double> margins = new ArrayList<>();
            for (int step = 0; step < 30; step++) {
                List<PreferencePair> batch = train.subList((step % 4) * 16, (step % 4) * 16 + 16);
                margins.add(trainer.step(batch).diagnostics().get("reward_margin"));
            }
            double[] after = accuracyAndMargin(policy, reference, heldOut);
            assertTrue(after[0] > 0.9, "held-out preference accuracy " + after[0]);
            assertTrue(after[1] > before + 1.0, "held-out margin " + before + " -> " + after[1]);
            assertTrue(margins.get(29) > margins.get(0), "training margin " + margins);
        }
    }

    @Test
    void sftLowersHeldOutLoss() {
        DecoderConfig c = TinyModels.config();
        Random r = new Random(5);
        List<Demonstration> all = new ArrayList<>();
        for (int i = 0; i < 96; i++) {
            int a = 3 + r.nextInt(20), b = 3 + r.nextInt(20), d = 3 + r.nextInt(20);
            all.add(new Demonstration(new int[] {BOS, a, b, d}, new int[] {d, b, a, EOS})); // reverse the prompt
        }
        List<Demonstration> train = all.subList(0, 64);
        List<Demonstration> heldOut = all.subList(64, 96);
        try (Decoder policy = Decoder.fromHostTensors(c, TinyModels.randomTensors(c, 4), NDManager.newBaseManager())) {
            double before = meanTokenNll(policy, heldOut);
            PolicyTrainer trainer = new PolicyTrainer(policy, new Sft(), new TrainingConfig(
                    AdamWConfig.defaults().withLr(3e-3), new LearningRateSchedule(5, 80, 0.1), 1.0, 32));
            for (int step = 0; step < 80; step++) {
                trainer.step(train.subList((step % 4) * 16, (step % 4) * 16 + 16));
            }
            double after = meanTokenNll(policy, heldOut);
            assertTrue(after < 0.8 * before, "held-out token NLL " + before + " -> " + after);
        }
    }

    static double meanTokenNll(Decoder model, List<Demonstration> demos) {
        List<int[]> prompts = new ArrayList<>();
        List<int[]> responses = new ArrayList<>();
        for (Demonstration d : demos) {
            prompts.add(d.prompt());
            responses.add(d.response());
        }
        double nll = 0;
        int tokens = 0;
        for (ResponseLogProbs lp : SequenceScorer.scoreToJava(model, prompts, responses)) {
            nll -= lp.sum();
            tokens += lp.perToken().length;
        }
        return nll / tokens;
    }

    @Test
    void frozenAndPrecomputedReferencesGiveTheSameLosses() {
        DecoderConfig c = TinyModels.config();
        Map<String, HostTensor> init = TinyModels.randomTensors(c, 6);
        List<PreferencePair> data = patternPairs(24, 7);
        double[][] losses = new double[2][];
        for (int mode = 0; mode < 2; mode++) {
            try (Decoder policy = Decoder.fromHostTensors(c, init, NDManager.newBaseManager());
                 Decoder reference = Decoder.fromHostTensors(c, init, NDManager.newBaseManager())) {
                PolicyTrainer trainer = new PolicyTrainer(policy, Dpo.defaults(), new TrainingConfig(
                        AdamWConfig.defaults().withLr(1e-3), new LearningRateSchedule(1, 3, 0), 1.0, 5));
                if (mode == 0) {
                    trainer.frozenReference(reference);
                } else {
                    trainer.precomputeReference(reference, data);
                }
                losses[mode] = new double[3];
                for (int s = 0; s < 3; s++) {
                    losses[mode][s] = trainer.step(data.subList(s * 8, s * 8 + 8)).loss();
                }
            }
        }
        for (int s = 0; s < 3; s++) {
            assertEquals(losses[0][s], losses[1][s], 1e-6, "step " + (s + 1));
        }
        assertTrue(losses[0][2] != losses[0][0], "the policy moved, so later losses differ from the first");
    }

    @Test
    void gradientAccumulationOverMicroBatchesEqualsOneBigBatch() {
        DecoderConfig c = TinyModels.config();
        Map<String, HostTensor> init = TinyModels.randomTensors(c, 8);
        List<PreferencePair> data = patternPairs(12, 9);
        double[][] losses = new double[2][2];
        for (int mode = 0; mode < 2; mode++) {
            try (Decoder policy = Decoder.fromHostTensors(c, init, NDManager.newBaseManager());
                 Decoder reference = Decoder.fromHostTensors(c, init, NDManager.newBaseManager())) {
                PolicyTrainer trainer = new PolicyTrainer(policy, Dpo.defaults(), new TrainingConfig(
                        AdamWConfig.defaults().withLr(1e-3), new LearningRateSchedule(0, 2, 0), 1.0,
                        mode == 0 ? 12 : 5)).frozenReference(reference);
                losses[mode][0] = trainer.step(data).loss();
                losses[mode][1] = trainer.step(data).loss();
            }
        }
        assertEquals(losses[0][0], losses[1][0], 1e-5);
        assertEquals(losses[0][1], losses[1][1], 1e-5);
    }

    @Test
    void nativeMemoryStaysFlatOver1000Steps() {
        DecoderConfig c = TinyModels.config();
        Map<String, HostTensor> init = TinyModels.randomTensors(c, 10);
        List<PreferencePair> data = patternPairs(8, 11);
        try (Decoder policy = Decoder.fromHostTensors(c, init, NDManager.newBaseManager());
             Decoder reference = Decoder.fromHostTensors(c, init, NDManager.newBaseManager())) {
            PolicyTrainer trainer = new PolicyTrainer(policy, Dpo.defaults(), new TrainingConfig(
                    AdamWConfig.defaults().withLr(1e-4), new LearningRateSchedule(10, 1000, 0.1), 1.0, 4))
                    .frozenReference(reference);
            trainer.step(data);
            int afterFirst = policy.manager().getManagedArrays().size();
            int referenceArrays = reference.manager().getManagedArrays().size();
            for (int s = 1; s < 1000; s++) {
                trainer.step(data);
            }
            assertEquals(afterFirst, policy.manager().getManagedArrays().size(), "arrays under the policy's manager");
            assertEquals(referenceArrays, reference.manager().getManagedArrays().size(), "arrays under the reference's");
        }
    }
}
