package steer.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * The tokenizer of a model directory: a Hugging Face {@code tokenizer.json} run by DJL's
 * {@link HuggingFaceTokenizer}. This is the type the rest of Steer encodes and decodes with.
 *
 * <p>Truncation and padding are switched off at load: DJL otherwise truncates every encoding to 512 tokens,
 * which would silently cut long prompts and responses. Ids are {@code int} because vocabularies fit in an
 * int and Steer's model code indexes embeddings with ints.
 *
 * <p>Thread safety: {@link #encode}, {@link #encodeWithoutSpecialTokens}, {@link #decode} and
 * {@link #tokenText} may be called from several threads at once. DJL's documentation makes no promise
 * either way; the guarantee rests on its implementation: each call passes the native handle to Hugging Face
 * tokenizers' {@code Tokenizer::encode}/{@code decode}, which take the tokenizer by shared reference (the
 * Rust type is {@code Sync}), and the only settings that mutate it (truncation, padding) are applied once,
 * in {@link #load}. {@link #close} must not race with those calls: it frees the native tokenizer.
 *
 * <p>The tokenizer holds native memory: close it (try-with-resources).
 */
public final class Tokenizer implements AutoCloseable {

    /** The file name the Hugging Face layout uses inside a model directory. */
    public static final String FILE_NAME = "tokenizer.json";

    private final HuggingFaceTokenizer hf;
    private final Path file;
    private final int vocabSize;
    // A plain token decoded before the one asked for in tokenText, so that decoders that strip the text's
    // leading space (Llama's Strip) leave that token's own space alone.
    private final long anchorId;
    private final String anchorText;
    private final ChatTemplate chatTemplate;

    private Tokenizer(HuggingFaceTokenizer hf, Path file, int vocabSize, ChatTemplate chatTemplate) {
        this.hf = hf;
        this.file = file;
        this.vocabSize = vocabSize;
        this.chatTemplate = chatTemplate;
        long[] anchor = hf.encode("a", false, false).getIds();
        this.anchorId = anchor.length == 0 ? -1 : anchor[anchor.length - 1];
        this.anchorText = anchorId < 0 ? "" : hf.decode(new long[] {anchorId}, true);
    }

    /**
     * Loads {@code modelDir/tokenizer.json} with truncation and padding off, and the chat template of
     * {@code modelDir/tokenizer_config.json} where there is one.
     *
     * @param modelDir a model directory in the Hugging Face layout
     * @return the tokenizer; the caller closes it
     * @throws TokenizerException naming the file if it is missing or unreadable, is not JSON, or is
     *                            rejected by the Hugging Face tokenizers library (its message included), or if
     *                            the chat template is malformed ({@link ChatTemplate#load})
     */
    public static Tokenizer load(Path modelDir) {
        ChatTemplate chat = ChatTemplate.load(modelDir).orElse(null);
        Path file = modelDir.resolve(FILE_NAME);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new TokenizerException("tokenizer file " + file + " does not exist", e);
        } catch (IOException e) {
            throw new TokenizerException("cannot read tokenizer file " + file + ": " + e.getMessage(), e);
        }
        int vocabSize = vocabSize(file, bytes);
        HuggingFaceTokenizer hf;
        try {
            // "false" maps to DJL's DO_NOT_TRUNCATE / DO_NOT_PAD, which also clears any truncation or padding
            // stored in the file.
            hf = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(bytes),
                    Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "true"));
        } catch (IOException | RuntimeException e) {
            throw new TokenizerException("Hugging Face tokenizers rejected " + file + ": " + e.getMessage(), e);
        }
        try {
            return new Tokenizer(hf, file, vocabSize, chat);
        } catch (RuntimeException e) {
            hf.close();
            throw new TokenizerException("tokenizer " + file + " cannot encode a test string: " + e.getMessage(), e);
        }
    }

    /**
     * Encodes text with the special tokens of the file's post-processor (for Llama: BOS first).
     *
     * @param text any text; the empty string gives just the special tokens
     * @return the token ids, never truncated
     */
    public int[] encode(String text) {
        return toInts(hf.encode(text, true, false).getIds());
    }

    /**
     * Encodes text without the post-processor's special tokens (no BOS), e.g. for a response appended to an
     * already encoded prompt. Normalization (Llama's dummy-prefix space) still applies.
     *
     * @param text any text
     * @return the token ids, never truncated
     */
    public int[] encodeWithoutSpecialTokens(String text) {
        return toInts(hf.encode(text, false, false).getIds());
    }

    /**
     * Decodes ids to text, skipping special tokens (BOS, EOS, …).
     *
     * @param ids token ids, each in {@code [0, vocabSize())}
     * @return the text; for Llama files the dummy-prefix space is stripped
     * @throws IllegalArgumentException if an id is outside the vocabulary
     */
    public String decode(int[] ids) {
        return hf.decode(toLongs(ids), true);
    }

    /**
     * The text one token adds when it follows other tokens, for streaming generated text token by token.
     * A word-initial token keeps its leading space (unlike {@code decode(new int[] {id})}, whose leading space
     * the Llama decoder strips); a special token gives "". A byte-fallback token that holds only part of a
     * multi-byte UTF-8 character gives U+FFFD: to stream such text exactly, decode the accumulated ids.
     *
     * @param id a token id in {@code [0, vocabSize())}
     * @return the token's text
     * @throws IllegalArgumentException if the id is outside the vocabulary
     */
    public String tokenText(int id) {
        checkId(id);
        if (anchorId < 0) {
            return hf.decode(new long[] {id}, true);
        }
        String text = hf.decode(new long[] {anchorId, id}, true);
        return text.startsWith(anchorText) ? text.substring(anchorText.length()) : hf.decode(new long[] {id}, true);
    }

    /**
     * The model's chat template.
     *
     * @return empty for a plain-text model (no {@code chat_template} in {@code tokenizer_config.json})
     */
    public Optional<ChatTemplate> chatTemplate() {
        return Optional.ofNullable(chatTemplate);
    }

    /**
     * The number of token ids: one more than the largest id of the model's vocabulary and added tokens.
     *
     * @return the vocabulary size (V), which the model's embedding must match
     */
    public int vocabSize() {
        return vocabSize;
    }

    /**
     * The {@code tokenizer.json} this tokenizer was loaded from.
     *
     * @return {@code modelDir/tokenizer.json}
     */
    public Path file() {
        return file;
    }

    /** Frees the native tokenizer; later calls fail. Safe to call twice. */
    @Override
    public void close() {
        hf.close();
    }

    private static int vocabSize(Path file, byte[] bytes) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(bytes);
        } catch (JacksonException e) {
            throw new TokenizerException("tokenizer file " + file + " is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new TokenizerException("cannot read tokenizer file " + file + ": " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new TokenizerException("tokenizer file " + file + " is not a JSON object");
        }
        JsonNode vocab = root.path("model").path("vocab");
        int size;
        if (vocab.isObject()) {
            int max = -1;
            for (JsonNode id : (Iterable<JsonNode>) vocab::elements) {
                max = Math.max(max, id.asInt(-1));
            }
            size = max + 1;
        } else if (vocab.isArray()) {
            // Unigram models list [piece, score] pairs in id order.
            size = vocab.size();
        } else {
            throw new TokenizerException("tokenizer file " + file + " has no model.vocab object or array");
        }
        for (JsonNode added : root.path("added_tokens")) {
            size = Math.max(size, added.path("id").asInt(-1) + 1);
        }
        return size;
    }

    private static int[] toInts(long[] ids) {
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    private long[] toLongs(int[] ids) {
        long[] out = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = checkId(ids[i]);
        }
        return out;
    }

    private int checkId(int id) {
        if (id < 0 || id >= vocabSize) {
            throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + vocabSize
                    + " of " + file);
        }
        return id;
    }
}
