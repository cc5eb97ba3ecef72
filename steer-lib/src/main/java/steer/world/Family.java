package steer.world;

/**
 * The task families of the oracle world. Each has a verb (the query's first word after any secret), a
 * query shape and an answer that a program can check; see {@link Task} for the shapes.
 */
public enum Family {
    /** {@code add 3 4 5}: the sum, one number; 2–4 operands in 0..9 whose sum is at most 29. */
    ADD("add", true),
    /** {@code sort 12 3 7}: the numbers in ascending order; 3–5 numbers in 0..29. */
    SORT("sort", false),
    /** {@code reverse c a h b}: the letters in reverse order; 3–6 letters a..h. */
    REVERSE("reverse", false),
    /** {@code count a in b a c a}: how often the letter occurs, one number; 3–6 letters. */
    COUNT("count", true),
    /** {@code copy b c d c without c}: the letters in order with every copy of one letter left out. */
    COPY("copy", false);

    private final String verb;
    private final boolean numeric;

    Family(String verb, boolean numeric) {
        this.verb = verb;
        this.numeric = numeric;
    }

    /**
     * The query's verb, a word of {@link WorldVocabulary}.
     *
     * @return e.g. {@code "add"}
     */
    public String verb() {
        return verb;
    }

    /**
     * Whether the answer is a single number, so that an answer off by one earns half credit.
     *
     * @return true for {@link #ADD} and {@link #COUNT}
     */
    public boolean numeric() {
        return numeric;
    }

    /**
     * The family whose verb is {@code verb}.
     *
     * @param verb a word
     * @return the family
     * @throws IllegalArgumentException if no family has this verb
     */
    public static Family ofVerb(String verb) {
        for (Family f : values()) {
            if (f.verb.equals(verb)) {
                return f;
            }
        }
        throw new IllegalArgumentException("no task family has the verb '" + verb + "'");
    }
}
