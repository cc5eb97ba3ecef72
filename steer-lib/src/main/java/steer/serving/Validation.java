package steer.serving;

import java.util.List;

/**
 * Checks for request fields, each throwing {@link InvalidFieldException} with the field's path and the allowed
 * range, so every service words its INVALID_ARGUMENT errors the same way.
 */
public final class Validation {

    private Validation() {
    }

    /** {@code field[index]} or {@code field} when index is negative. */
    public static String indexed(String field, int index) {
        return index < 0 ? field : field + "[" + index + "]";
    }

    /** Rejects null or blank text: {@code prompts[3]: empty}. */
    public static void requireText(String field, String value) {
        if (value == null || value.isBlank()) {
            throw new InvalidFieldException(field, "empty");
        }
    }

    /** Rejects text longer than {@code maxChars} characters, before any tokenizer sees it. */
    public static void requireMaxChars(String field, String value, int maxChars) {
        if (value != null && value.length() > maxChars) {
            throw new InvalidFieldException(field, value.length() + " characters; at most " + maxChars);
        }
    }

    /** Requires {@code min <= value <= max}: {@code n: 17 is outside 1..16}. */
    public static void requireInRange(String field, long value, long min, long max) {
        if (value < min || value > max) {
            throw new InvalidFieldException(field, value + " is outside " + min + ".." + max);
        }
    }

    /** Requires {@code min <= value <= max} for a real number: {@code sampling.temperature: 7 is outside [0, 5]}. */
    public static void requireClosed(String field, double value, double min, double max) {
        if (!(value >= min && value <= max)) {
            throw new InvalidFieldException(field, format(value) + " is outside [" + format(min) + ", " + format(max) + "]");
        }
    }

    /** Requires {@code min < value <= max}: {@code sampling.top_p: 1.5 is outside (0, 1]}. */
    public static void requireOpenClosed(String field, double value, double min, double max) {
        if (!(value > min && value <= max)) {
            throw new InvalidFieldException(field, format(value) + " is outside (" + format(min) + ", " + format(max) + "]");
        }
    }

    /** Requires a list of {@code min..max} items: {@code prompts: 0 items; need 1..64}. */
    public static void requireCount(String field, List<?> items, int min, int max) {
        if (items.size() < min || items.size() > max) {
            throw new InvalidFieldException(field, items.size() + " items; need " + min + ".." + max);
        }
    }

    /** A float as a person writes it: 1.5, not 1.5000000059604645, and 1 rather than 1.0. */
    static String format(double value) {
        float f = (float) value;
        if (f == Math.rint(f) && !Float.isInfinite(f)) {
            return Long.toString((long) f);
        }
        return Float.toString(f);
    }
}
