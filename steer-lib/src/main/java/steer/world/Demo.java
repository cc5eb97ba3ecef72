package steer.world;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One SFT demonstration as text: the prompt and the response a model should learn to continue it with.
 * Both are space-separated words of {@link WorldVocabulary}.
 *
 * @param kind     what the demonstration teaches
 * @param task     the task the prompt is about
 * @param features the principle's features for {@link DemoKind#GOOD_PRINCIPLE} and
 *                 {@link DemoKind#BAD_PRINCIPLE}; empty otherwise
 * @param prompt   the prompt text
 * @param response the response text
 */
public record Demo(DemoKind kind, Task task, List<Feature> features, String prompt, String response) {

    /** Copies the features, unmodifiable. */
    public Demo {
        features = List.copyOf(features);
    }

    /**
     * This demonstration as a {@link steer.data.RecordKind#SFT} record for
     * {@link steer.data.TrainingDataWriter}: {@code prompt} and {@code response}, plus {@code kind} (lower case)
     * and {@code features} (space-separated names), which readers ignore.
     *
     * @return an ordered map of strings
     */
    public Map<String, String> toRecord() {
        Map<String, String> record = new LinkedHashMap<>();
        record.put("prompt", prompt);
        record.put("response", response);
        record.put("kind", kind.name().toLowerCase(Locale.ROOT));
        record.put("features", String.join(" ", features.stream().map(Feature::word).toList()));
        return record;
    }
}
