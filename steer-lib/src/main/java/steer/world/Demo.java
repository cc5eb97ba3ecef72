package steer.world;

import java.util.List;

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
}
