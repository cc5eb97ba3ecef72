package steer.orchestrator;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import steer.align.EvalMetrics;
import java.util.HashMap;
import java.util.List;
import steer.checkpoint.LoraCheckpoint;
import steer.world.Task;
import steer.model.LanguageModel;
import steer.world.WorldEvaluation;

/**
 * Evaluates checkpoints in the oracle world, in this process: the checkpoint is read from its directory in the
 * checkpoint store (a shared volume with the trainer), the SFT baseline is loaded once and kept for the win rate.
 * Every evaluation of a run uses the run's seed, so iterations are compared on the same held-out queries and
 * sampler seeds. A checkpoint of a LoRA run is an adapter (PEFT's layout) for the SFT model: it is put onto the
 * baseline already in memory, sharing its weights, instead of loading a model.
 */
final class CheckpointEvaluator implements AutoCloseable {

    private final Path baseModel;
    private final Map<String, Double> judgeAccuracies = new HashMap<>();
    private LanguageModel baseline;

    /** @param baseModel the SFT model's directory, or null if none is configured */
    CheckpointEvaluator(Path baseModel) {
        this.baseModel = baseModel;
    }

    /** The SFT model's own figures (no win rate: against itself it would be 0.5 by construction). */
    Map<String, Double> evaluateBaseline(List<Task> queries, long seed) {
        return EvalMetrics.of(WorldEvaluation.evaluate(baseline(), null, queries,
                WorldEvaluation.Settings.defaults(seed)));
    }

    /**
     * The judge accuracy of a judge model other than the SFT model (a pinned, augmented judge), on the same
     * oracle-labelled pairs as every evaluation of the run; computed once per directory and seed.
     */
    synchronized double judgeAccuracy(String location, List<Task> queries, long seed) {
        String key = location + "#" + seed + "#" + queries.size();
        Double known = judgeAccuracies.get(key);
        if (known != null) {
            return known;
        }
        try (LanguageModel model = LanguageModel.load(Path.of(location))) {
            double a = WorldEvaluation.evaluate(model, null, queries, WorldEvaluation.Settings.defaults(seed))
                    .judgeAccuracy();
            judgeAccuracies.put(key, a);
            return a;
        }
    }

    /** A checkpoint's figures, with its win rate against the SFT model. */
    Map<String, Double> evaluate(String location, List<Task> queries, long seed) {
        Path dir = Path.of(location);
        if (!Files.isDirectory(dir)) {
            throw new RunFailure("checkpoint directory " + location + " is not readable from the orchestrator;"
                    + " it must share the trainer's checkpoint store");
        }
        try (LanguageModel model = LoraCheckpoint.isAdapter(dir) ? baseline().withAdapter(dir)
                : LanguageModel.load(dir)) {
            return EvalMetrics.of(WorldEvaluation.evaluate(model, baseline(), queries,
                    WorldEvaluation.Settings.defaults(seed)));
        }
    }

    private synchronized LanguageModel baseline() {
        if (baseline == null) {
            if (baseModel == null) {
                throw new RunFailure("evaluation needs the SFT model: set steer.orchestrator.base-model"
                        + " (or start the run with skip_evaluation)");
            }
            baseline = LanguageModel.load(baseModel);
        }
        return baseline;
    }

    @Override
    public synchronized void close() {
        if (baseline != null) {
            baseline.close();
            baseline = null;
        }
    }
}
