package steer.checkpoint;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

/** Writes a file so that its final name only ever holds a complete file. */
final class AtomicFiles {

    /** Writes the body of a file into an open channel. */
    interface Body {
        void writeTo(FileChannel channel) throws IOException;
    }

    private AtomicFiles() {
    }

    /**
     * Writes {@code target} through a temporary file in the same directory (so the rename cannot cross file
     * systems), forces it to disk, then renames it over the target. A crash leaves either the old file or
     * the new one under the final name, never half of one.
     */
    static void write(Path target, Body body) {
        Path target0 = target.toAbsolutePath();
        Path dir = target0.getParent();
        // Not Files.createTempFile: its owner-only permissions would end up on the final file.
        Path temp = dir.resolve("." + target0.getFileName() + "." + UUID.randomUUID() + ".tmp");
        try {
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                body.writeTo(channel);
                channel.force(true);
            }
            Files.move(temp, target0, StandardCopyOption.ATOMIC_MOVE);
            forceDirectory(dir);
        } catch (IOException e) {
            throw new CheckpointException(target, "could not write: " + e, e);
        } finally {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException e) {
                // The write itself already succeeded or failed; a leftover temp file is harmless.
            }
        }
    }

    /** Makes the rename itself durable; some platforms cannot open a directory, and then we skip it. */
    private static void forceDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            // Best effort only (not supported on Windows).
        }
    }
}
