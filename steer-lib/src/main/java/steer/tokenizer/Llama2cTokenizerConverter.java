package steer.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Converts a llama2.c tokenizer ({@link Llama2cVocabulary}) into a Hugging Face {@code tokenizer.json} that,
 * loaded by {@link Tokenizer}, encodes and decodes as llama2.c's {@code run.c} does.
 *
 * <p>The file follows the layout of real Llama {@code tokenizer.json} files:
 * <ul>
 *   <li>model: BPE with {@code byte_fallback}, unk {@code <unk>}; the vocabulary writes the space of
 *       word-initial pieces as "▁" (U+2581), ids 0..2 are {@code <unk>}, {@code <s>}, {@code </s>} and ids
 *       3..258 are {@code <0x00>}..{@code <0xFF>};</li>
 *   <li>merges derived from the scores (llama2.c has no merge list): for every piece, every split into two
 *       pieces of the vocabulary is a merge, ranked by the merged piece's score, highest first;</li>
 *   <li>normalizer: Prepend "▁" (the dummy prefix; Hugging Face skips it for empty text, as llama2.c does),
 *       then Replace " " by "▁"; no pre-tokenizer, so the whole text is one BPE word as in llama2.c;</li>
 *   <li>post-processor: TemplateProcessing that puts BOS {@code <s>} (id 1) first;</li>
 *   <li>decoder: Replace "▁" by " ", ByteFallback, Fuse, Strip one leading space;</li>
 *   <li>added tokens {@code <unk>}, {@code <s>}, {@code </s>}, special.</li>
 * </ul>
 *
 * <h2>Where Hugging Face's BPE can differ from llama2.c</h2>
 * llama2.c repeatedly merges the adjacent pair whose concatenation has the highest score, the leftmost
 * one on ties. Hugging Face merges the pair of lowest merge rank, the leftmost one on ties of rank. With
 * merges ranked by score the two agree whenever the best score belongs to a single merge. They can differ
 * only where two <em>different</em> splits with the same score are candidates at once — two splits of one
 * piece (pieces of stories260K have distinct scores, so no other ties arise): llama2.c takes the leftmost,
 * Hugging Face the split ranked first. Splits of one piece are ranked by the score of their left part, then
 * of their right part; no static order can match "leftmost" in every case, since {@code [x][y][z]} with
 * {@code x+y = y+z} puts one split leftmost and the mirrored layout puts the other. Such ties need both
 * splits built at once, which llama2.c's own score order almost never allows: none occurred in 120,000
 * random strings over stories260K's vocabulary nor in small vocabularies built to provoke them, and
 * {@code Llama2cTokenizerConverterTest} checks that every mismatch is such a tie. Residual differences:
 * <ul>
 *   <li>a piece {@code P = x+y = y+z} formed at once by overlapping pairs, as in {@code [ab][a][ba]} for
 *       {@code aba}: llama2.c merges the left pair, Hugging Face the higher-ranked split;</li>
 *   <li>two splits of one piece at distant positions where merging the right one first unlocks a
 *       higher-scoring merge that consumes a token the left one needed;</li>
 *   <li>input text containing "▁" (U+2581): Hugging Face reads it as a space, llama2.c byte-falls-back;</li>
 *   <li>input text containing {@code <s>}, {@code </s>} or {@code <unk>}: Hugging Face matches added tokens
 *       in the raw text and emits the special id, llama2.c spells them out;</li>
 *   <li>decoding: llama2.c strips the leading space only of the piece right after BOS; the Strip decoder
 *       strips one leading space of the decoded text whether or not BOS was there.</li>
 * </ul>
 */
public final class Llama2cTokenizerConverter {

    /** SentencePiece's visible space, "▁" (U+2581), which Llama {@code tokenizer.json} files use for " ". */
    public static final String SPACE_MARK = "\u2581";

    /** The Hugging Face names of ids 0, 1, 2 (llama2.c's file stores BOS/EOS as "\n&lt;s&gt;\n" etc.). */
    private static final String[] SPECIAL_NAMES = {"<unk>", "<s>", "</s>"};

    private static final int BOS_ID = 1;

    private static final int FIRST_BYTE_ID = 3;

    // llama2.c starts its search at best_score = -1e10 and compares with '>', so such pieces never merge.
    private static final float LLAMA2C_SCORE_FLOOR = -1e10f;

    private Llama2cTokenizerConverter() {
    }

    /**
     * One merge: the adjacent pair {@code (left, right)} becomes {@code result}.
     *
     * @param left   id of the left piece
     * @param right  id of the right piece
     * @param result id of the concatenated piece
     */
    record Merge(int left, int right, int result) {
    }

    /**
     * Writes the {@code tokenizer.json} for a llama2.c vocabulary, creating parent directories.
     *
     * @param vocabulary the llama2.c vocabulary
     * @param file       where to write, conventionally {@code <modelDir>/tokenizer.json}
     * @throws TokenizerException if the vocabulary cannot be expressed (see {@link #toJson}) or the file
     *                            cannot be written
     */
    public static void write(Llama2cVocabulary vocabulary, Path file) {
        ObjectNode json = toJson(vocabulary);
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(file.toFile(), json);
        } catch (IOException e) {
            throw new TokenizerException("cannot write tokenizer.json " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Builds the {@code tokenizer.json} tree for a llama2.c vocabulary.
     *
     * @param vocabulary the llama2.c vocabulary
     * @return the JSON tree, in the field order of Hugging Face's own files
     * @throws TokenizerException naming the vocabulary's file if ids 3..258 are not the byte tokens
     *                            {@code <0x00>}..{@code <0xFF>}, a piece is not UTF-8 or contains "▁", or two
     *                            ids would get the same Hugging Face piece
     */
    public static ObjectNode toJson(Llama2cVocabulary vocabulary) {
        String[] names = hfPieces(vocabulary);
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode root = f.objectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");

        ArrayNode added = root.putArray("added_tokens");
        for (int id = 0; id < SPECIAL_NAMES.length; id++) {
            added.addObject()
                    .put("id", id)
                    .put("content", SPECIAL_NAMES[id])
                    .put("single_word", false)
                    .put("lstrip", false)
                    .put("rstrip", false)
                    .put("normalized", false)
                    .put("special", true);
        }

        ObjectNode normalizer = root.putObject("normalizer").put("type", "Sequence");
        ArrayNode normalizers = normalizer.putArray("normalizers");
        normalizers.addObject().put("type", "Prepend").put("prepend", SPACE_MARK);
        ObjectNode replaceSpace = normalizers.addObject().put("type", "Replace");
        replaceSpace.putObject("pattern").put("String", " ");
        replaceSpace.put("content", SPACE_MARK);

        // No pre-tokenizer: llama2.c runs BPE over the whole text as one sequence, spaces included.
        root.putNull("pre_tokenizer");

        ObjectNode post = root.putObject("post_processor").put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        addSpecial(single, 0);
        addSequence(single, "A", 0);
        ArrayNode pair = post.putArray("pair");
        addSpecial(pair, 0);
        addSequence(pair, "A", 0);
        addSpecial(pair, 1);
        addSequence(pair, "B", 1);
        ObjectNode bos = post.putObject("special_tokens").putObject(SPECIAL_NAMES[BOS_ID]);
        bos.put("id", SPECIAL_NAMES[BOS_ID]);
        bos.putArray("ids").add(BOS_ID);
        bos.putArray("tokens").add(SPECIAL_NAMES[BOS_ID]);

        ObjectNode decoder = root.putObject("decoder").put("type", "Sequence");
        ArrayNode decoders = decoder.putArray("decoders");
        ObjectNode replaceMark = decoders.addObject().put("type", "Replace");
        replaceMark.putObject("pattern").put("String", SPACE_MARK);
        replaceMark.put("content", " ");
        decoders.addObject().put("type", "ByteFallback");
        decoders.addObject().put("type", "Fuse");
        // Fuse runs first, so Strip removes one leading space of the whole text: the dummy prefix.
        decoders.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);

        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", SPECIAL_NAMES[0]);
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < names.length; id++) {
            vocab.put(names[id], id);
        }
        ArrayNode merges = model.putArray("merges");
        for (Merge m : merges(vocabulary)) {
            // Pieces hold no plain space (it became "▁"), so "left right" is unambiguous.
            merges.add(names[m.left()] + " " + names[m.right()]);
        }
        return root;
    }

    /**
     * The merges llama2.c can perform, in the rank order that reproduces its choices: by the merged piece's
     * score, highest first; splits of one piece by the left part's score, then the right part's, highest
     * first; remaining ties by id.
     *
     * @param vocabulary the llama2.c vocabulary
     * @return every pair of tokens whose concatenated bytes are a token whose score llama2.c can select
     */
    static List<Merge> merges(Llama2cVocabulary vocabulary) {
        int v = vocabulary.size();
        Map<String, Integer> idOfPiece = new HashMap<>();
        String[] pieces = new String[v];
        for (int id = 0; id < v; id++) {
            // ISO-8859-1 maps bytes to chars one to one, so splits follow llama2.c's byte concatenation.
            pieces[id] = new String(vocabulary.pieceBytes(id), StandardCharsets.ISO_8859_1);
            idOfPiece.putIfAbsent(pieces[id], id);
        }
        List<Merge> merges = new ArrayList<>();
        for (int result = 0; result < v; result++) {
            float score = vocabulary.score(result);
            if (!(score > LLAMA2C_SCORE_FLOOR)) {
                continue;
            }
            String piece = pieces[result];
            for (int k = 1; k < piece.length(); k++) {
                Integer left = idOfPiece.get(piece.substring(0, k));
                Integer right = idOfPiece.get(piece.substring(k));
                if (left != null && right != null) {
                    merges.add(new Merge(left, right, result));
                }
            }
        }
        // "+ 0f" turns -0.0 into 0.0: llama2.c compares with '>', for which they are equal.
        Comparator<Merge> byResult = Comparator.comparingDouble(m -> -(vocabulary.score(m.result()) + 0f));
        merges.sort(byResult
                .thenComparingInt(Merge::result)
                .thenComparingDouble(m -> -(vocabulary.score(m.left()) + 0f))
                .thenComparingDouble(m -> -(vocabulary.score(m.right()) + 0f))
                .thenComparingInt(Merge::left));
        return merges;
    }

    /** The Hugging Face piece of every id: specials renamed, " " written as "▁", all checked unique. */
    private static String[] hfPieces(Llama2cVocabulary vocabulary) {
        int v = vocabulary.size();
        Path file = vocabulary.source();
        if (v < FIRST_BYTE_ID + 256) {
            throw new TokenizerException("llama2.c tokenizer " + file + " has " + v
                    + " tokens; a Llama vocabulary needs at least 259 (3 special + 256 byte tokens)");
        }
        String[] names = new String[v];
        Map<String, Integer> seen = new HashMap<>();
        for (int id = 0; id < v; id++) {
            String name;
            if (id < SPECIAL_NAMES.length) {
                name = SPECIAL_NAMES[id];
            } else {
                String piece = strictUtf8(vocabulary, id);
                if (id < FIRST_BYTE_ID + 256) {
                    String expected = String.format(Locale.ROOT, "<0x%02X>", id - FIRST_BYTE_ID);
                    if (!piece.equals(expected)) {
                        throw new TokenizerException("llama2.c tokenizer " + file + ": token " + id + " is '" + piece
                                + "', expected the byte-fallback token " + expected);
                    }
                }
                if (piece.contains(SPACE_MARK)) {
                    throw new TokenizerException("llama2.c tokenizer " + file + ": token " + id + " '" + piece
                            + "' contains U+2581, which the conversion reserves for the space");
                }
                name = piece.replace(" ", SPACE_MARK);
            }
            Integer previous = seen.putIfAbsent(name, id);
            if (previous != null) {
                throw new TokenizerException("llama2.c tokenizer " + file + ": tokens " + previous + " and " + id
                        + " both become the piece '" + name + "' in tokenizer.json");
            }
            names[id] = name;
        }
        return names;
    }

    private static String strictUtf8(Llama2cVocabulary vocabulary, int id) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(vocabulary.pieceBytes(id)))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new TokenizerException("llama2.c tokenizer " + vocabulary.source() + ": token " + id
                    + " is not valid UTF-8", e);
        }
    }

    private static void addSpecial(ArrayNode template, int typeId) {
        template.addObject().putObject("SpecialToken").put("id", SPECIAL_NAMES[BOS_ID]).put("type_id", typeId);
    }

    private static void addSequence(ArrayNode template, String sequence, int typeId) {
        template.addObject().putObject("Sequence").put("id", sequence).put("type_id", typeId);
    }
}
