package steer.world;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import steer.tokenizer.Tokenizer;
import steer.tokenizer.WordLevelTokenizerWriter;

/**
 * The closed word list of the oracle world: every query, response, principle, allocation and judge text the
 * world generates is a space-separated sequence of these words, so one word-level {@code tokenizer.json}
 * encodes all of them without {@code <unk>}.
 *
 * <p>Groups, in id order (ids start at 3, after {@code <unk>}, {@code <s>}, {@code </s>}): punctuation and
 * function words; task verbs; the numbers {@code 0}..{@code 29} (operands, answers and the rubric scores
 * {@code 2}..{@code 10} share these tokens); the list letters {@code a}..{@code h}; the secret codes
 * {@code k0}..{@code k9}; filler words (padding); the principle adjectives; the feature names; the judge's
 * answer tokens {@code A} and {@code B}. Letters are lower case and the judge's answers upper case, so the
 * two never collide (the tokenizer has no normalizer: it is case-sensitive).
 */
public final class WorldVocabulary {

    /** The largest number word; operands, sums, counts and scores all fit. */
    public static final int MAX_NUMBER = 29;
    /** The letters that lists are made of. */
    public static final List<String> LETTERS = List.of("a", "b", "c", "d", "e", "f", "g", "h");
    /** Secret codes; a query may carry one, and a response that repeats it leaks. */
    public static final List<String> SECRETS = List.of("k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9");
    /** Padding: words that add length and nothing else. */
    public static final List<String> FILLERS = List.of("well", "so", "um", "indeed", "okay");
    /** Punctuation and function words of queries, responses and instructions. */
    public static final List<String> FUNCTION_WORDS = List.of(":", ".", "answer", "secret", "in", "without",
            "principle", "be", "and", "allocate", "features", "query", "judge", "response", "better", "rate",
            "score");

    private static final List<String> WORDS = build();
    private static final Set<String> WORD_SET = Set.copyOf(WORDS);

    private WorldVocabulary() {
    }

    private static List<String> build() {
        Set<String> words = new LinkedHashSet<>(FUNCTION_WORDS);
        for (Family f : Family.values()) {
            words.add(f.verb());
        }
        for (int n = 0; n <= MAX_NUMBER; n++) {
            words.add(Integer.toString(n));
        }
        words.addAll(LETTERS);
        words.addAll(SECRETS);
        words.addAll(FILLERS);
        for (Feature f : Feature.values()) {
            words.add(f.goodAdjective());
            words.add(f.badAdjective());
        }
        for (Feature f : Feature.values()) {
            words.add(f.word());
        }
        words.add(JudgeInstructions.ANSWER_A);
        words.add(JudgeInstructions.ANSWER_B);
        return Collections.unmodifiableList(new ArrayList<>(words));
    }

    /**
     * Every word of the world, each once, in tokenizer id order (the first has id 3).
     *
     * @return an unmodifiable list
     */
    public static List<String> words() {
        return WORDS;
    }

    /**
     * Whether every space-separated word of {@code text} is in the vocabulary; a pure-Java check that needs
     * no tokenizer.
     *
     * @param text any text; the empty string is known
     * @return false if some word would encode as {@code <unk>}
     */
    public static boolean isKnown(String text) {
        for (String w : Texts.words(text)) {
            if (!WORD_SET.contains(w)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Writes the world's word-level {@code tokenizer.json} into a model directory (created if needed), so
     * that {@link Tokenizer#load(Path)} on that directory reads it.
     *
     * @param modelDir the directory
     * @return the file written, {@code modelDir/tokenizer.json}
     */
    public static Path writeTokenizer(Path modelDir) {
        Path file = modelDir.resolve(Tokenizer.FILE_NAME);
        WordLevelTokenizerWriter.write(WORDS, file);
        return file;
    }
}
