package steer.train;

/**
 * How a {@link PolicyTrainer} steps: optimizer, learning-rate schedule, clipping and micro-batching.
 * Defaults follow DESIGN.md's training defaults: AdamW, warm-up then cosine, global norm clipped at 1.0.
 *
 * @param optimizer      AdamW hyperparameters; {@code optimizer.lr()} is the peak learning rate
 * @param schedule       warm-up and cosine decay over the run's steps
 * @param maxGradNorm    global gradient-norm clip, &gt; 0; default 1.0
 * @param microBatchSize examples per forward/backward pass; a larger batch accumulates gradients over several
 *                       micro-batches; default 32
 */
public record TrainingConfig(AdamWConfig optimizer, LearningRateSchedule schedule, double maxGradNorm,
                             int microBatchSize) {

    public TrainingConfig {
        if (!(maxGradNorm > 0)) {
            throw new IllegalArgumentException("max gradient norm must be > 0, got " + maxGradNorm + "; default 1.0");
        }
        if (microBatchSize < 1) {
            throw new IllegalArgumentException("micro-batch size must be at least 1, got " + microBatchSize);
        }
    }

    /** AdamW with peak {@code lr}, 10% warm-up then cosine to 0 over {@code totalSteps}, clip 1.0, micro-batch 32. */
    public static TrainingConfig defaults(double lr, long totalSteps) {
        return new TrainingConfig(AdamWConfig.defaults().withLr(lr), LearningRateSchedule.forSteps(totalSteps), 1.0, 32);
    }
}
