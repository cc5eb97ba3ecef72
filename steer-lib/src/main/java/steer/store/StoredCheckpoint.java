package steer.store;

import java.nio.file.Path;
import java.util.List;
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
 * @param batchIds      the ids of the batches of its iteration, sorted (empty when the writer named none): with
 *                      the step and iteration, what a replayed step checks before it takes a stored version as the
 *                      one it wrote itself
 */
public record StoredCheckpoint(String runId, long version, int iteration, long step, Map<String, Double> metrics,
                               long createdUnixMs, Path location, List<String> batchIds) {

    public StoredCheckpoint {
        Objects.requireNonNull(runId, "runId");
        metrics = Map.copyOf(metrics);
        batchIds = List.copyOf(batchIds);
    }

    /**
     * Whether this version is what a step at {@code step} of {@code iteration}, over {@code batchIds}, writes. A
     * version written before batch ids were recorded (none here) is checked by step and iteration alone.
     */
    public boolean writtenBy(long step, int iteration, List<String> batchIds) {
        return this.step == step && this.iteration == iteration
                && (this.batchIds.isEmpty() || this.batchIds.equals(batchIds.stream().sorted().toList()));
    }
}
