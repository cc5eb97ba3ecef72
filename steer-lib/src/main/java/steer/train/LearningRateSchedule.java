package steer.train;

/**
 * Linear warm-up, then cosine decay to a floor: the factor that multiplies the peak learning rate at each update.
 *
 * <pre>
 *   f(t) = t / warmupSteps                                              for 1 ≤ t ≤ warmupSteps
 *   f(t) = ρ + (1 − ρ)·(1 + cos(π·(t − warmupSteps)/(totalSteps − warmupSteps)))/2   for warmupSteps &lt; t ≤ totalSteps
 *   f(t) = ρ                                                            for t &gt; totalSteps
 * </pre>
 *
 * <p>t is the 1-based number of the update about to be applied ({@link AdamW#stepCount()} + 1), so the first
 * update already moves the weights; ρ is {@code minLrRatio}. With ρ = 0 this is Hugging Face's
 * {@code get_cosine_schedule_with_warmup} shifted by one step.
 *
 * @param warmupSteps number of warm-up updates, 0 ≤ warmupSteps ≤ totalSteps
 * @param totalSteps  update at which the cosine reaches the floor, ≥ 1
 * @param minLrRatio  ρ in [0, 1], the floor as a fraction of the peak
 */
public record LearningRateSchedule(long warmupSteps, long totalSteps, double minLrRatio) {

    public LearningRateSchedule {
        if (totalSteps < 1 || warmupSteps < 0 || warmupSteps > totalSteps) {
            throw new IllegalArgumentException("need 0 <= warmupSteps <= totalSteps and totalSteps >= 1, got warmupSteps="
                    + warmupSteps + ", totalSteps=" + totalSteps + "; a common choice is 10% warm-up");
        }
        if (!(minLrRatio >= 0 && minLrRatio <= 1)) {
            throw new IllegalArgumentException("minLrRatio must be in [0, 1], got " + minLrRatio
                    + "; 0 decays to zero as Hugging Face's cosine schedule does, 0.1 is common");
        }
    }

    /** 10% warm-up (TRL's usual {@code warmup_ratio = 0.1}), cosine to zero at {@code totalSteps}. */
    public static LearningRateSchedule forSteps(long totalSteps) {
        return new LearningRateSchedule(totalSteps / 10, totalSteps, 0);
    }

    /** The factor f(t) in [0, 1] for update t (1-based). */
    public double multiplier(long t) {
        if (t < 1) {
            throw new IllegalArgumentException("updates are numbered from 1, got " + t);
        }
        if (t <= warmupSteps) {
            return (double) t / warmupSteps;
        }
        if (t >= totalSteps) {
            return minLrRatio;
        }
        double progress = (double) (t - warmupSteps) / (totalSteps - warmupSteps);
        return minLrRatio + (1 - minLrRatio) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }

    /** The learning rate for update t: {@code peakLr · f(t)}. */
    public double lr(double peakLr, long t) {
        return peakLr * multiplier(t);
    }
}
