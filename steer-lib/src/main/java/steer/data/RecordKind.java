package steer.data;

import java.util.ArrayList;
import java.util.List;

/**
 * The kinds of records a training-data file (JSONL, one JSON object per line) can hold, with their JSON field
 * names. Every listed field is required; other fields are allowed and ignored.
 *
 * <ul>
 *   <li>{@link #SFT}: {@code {"prompt": str, "response": str}}, read as a {@link Demonstration}.
 *   <li>{@link #PAIRS}: {@code {"prompt": str, "chosen": str, "rejected": str}}, read as a
 *       {@link PreferencePair} without a strength (NaN); a {@code "strength"} field is ignored.
 *   <li>{@link #SPCE_PAIRS}: the fields of {@link #PAIRS} plus {@code "strength": number in [0, 1]}, the judged
 *       p(chosen ≻ rejected) that SPCE trains on.
 *   <li>{@link #SSO}: {@code {"prompt", "prompt_plus", "prompt_minus", "y_plus", "y_minus", "y_orig"}}, all
 *       strings, read as an {@link SsoExample}.
 * </ul>
 */
public enum RecordKind {

    /** Supervised fine-tuning demonstrations. */
    SFT(List.of("prompt"), List.of("response"), false),
    /** Preference pairs for DPO, IPO, cDPO and dual-clip. */
    PAIRS(List.of("prompt"), List.of("chosen", "rejected"), false),
    /** Preference pairs with a judged strength, for SPCE. */
    SPCE_PAIRS(List.of("prompt"), List.of("chosen", "rejected"), true),
    /** SSO examples: a query under no, a good and a bad principle, and a response sampled under each. */
    SSO(List.of("prompt", "prompt_plus", "prompt_minus"), List.of("y_plus", "y_minus", "y_orig"), false);

    /** The field holding a pair's strength in {@link #SPCE_PAIRS} records. */
    public static final String STRENGTH_FIELD = "strength";

    private final List<String> promptFields;
    private final List<String> responseFields;
    private final boolean hasStrength;

    RecordKind(List<String> promptFields, List<String> responseFields, boolean hasStrength) {
        this.promptFields = promptFields;
        this.responseFields = responseFields;
        this.hasStrength = hasStrength;
    }

    /**
     * The fields holding prompt text, in record-component order.
     *
     * @return the field names, which are tokenized with BOS
     */
    public List<String> promptFields() {
        return promptFields;
    }

    /**
     * The fields holding response text, in record-component order.
     *
     * @return the field names, which are tokenized without special tokens and end in EOS
     */
    public List<String> responseFields() {
        return responseFields;
    }

    /**
     * Whether records of this kind carry a {@value #STRENGTH_FIELD}.
     *
     * @return true for {@link #SPCE_PAIRS}
     */
    public boolean hasStrength() {
        return hasStrength;
    }

    /**
     * Every required field: prompts, then responses, then the strength if any.
     *
     * @return the field names in the order a writer puts them
     */
    public List<String> fields() {
        List<String> fields = new ArrayList<>(promptFields);
        fields.addAll(responseFields);
        if (hasStrength) {
            fields.add(STRENGTH_FIELD);
        }
        return List.copyOf(fields);
    }

    /** Builds the example from token ids given in {@link #promptFields} and {@link #responseFields} order. */
    TrainingExample example(int[][] prompts, int[][] responses, double strength) {
        return switch (this) {
            case SFT -> new Demonstration(prompts[0], responses[0]);
            case PAIRS -> new PreferencePair(prompts[0], responses[0], responses[1]);
            case SPCE_PAIRS -> new PreferencePair(prompts[0], responses[0], responses[1], strength);
            case SSO -> new SsoExample(prompts[0], prompts[1], prompts[2], responses[0], responses[1], responses[2]);
        };
    }
}
