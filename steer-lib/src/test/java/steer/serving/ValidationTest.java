package steer.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import steer.model.SamplingParams;

class ValidationTest {

    private static String message(Runnable r) {
        return assertThrows(InvalidFieldException.class, r::run).getMessage();
    }

    @Test
    void messagesNameTheFieldAndTheAllowedRange() {
        assertEquals("prompts[3]: empty", message(() -> Validation.requireText(Validation.indexed("prompts", 3), " ")));
        assertEquals("n: 17 is outside 1..16", message(() -> Validation.requireInRange("n", 17, 1, 16)));
        assertEquals("sampling.top_p: 1.5 is outside (0, 1]",
                message(() -> Validation.requireOpenClosed("sampling.top_p", 1.5f, 0, 1)));
        assertEquals("sampling.temperature: 7 is outside [0, 5]",
                message(() -> Validation.requireClosed("sampling.temperature", 7, 0, 5)));
        assertEquals("prompts: 0 items; need 1..64", message(() -> Validation.requireCount("prompts", List.of(), 1, 64)));
        assertEquals("prompt: 5 characters; at most 4", message(() -> Validation.requireMaxChars("prompt", "abcde", 4)));
    }

    @Test
    void samplingDefaultsAreSsosAndEveryFieldIsChecked() {
        SamplingRequest.Defaults d = SamplingRequest.Defaults.sso();
        SamplingRequest none = new SamplingRequest(0, OptionalDouble.empty(), OptionalDouble.empty(), 0, OptionalLong.empty(), List.of());
        assertEquals(new SamplingParams(32, 0.7, 0.8, 0, 99), none.resolve("sampling", d, 128, 99));
        SamplingRequest greedy = new SamplingRequest(5, OptionalDouble.of(0), OptionalDouble.of(1), 0, OptionalLong.of(3), List.of());
        assertEquals(new SamplingParams(5, 0, 1, 0, 3), greedy.resolve("sampling", d, 128, 99));

        assertEquals("sampling.top_p: 1.5 is outside (0, 1]", message(() -> new SamplingRequest(0, OptionalDouble.empty(),
                OptionalDouble.of(1.5), 0, OptionalLong.empty(), List.of()).resolve("sampling", d, 128, 0)));
        assertEquals("sampling.top_p: 0 is outside (0, 1]", message(() -> new SamplingRequest(0, OptionalDouble.empty(),
                OptionalDouble.of(0), 0, OptionalLong.empty(), List.of()).resolve("sampling", d, 128, 0)));
        assertEquals("sampling.temperature: -1 is outside [0, 5]", message(() -> new SamplingRequest(0, OptionalDouble.of(-1),
                OptionalDouble.empty(), 0, OptionalLong.empty(), List.of()).resolve("sampling", d, 128, 0)));
        assertEquals("sampling.max_new_tokens: 128 is outside 1..127", message(() -> new SamplingRequest(128, OptionalDouble.empty(),
                OptionalDouble.empty(), 0, OptionalLong.empty(), List.of()).resolve("sampling", d, 128, 0)));
        assertEquals("sampling.max_new_tokens: -2 is outside 1..127", message(() -> new SamplingRequest(-2, OptionalDouble.empty(),
                OptionalDouble.empty(), 0, OptionalLong.empty(), List.of()).resolve("sampling", d, 128, 0)));
        assertEquals("sampling.top_k: -1 is negative; 0 means off", message(() -> new SamplingRequest(0, OptionalDouble.empty(),
                OptionalDouble.empty(), -1, OptionalLong.empty(), List.of()).resolve("sampling", d, 128, 0)));
        assertEquals("sampling.stop[1]: empty", message(() -> new SamplingRequest(0, OptionalDouble.empty(),
                OptionalDouble.empty(), 0, OptionalLong.empty(), List.of(".", "")).resolve("sampling", d, 128, 0)));
    }
}
