package steer.train;

/**
 * Hyperparameters of {@link AdamW}.
 *
 * @param lr          peak learning rate η &gt; 0, before the {@link LearningRateSchedule}; default 1e-6 (same as TRL
 *                    {@code DPOConfig}); models trained from scratch in the oracle world usually need far larger
 * @param beta1       β1 in [0, 1), decay of the first moment; default 0.9 (Kingma &amp; Ba 2015)
 * @param beta2       β2 in [0, 1), decay of the second moment; default 0.999 (Kingma &amp; Ba 2015)
 * @param epsilon     ε &gt; 0 added to √v̂; default 1e-8 (Kingma &amp; Ba 2015)
 * @param weightDecay λ ≥ 0, decoupled weight decay per unit learning rate; default 0.01 (PyTorch {@code AdamW};
 *                    Loshchilov &amp; Hutter 2019, arXiv 1711.05101)
 */
public record AdamWConfig(double lr, double beta1, double beta2, double epsilon, double weightDecay) {

    public AdamWConfig {
        if (!(lr > 0 && Double.isFinite(lr))) {
            throw new IllegalArgumentException("AdamW lr must be finite and > 0, got " + lr
                    + "; TRL's DPO default is 1e-6");
        }
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("AdamW beta1 and beta2 must be in [0, 1), got " + beta1 + " and "
                    + beta2 + "; Kingma & Ba recommend 0.9 and 0.999");
        }
        if (!(epsilon > 0 && Double.isFinite(epsilon))) {
            throw new IllegalArgumentException("AdamW epsilon must be finite and > 0, got " + epsilon
                    + "; Kingma & Ba recommend 1e-8");
        }
        if (!(weightDecay >= 0 && Double.isFinite(weightDecay))) {
            throw new IllegalArgumentException("AdamW weightDecay must be finite and >= 0, got " + weightDecay
                    + "; PyTorch's AdamW default is 0.01");
        }
    }

    /** η = 1e-6, β1 = 0.9, β2 = 0.999, ε = 1e-8, λ = 0.01. */
    public static AdamWConfig defaults() {
        return new AdamWConfig(1e-6, 0.9, 0.999, 1e-8, 0.01);
    }

    /** The same settings with another peak learning rate. */
    public AdamWConfig withLr(double newLr) {
        return new AdamWConfig(newLr, beta1, beta2, epsilon, weightDecay);
    }
}
