package steer.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import steer.objective.Cdpo;
import steer.objective.DualClip;
import steer.objective.Dpo;
import steer.objective.Ipo;
import steer.objective.LossResult;
import steer.objective.PreferenceLogps;
import steer.objective.Spce;
import steer.objective.Sso;
import steer.objective.SsoLogps;

/** 1,000 objective evaluations, backward passes and AdamW updates leave the parameter manager's array count flat. */
class TrainingLeakTest {

    private static final int B = 2;

    @Test
    void parameterManagerStaysFlat() {
        try (NDManager base = NDManager.newBaseManager()) {
            NDManager params = base.newSubManager();
            NDArray w = params.create(new float[] {0.1f, -0.2f, 0.3f, 0.05f, 0.2f, 0.1f, -0.1f, 0.4f, -0.3f, 0.2f,
                0.15f, -0.05f}, new Shape(3, 4));
            NDArray bias = params.zeros(new Shape(4));
            NDArray norm = params.ones(new Shape(4));
            List<Map.Entry<String, NDArray>> named = List.of(Map.entry("w", w), Map.entry("out.bias", bias),
                    Map.entry("final_norm", norm));
            for (Map.Entry<String, NDArray> e : named) {
                e.getValue().setRequiresGradient(true);
            }
            AdamW opt = new AdamW(new AdamWConfig(1e-3, 0.9, 0.999, 1e-8, 0.01), named);
            LearningRateSchedule schedule = new LearningRateSchedule(50, 1000, 0.1);
            int afterFirst = -1;
            for (int t = 1; t <= 1000; t++) {
                double lossValue;
                try (NDManager step = params.newSubManager()) {
                    float[] features = new float[6 * B * 3];
                    for (int i = 0; i < features.length; i++) {
                        features[i] = (float) Math.sin(0.37 * i + 0.11 * t);
                    }
                    try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                        NDArray logp = step.create(features, new Shape(6 * B, 3)).matMul(w).add(bias).mul(norm)
                                .logSoftmax(-1).get(":, 0");                                       // [6B]
                        LossResult r = evaluate(t % 6, logp, step);
                        collector.backward(r.loss());
                        lossValue = r.loss().getFloat();
                    }
                }
                assertTrue(Float.isFinite((float) lossValue), "step " + t);
                opt.clipGradients(1.0);
                opt.step(schedule.lr(opt.config().lr(), opt.stepCount() + 1));
                opt.zeroGradients();
                if (t == 1) {
                    afterFirst = params.getManagedArrays().size();
                } else {
                    assertEquals(afterFirst, params.getManagedArrays().size(), "arrays on the parameter manager at step " + t);
                }
            }
            // three parameters plus two moments each
            assertEquals(9, afterFirst);
        }
    }

    /** One of six objectives on policy log-probs {@code logp} [6B] (six sequences of B examples) and constant references. */
    private static LossResult evaluate(int which, NDArray logp, NDManager step) {
        NDArray[] seq = new NDArray[6];
        for (int s = 0; s < 6; s++) {
            seq[s] = logp.get("{}:{}", s * B, (s + 1) * B);
        }
        NDArray ref = step.create(new float[] {-1.4f, -1.3f});
        NDArray lengths = step.create(new float[] {1, 2});
        PreferenceLogps plain = new PreferenceLogps(seq[0], seq[1], ref, ref, lengths, lengths,
                step.create(new float[] {0.8f, 0.6f}));
        switch (which) {
            case 0:
                return Dpo.defaults().loss(plain);
            case 1:
                return Ipo.defaults().loss(plain);
            case 2:
                return Cdpo.defaults().loss(plain);
            case 3:
                return new DualClip(0.1, 0.5, 0.5, true).loss(plain);
            case 4:
                return Spce.defaults().loss(plain);
            default:
                PreferenceLogps positive = new PreferenceLogps(seq[2], seq[3], ref, ref, lengths, lengths, null);
                PreferenceLogps negative = new PreferenceLogps(seq[4], seq[5], ref, ref, lengths, lengths, null);
                return Sso.defaults().loss(new SsoLogps(plain, positive, negative));
        }
    }
}
