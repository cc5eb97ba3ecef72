package steer.data;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

import steer.checkpoint.DecoderConfig;
import steer.data.DataFormatException.Problem;
import steer.tokenizer.Tokenizer;

/**
 * Reads a training-data file (JSONL: one JSON object per line, UTF-8, blank lines skipped) of one
 * {@link RecordKind} into token-id examples.
 *
 * <p>Every line is checked before anything is returned, so a command stops before training instead of
 * training on part of a file. A {@link DataFormatException} then lists every problem with its file and line:
 * a line that is not valid UTF-8 or JSON or not an object; a missing field; a field of the wrong type; an empty
 * or whitespace-only prompt or response; a strength that is not a number in [0, 1]; and a sequence longer than
 * the model accepts. Fields the kind does not name are ignored, so records may carry provenance.
 *
 * <p>Tokenization: each prompt is encoded with {@link Tokenizer#encode} (BOS first). Each response is encoded
 * on its own with {@link Tokenizer#encodeWithoutSpecialTokens} and EOS is appended, so the model learns to
 * stop; the trainer appends these ids to the prompt's ids. The ids at the joint may therefore differ from
 * encoding prompt and response as one text (a Llama tokenizer, for one, starts the response with its own
 * word-initial space), which matches how a response generated after the prompt is tokenized.
 *
 * <p>The length check applies to every (prompt, response) sequence the example asks the model to score (see
 * {@link TrainingExample#sequences()}): prompt ids plus response ids including EOS must not exceed the limit,
 * normally the model's {@code max_position_embeddings}.
 *
 * <p>The reader does not own the tokenizer; its caller closes it. It is safe to use from several threads as
 * far as the tokenizer is.
 */
public final class TrainingDataReader {

    /** Rejects duplicate keys and a second value on a line, which lenient parsing would silently accept. */
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final Tokenizer tokenizer;
    private final int eosTokenId;
    private final int maxSequenceLength;

    /**
     * Creates a reader.
     *
     * @param tokenizer         the model's tokenizer, still owned by the caller
     * @param eosTokenId        the id appended to every response, in {@code [0, tokenizer.vocabSize())}
     * @param maxSequenceLength the longest prompt-plus-response sequence allowed, in tokens; at least 2
     * @throws IllegalArgumentException if an argument is out of range
     */
    public TrainingDataReader(Tokenizer tokenizer, int eosTokenId, int maxSequenceLength) {
        if (eosTokenId < 0 || eosTokenId >= tokenizer.vocabSize()) {
            throw new IllegalArgumentException("eos token id " + eosTokenId + " is outside the vocabulary of "
                    + tokenizer.vocabSize() + " of " + tokenizer.file());
        }
        if (maxSequenceLength < 2) {
            throw new IllegalArgumentException("max sequence length must be at least 2 (BOS and EOS), got "
                    + maxSequenceLength);
        }
        this.tokenizer = tokenizer;
        this.eosTokenId = eosTokenId;
        this.maxSequenceLength = maxSequenceLength;
    }

    /**
     * Creates a reader for a model: EOS from {@code eos_token_id}, the length limit from
     * {@code max_position_embeddings}.
     *
     * @param tokenizer the model's tokenizer, still owned by the caller
     * @param config    the model's configuration
     * @return the reader
     */
    public static TrainingDataReader forModel(Tokenizer tokenizer, DecoderConfig config) {
        return new TrainingDataReader(tokenizer, config.eosTokenId(), config.maxPositionEmbeddings());
    }

    /**
     * Reads and checks a whole file.
     *
     * @param file a JSONL file of {@code kind} records
     * @param kind the record kind every line must have
     * @return one example per non-blank line, in file order; {@link Demonstration}s, {@link PreferencePair}s or
     *         {@link SsoExample}s as the kind says; unmodifiable and never empty
     * @throws DataFormatException if the file is missing, unreadable or holds no records, or any line has a
     *                             problem; nothing is returned then
     */
    public List<TrainingExample> read(Path file, RecordKind kind) {
        byte[] bytes = readBytes(file);
        List<Problem> problems = new ArrayList<>();
        List<TrainingExample> examples = new ArrayList<>();
        boolean sawRecord = false;
        int lineNumber = 1;
        for (int start = 0; start < bytes.length; lineNumber++) {
            int end = start;
            while (end < bytes.length && bytes[end] != '\n') {
                end++;
            }
            String line = decode(bytes, start, end, lineNumber == 1);
            start = end + 1;
            if (line != null && line.isBlank()) {
                continue;
            }
            sawRecord = true;
            List<String> wrong = new ArrayList<>();
            TrainingExample example = null;
            if (line == null) {
                wrong.add("not valid UTF-8");
            } else {
                example = parse(line, kind, wrong);
            }
            for (String description : wrong) {
                problems.add(new Problem(file, lineNumber, description));
            }
            if (example != null) {
                examples.add(example);
            }
        }
        if (!sawRecord) {
            problems.add(new Problem(file, 0, "no records (the file is empty or has only blank lines)"));
        }
        if (!problems.isEmpty()) {
            throw new DataFormatException(problems);
        }
        return List.copyOf(examples);
    }

    /**
     * Reads a file of {@link RecordKind#SFT} records.
     *
     * @param file a JSONL file
     * @return the demonstrations, as {@link #read} returns them
     * @throws DataFormatException as {@link #read} does
     */
    public List<Demonstration> readDemonstrations(Path file) {
        return cast(read(file, RecordKind.SFT));
    }

    /**
     * Reads a file of preference pairs.
     *
     * @param file            a JSONL file
     * @param requireStrength true to read {@link RecordKind#SPCE_PAIRS} (every line needs a strength), false
     *                        to read {@link RecordKind#PAIRS} (strength NaN, any strength field ignored)
     * @return the pairs, as {@link #read} returns them
     * @throws DataFormatException as {@link #read} does
     */
    public List<PreferencePair> readPairs(Path file, boolean requireStrength) {
        return cast(read(file, requireStrength ? RecordKind.SPCE_PAIRS : RecordKind.PAIRS));
    }

    /**
     * Reads a file of {@link RecordKind#SSO} records.
     *
     * @param file a JSONL file
     * @return the SSO examples, as {@link #read} returns them
     * @throws DataFormatException as {@link #read} does
     */
    public List<SsoExample> readSsoExamples(Path file) {
        return cast(read(file, RecordKind.SSO));
    }

    /** Parses one non-blank line; adds what is wrong with it to {@code wrong} and then returns null. */
    private TrainingExample parse(String line, RecordKind kind, List<String> wrong) {
        JsonNode record;
        try {
            record = MAPPER.readTree(line);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            wrong.add("not valid JSON" + (at == null ? "" : " at column " + at.getColumnNr()) + ": "
                    + e.getOriginalMessage());
            return null;
        }
        if (!record.isObject()) {
            wrong.add("not a JSON object but " + describe(record));
            return null;
        }
        String[] prompts = texts(record, kind.promptFields(), wrong);
        String[] responses = texts(record, kind.responseFields(), wrong);
        double strength = kind.hasStrength() ? strength(record, wrong) : Double.NaN;
        if (!wrong.isEmpty()) {
            return null;
        }
        int[][] promptIds = Arrays.stream(prompts).map(tokenizer::encode).toArray(int[][]::new);
        int[][] responseIds = Arrays.stream(responses).map(this::encodeResponse).toArray(int[][]::new);
        TrainingExample example = kind.example(promptIds, responseIds, strength);
        int[][] longest = example.sequences().stream().max(Comparator.comparingInt(TrainingDataReader::length))
                .orElseThrow();
        int length = length(longest);
        if (length > maxSequenceLength) {
            wrong.add(fieldOf(longest[0], promptIds, kind.promptFields()) + " + "
                    + fieldOf(longest[1], responseIds, kind.responseFields()) + " is " + length + " tokens ("
                    + longest[0].length + " + " + longest[1].length + " with EOS), longer than the limit of "
                    + maxSequenceLength);
            return null;
        }
        return example;
    }

    private static int length(int[][] sequence) {
        return sequence[0].length + sequence[1].length;
    }

    private int[] encodeResponse(String text) {
        int[] ids = tokenizer.encodeWithoutSpecialTokens(text);
        int[] withEos = Arrays.copyOf(ids, ids.length + 1);
        withEos[ids.length] = eosTokenId;
        return withEos;
    }

    /** The non-blank string values of {@code fields}; a slot is null where {@code wrong} says why. */
    private static String[] texts(JsonNode record, List<String> fields, List<String> wrong) {
        String[] texts = new String[fields.size()];
        for (int i = 0; i < texts.length; i++) {
            String field = fields.get(i);
            JsonNode value = record.get(field);
            if (value == null) {
                wrong.add("missing field \"" + field + "\"");
            } else if (!value.isTextual()) {
                wrong.add("field \"" + field + "\" must be a string, got " + describe(value));
            } else if (value.textValue().isBlank()) {
                wrong.add("field \"" + field + "\" is empty or only whitespace");
            } else {
                texts[i] = value.textValue();
            }
        }
        return texts;
    }

    private static double strength(JsonNode record, List<String> wrong) {
        String field = RecordKind.STRENGTH_FIELD;
        JsonNode value = record.get(field);
        if (value == null) {
            wrong.add("missing field \"" + field + "\"");
            return Double.NaN;
        }
        if (!value.isNumber()) {
            wrong.add("field \"" + field + "\" must be a number, got " + describe(value));
            return Double.NaN;
        }
        double strength = value.asDouble();
        if (!(strength >= 0 && strength <= 1)) {
            wrong.add("field \"" + field + "\" must be a finite number in [0, 1], got " + value);
        }
        return strength;
    }

    /** The field whose ids are this very array; sequences() shares the arrays it was built from. */
    private static String fieldOf(int[] ids, int[][] fieldIds, List<String> fields) {
        for (int i = 0; i < fieldIds.length; i++) {
            if (fieldIds[i] == ids) {
                return fields.get(i);
            }
        }
        throw new IllegalStateException("sequence not built from this record's fields");
    }

    private static String describe(JsonNode value) {
        String text = value.toString();
        return value.getNodeType().name().toLowerCase(Locale.ROOT) + " "
                + (text.length() > 40 ? text.substring(0, 40) + "..." : text);
    }

    private static byte[] readBytes(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new DataFormatException(List.of(new Problem(file, 0, "file not found")));
        } catch (IOException e) {
            throw new DataFormatException(List.of(new Problem(file, 0, "could not read: " + e)));
        }
    }

    /** One line without its CR (Windows line ends) or, on the first line, a byte-order mark; null if not UTF-8. */
    private static String decode(byte[] bytes, int start, int end, boolean first) {
        String line;
        try {
            line = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes, start, end - start)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
        if (line.endsWith("\r")) {
            line = line.substring(0, line.length() - 1);
        }
        return first && line.startsWith("\uFEFF") ? line.substring(1) : line;
    }

    // Safe: read(file, kind) builds only the example type that kind names (RecordKind.example).
    @SuppressWarnings("unchecked")
    private static <T extends TrainingExample> List<T> cast(List<TrainingExample> examples) {
        return (List<T>) (List<?>) examples;
    }
}
