package steer.align;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Run states as one JSON file per run, {@code <dir>/<run id>.json}. Every save writes a temporary file in the same
 * directory, forces it to disk and renames it over the old one, so a crash leaves the previous state or the new
 * one, never half a file; a restarted orchestrator therefore always reads a state it once saved.
 */
public final class RunStateStore {

    private static final String SUFFIX = ".json";

    // Unknown properties are ignored so that a newer orchestrator's additive fields do not break an older one.
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private final Path dir;

    /**
     * A store in a directory, created if missing.
     *
     * @param dir the directory
     * @throws UncheckedIOException if it cannot be created
     */
    public RunStateStore(Path dir) {
        this.dir = dir.toAbsolutePath();
        try {
            Files.createDirectories(this.dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the run state directory " + this.dir + ": " + e, e);
        }
    }

    /**
     * The store's directory.
     *
     * @return an absolute path
     */
    public Path dir() {
        return dir;
    }

    /**
     * The file of a run.
     *
     * @param runId a valid run id ({@link RunSettings})
     * @return {@code <dir>/<run id>.json}
     */
    public Path file(String runId) {
        return dir.resolve(runId + SUFFIX);
    }

    /**
     * Saves a run's state atomically.
     *
     * @param run the state
     * @throws UncheckedIOException if it cannot be written; the previous state is then still in place
     */
    public void save(RunRecord run) {
        Path target = file(run.runId());
        Path temp = dir.resolve("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
        try {
            byte[] bytes = MAPPER.writeValueAsBytes(run);
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer buffer = ByteBuffer.wrap(bytes);
                while (buffer.hasRemaining()) {
                    ch.write(buffer);
                }
                ch.force(true);
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
            forceDirectory();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save the state of run " + run.runId() + " to " + target + ": " + e, e);
        } finally {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException e) {
                // the save already succeeded or failed; a stray temporary file is harmless
            }
        }
    }

    /**
     * Reads a run's state.
     *
     * @param runId the run id
     * @return the state, or empty if the run was never saved
     * @throws UncheckedIOException naming the file if it exists but cannot be read or parsed
     */
    public Optional<RunRecord> load(String runId) {
        return read(file(runId));
    }

    /**
     * Every saved run, in file name order; leftover temporary files are ignored.
     *
     * @return the states
     * @throws UncheckedIOException naming a file that cannot be read or parsed
     */
    public List<RunRecord> list() {
        List<RunRecord> runs = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "[!.]*" + SUFFIX)) {
            List<Path> sorted = new ArrayList<>();
            files.forEach(sorted::add);
            sorted.sort(null);
            for (Path f : sorted) {
                read(f).ifPresent(runs::add);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list run states in " + dir + ": " + e, e);
        }
        return runs;
    }

    private static Optional<RunRecord> read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read run state " + file + ": " + e, e);
        }
        try {
            return Optional.of(MAPPER.readValue(bytes, RunRecord.class));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("run state " + file + " is not a valid run record: "
                    + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot parse run state " + file + ": " + e, e);
        }
    }

    /** Makes the rename durable; best effort where a directory cannot be opened. */
    private void forceDirectory() {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // not supported on every platform
        }
    }
}
