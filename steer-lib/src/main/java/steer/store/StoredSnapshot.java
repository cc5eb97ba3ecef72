package steer.store;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A snapshot of a run's policy taken on request ({@link CheckpointStore#writeSnapshot}): weights in the Hugging Face
 * layout, outside the run's version sequence and announced by no checkpoint event.
 *
 * @param runId          the run
 * @param iteration      the iteration of the run's last trained batch
 * @param step           optimizer steps taken when it was taken
 * @param basedOnVersion the run's newest version then (0: the base model)
 * @param createdUnixMs  when it was written, milliseconds since the epoch
 * @param location       its directory
 */
public record StoredSnapshot(String runId, int iteration, long step, long basedOnVersion, long createdUnixMs,
                             Path location) {

    public StoredSnapshot {
        Objects.requireNonNull(runId, "runId");
    }
}
