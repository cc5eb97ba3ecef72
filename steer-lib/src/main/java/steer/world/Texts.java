package steer.world;

import java.util.ArrayList;
import java.util.List;

/** Splitting and joining the world's space-separated texts. */
final class Texts {

    private Texts() {
    }

    /** The words of a text, split on runs of white space; no empty words. */
    static List<String> words(String text) {
        List<String> words = new ArrayList<>();
        for (String w : text.trim().split("\\s+")) {
            if (!w.isEmpty()) {
                words.add(w);
            }
        }
        return words;
    }

    /** The words joined by single spaces. */
    static String join(List<String> words) {
        return String.join(" ", words);
    }
}
