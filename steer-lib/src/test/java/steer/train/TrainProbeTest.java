package steer.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.*;
import ai.djl.training.GradientCollector;
import java.util.*;
import org.junit.jupiter.api.Test;
import steer.checkpoint.DecoderConfig;
import steer.data.Demonstration;
import steer.model.*;
import steer.objective.*;

class TrainProbeTest {
    @Test
    void probe() {
        DecoderConfig c = TinyModels.config();
        Random r = new Random(5);
        List<Demonstration> all = new ArrayList<>();
        for (int i = 0; i < 16; i++) all.add(new Demonstration(new int[] {1, 3 + r.nextInt(20), 4, 5}, new int[] {6, 7, 8, 2}));
        try (Decoder policy = Decoder.fromHostTensors(c, TinyModels.randomTensors(c, 4), NDManager.newBaseManager())) {
            PolicyTrainer trainer = new PolicyTrainer(policy, new Sft(), new TrainingConfig(AdamWConfig.defaults().withLr(3e-3), new LearningRateSchedule(5, 80, 0.1), 1.0, 32));
            for (int i = 0; i < 5; i++) trainer.step(all);
            long t0 = System.nanoTime();
            for (int i = 0; i < 20; i++) trainer.step(all);
            System.out.printf("PROBE full step %.1f ms%n", (System.nanoTime() - t0) / 1e6 / 20);
            List<int[]> p = new ArrayList<>(), q = new ArrayList<>();
            for (Demonstration d : all) { p.add(d.prompt()); q.add(d.response()); }
            long fw = 0, bw = 0, cl = 0, st = 0, zg = 0;
            for (int i = 0; i < 20; i++) {
                long a = System.nanoTime();
                try (NDManager s = policy.manager().newSubManager(); GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    SequenceScorer.Batch b = SequenceScorer.score(policy, s, p, q);
                    LossResult lr = new Sft().loss(new SftLogps(b.sum(), b.lengths()));
                    long m = System.nanoTime(); fw += m - a;
                    gc.backward(lr.loss());
                    bw += System.nanoTime() - m;
                }
                long x = System.nanoTime();
                trainer.optimizer().clipGradients(1.0);
                long y = System.nanoTime(); cl += y - x;
                trainer.optimizer().step(1e-4);
                long z = System.nanoTime(); st += z - y;
                trainer.optimizer().zeroGradients();
                zg += System.nanoTime() - z;
            }
            System.out.printf("PROBE forward+loss %.1f backward %.1f clip %.1f adamw %.1f zero %.1f ms%n", fw / 2e7, bw / 2e7, cl / 2e7, st / 2e7, zg / 2e7);
        }
    }
}
