package steer.train;

import java.util.Map;

/**
 * {@link AdamW}'s state as Java values, for checkpoints: importing it into an optimizer over the same parameters
 * continues training bit for bit.
 *
 * @param step           the number of updates applied so far (t of the last update)
 * @param firstMoments   m per parameter name, row-major float32; only parameters updated at least once
 * @param secondMoments  v per parameter name, row-major float32; same names as {@code firstMoments}
 */
public record AdamWState(long step, Map<String, float[]> firstMoments, Map<String, float[]> secondMoments)
        implements MomentSource {

    public AdamWState {
        if (step < 0) {
            throw new IllegalArgumentException("step must be >= 0, got " + step);
        }
        if (!firstMoments.keySet().equals(secondMoments.keySet())) {
            throw new IllegalArgumentException("first and second moments must name the same parameters, got "
                    + firstMoments.keySet() + " and " + secondMoments.keySet());
        }
        firstMoments = Map.copyOf(firstMoments);
        secondMoments = Map.copyOf(secondMoments);
    }

    @Override
    public java.util.Set<String> parameters() {
        return firstMoments.keySet();
    }

    @Override
    public float[] first(String parameter) {
        return firstMoments.get(parameter);
    }

    @Override
    public float[] second(String parameter) {
        return secondMoments.get(parameter);
    }
}
