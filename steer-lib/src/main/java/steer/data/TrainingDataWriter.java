package steer.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Writes texts as a training-data file that {@link TrainingDataReader} reads: JSONL, UTF-8, one object per
 * line.
 */
public final class TrainingDataWriter {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private TrainingDataWriter() {
    }

    /**
     * Writes records, replacing the file. Each record is a map from field name to value: a string for each
     * prompt and response field of the kind, a number for the strength. The kind's fields come first in
     * {@link RecordKind#fields()} order, then any other entries (such as provenance) in the map's order.
     * Newlines inside texts are escaped, so every record stays on one line. The write is not atomic.
     *
     * @param file    the file to write; its directory must exist
     * @param kind    the record kind
     * @param records the records, in file order
     * @throws IllegalArgumentException naming the record's index and the field if a record lacks one of the
     *                                  kind's fields
     * @throws UncheckedIOException     if the file cannot be written
     */
    public static void write(Path file, RecordKind kind, List<? extends Map<String, ?>> records) {
        try (Writer out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (int i = 0; i < records.size(); i++) {
                Map<String, ?> record = records.get(i);
                ObjectNode line = MAPPER.createObjectNode();
                for (String field : kind.fields()) {
                    if (!record.containsKey(field)) {
                        throw new IllegalArgumentException("record " + i + " has no field \"" + field + "\"");
                    }
                    line.set(field, MAPPER.valueToTree(record.get(field)));
                }
                record.forEach((field, value) -> line.putIfAbsent(field, MAPPER.valueToTree(value)));
                out.write(MAPPER.writeValueAsString(line));
                out.write('\n');
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not write " + file + ": " + e.getMessage(), e);
        }
    }
}
