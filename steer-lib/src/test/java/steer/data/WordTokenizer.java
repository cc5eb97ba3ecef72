package steer.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

import steer.tokenizer.Tokenizer;

/**
 * A word-level tokenizer for tests: one id per whitespace-separated word (punctuation is its own word),
 * {@code <s>} prepended by the post-processor. Ids: {@code <unk>} 0, {@code <s>} 1, {@code </s>} 2, then
 * {@link #WORDS} from 3.
 */
final class WordTokenizer {

    static final int UNK = 0;
    static final int BOS = 1;
    static final int EOS = 2;
    static final List<String> WORDS = List.of("hello", "world", "be", "kind", "rude", "answer", "good", "bad",
            "question", "?", "yes", "no");

    private WordTokenizer() {
    }

    /** The id of a word in {@link #WORDS}. */
    static int id(String word) {
        int index = WORDS.indexOf(word);
        if (index < 0) {
            throw new IllegalArgumentException(word);
        }
        return index + 3;
    }

    /** Writes {@code dir/tokenizer.json} and loads it; the caller closes the tokenizer. */
    static Tokenizer load(Path dir) {
        String words = WORDS.stream().map(w -> "\"" + w + "\": " + id(w)).collect(Collectors.joining(", "));
        String json = """
                {
                  "version": "1.0",
                  "truncation": null,
                  "padding": null,
                  "added_tokens": [
                    {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false,
                     "normalized": false, "special": true},
                    {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false,
                     "normalized": false, "special": true},
                    {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false,
                     "normalized": false, "special": true}
                  ],
                  "normalizer": null,
                  "pre_tokenizer": {"type": "Whitespace"},
                  "post_processor": {
                    "type": "TemplateProcessing",
                    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                    "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                             {"Sequence": {"id": "B", "type_id": 1}}],
                    "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}
                  },
                  "decoder": null,
                  "model": {
                    "type": "WordLevel",
                    "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, %s},
                    "unk_token": "<unk>"
                  }
                }
                """.formatted(words);
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(Tokenizer.FILE_NAME), json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Tokenizer.load(dir);
    }
}
