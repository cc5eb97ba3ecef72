package steer.align;

import java.util.List;
import steer.world.Feature;

/**
 * One query with the features allocated to it and SSO's three prompts.
 *
 * @param prompt      x, the plain query
 * @param promptPlus  x+, the query under the good principle of {@code features}
 * @param promptMinus x-, the query under the bad principle
 * @param features    the allocated features, one or two
 */
public record SteeredPrompt(String prompt, String promptPlus, String promptMinus, List<Feature> features) {

    /** Copies the features, unmodifiable. */
    public SteeredPrompt {
        features = List.copyOf(features);
    }

    /**
     * The features' names joined with {@code +}, the diagnostic label an example carries.
     *
     * @return e.g. {@code accuracy+concision}
     */
    public String featureLabel() {
        StringBuilder b = new StringBuilder();
        for (Feature f : features) {
            b.append(b.length() == 0 ? "" : "+").append(f.word());
        }
        return b.toString();
    }
}
