package steer.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Writes a word-level Hugging Face {@code tokenizer.json}: text splits on white space, each word is one token,
 * ids 0, 1, 2 are {@code <unk>}, {@code <s>} (BOS, added in front of every encoded text) and {@code </s>}
 * (EOS), and decoding joins words with single spaces. Small models trained from scratch on a closed
 * vocabulary (Steer's oracle world, tests) use it through the same {@link Tokenizer} as any real model.
 */
public final class WordLevelTokenizerWriter {

    /** Ids of the special tokens, in this order from 0. */
    public static final List<String> SPECIAL_TOKENS = List.of("<unk>", "<s>", "</s>");

    private WordLevelTokenizerWriter() {
    }

    /**
     * Writes {@code tokenizer.json} for {@code words} (ids from 3 in the given order) atomically to {@code file}.
     *
     * @throws IllegalArgumentException if a word is empty, contains white space, repeats, or is a special token
     */
    public static void write(List<String> words, Path file) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        ObjectNode vocab = json.createObjectNode();
        for (int id = 0; id < SPECIAL_TOKENS.size(); id++) {
            ObjectNode t = added.addObject();
            t.put("id", id);
            t.put("content", SPECIAL_TOKENS.get(id));
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
            vocab.put(SPECIAL_TOKENS.get(id), id);
        }
        Set<String> seen = new HashSet<>(SPECIAL_TOKENS);
        for (String w : words) {
            if (w.isEmpty() || w.chars().anyMatch(Character::isWhitespace)) {
                throw new IllegalArgumentException("word '" + w + "' is empty or contains white space");
            }
            if (!seen.add(w)) {
                throw new IllegalArgumentException("word '" + w + "' is repeated or is a special token");
            }
            vocab.put(w, vocab.size());
        }
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "WhitespaceSplit");
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        post.putArray("single").addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        ((ArrayNode) post.get("single")).addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode bos = post.putObject("special_tokens").putObject("<s>");
        bos.put("id", "<s>");
        bos.putArray("ids").add(1);
        bos.putArray("tokens").add("<s>");
        // WordPiece's decoder without a continuation prefix in the vocabulary joins tokens with spaces
        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "WordPiece");
        decoder.put("prefix", "##");
        decoder.put("cleanup", false);
        ObjectNode model = root.putObject("model");
        model.put("type", "WordLevel");
        model.set("vocab", vocab);
        model.put("unk_token", "<unk>");
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
            Files.write(tmp, json.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + file + ": " + e.getMessage(), e);
        }
    }
}
