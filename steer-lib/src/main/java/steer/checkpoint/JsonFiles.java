package steer.checkpoint;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Strict JSON parsing for checkpoint files, with errors that name the file. */
final class JsonFiles {

    /** Rejects duplicate keys and trailing garbage, which lenient parsing would silently accept. */
    static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private JsonFiles() {
    }

    /** Reads a file whose top level must be a JSON object. */
    static ObjectNode readObject(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file, "file not found");
        } catch (IOException e) {
            throw new CheckpointException(file, "could not read: " + e, e);
        }
        return parseObject(bytes, file, "file");
    }

    /** Parses bytes whose top level must be a JSON object; {@code what} names them in errors. */
    static ObjectNode parseObject(byte[] bytes, Path file, String what) {
        JsonNode root;
        try {
            root = MAPPER.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new CheckpointException(file, what + " is not valid JSON: " + e.getOriginalMessage()
                    + " (at " + e.getLocation().offsetDescription() + ")", e);
        } catch (IOException e) {
            throw new CheckpointException(file, "could not parse " + what + ": " + e, e);
        }
        if (root == null || !root.isObject()) {
            String got = root == null || root.isMissingNode() ? "nothing" : root.getNodeType().toString().toLowerCase();
            throw new CheckpointException(file, what + " is not a JSON object (got " + got + ")");
        }
        return (ObjectNode) root;
    }

    /** A short rendering of a JSON value for error messages. */
    static String describe(JsonNode node) {
        String text = node.toString();
        return node.getNodeType().toString().toLowerCase() + " " + (text.length() > 60 ? text.substring(0, 60) + "..." : text);
    }
}
