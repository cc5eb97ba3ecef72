package steer.store;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * What {@code checkpoint.json} records about one stored version, and where it lives.
 *
 * @param runId         the alignment run
 * @param version       the checkpoint version, ≥ 1 (version 0 is the base model, which the store never holds)
 * @param iteration     the iteration whose training produced it (0-based)
 * @param step          optimizer steps taken in the run when it was written
 * @param metrics       means over the iteration's steps (loss, diagnostics), by name
 * @param createdUnixMs when it was written, milliseconds since the epoch
 * @param location      its directory, in the Hugging Face layout
 */
public record StoredCheckpoint(String runId, long version, int iteration, long step, Map<String, Double> metrics,
                               long createdUnixMs, Path location) {

    public StoredCheckpoint {
        Objects.requireNonNull(runId, "runId");
        metrics = Map.copyOf(metrics);
    }
}
