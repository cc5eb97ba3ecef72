package steer.orchestrator;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import steer.align.EvalMetrics;
import steer.tokenizer.Tokenizer;
import steer.world.Task;
import steer.world.WorldEvaluation;

/**
 * Evaluates a run's versions in the oracle world on the generators that serve them, not in this process: a version
 * is evaluated under the policy's name while the generators serve it (right after it is loaded, beside the next
 * round's sampling from it), so evaluating costs no model load and no memory here. Every evaluation of a run uses the
 * run's seed, so versions are compared on the same held-out queries and sampler seeds, and the figures equal those of
 * the model loaded in process ({@link GeneratorModel}).
 *
 * <p>The win rate compares with the SFT model's answers, which the baseline evaluation returns and the run's state
 * keeps ({@link steer.align.RunRecord#baselineAnswers}): a restarted orchestrator, whose generators serve a later
 * version by then, need not sample the SFT model again. A pinned judge other than the SFT model is measured through
 * the judge service that serves it for the rounds, so it is never loaded onto a generator.
 */
final class CheckpointEvaluator implements AutoCloseable {

    private final Path baseModel;
    private final PolicyClient generators;
    private final JudgeClient judges;
    private final String policyModel;
    private final Map<String, Double> judgeAccuracies = new HashMap<>();
    private Tokenizer tokenizer;

    /**
     * @param baseModel   the SFT model's directory (its tokenizer is read from there), or null if none is configured
     * @param policyModel the name the generators serve the policy under
     */
    CheckpointEvaluator(Path baseModel, PolicyClient generators, JudgeClient judges, String policyModel) {
        this.baseModel = baseModel;
        this.generators = generators;
        this.judges = judges;
        this.policyModel = policyModel;
    }

    /**
     * The SFT model's own figures (no win rate: against itself it would be 0.5 by construction) and its answers,
     * from version 0 of the policy, which the generators serve from the start.
     */
    WorldEvaluation.Evaluated evaluateBaseline(List<Task> queries, long seed) {
        Tokenizer t = tokenizer();
        generators.ensurePolicy(0, baseModel.toAbsolutePath().toString());
        return WorldEvaluation.evaluate(new GeneratorModel(generators, policyModel, 0, t), null, queries,
                WorldEvaluation.Settings.defaults(seed));
    }

    /**
     * A version's figures, with its win rate against the SFT model's answers; the generators are made to serve it as
     * the policy first (they do already, unless one restarted).
     *
     * @param location        the version's checkpoint directory (or adapter) in the checkpoint store
     * @param baselineAnswers the SFT model's answers to the same queries ({@link #evaluateBaseline})
     */
    Map<String, Double> evaluate(long version, String location, List<String> baselineAnswers, List<Task> queries,
                                 long seed) {
        Tokenizer t = tokenizer();
        generators.ensurePolicy(version, location);
        return EvalMetrics.of(WorldEvaluation.evaluate(new GeneratorModel(generators, policyModel, version, t),
                baselineAnswers, queries, WorldEvaluation.Settings.defaults(seed)).report());
    }

    /**
     * The SFT model's answers for a run whose state predates keeping them: sampled from version 0 under a name of
     * the run's own ({@code policy@<run>/v0}, as TSO's matrix serves earlier versions), since the policy's name
     * serves a later version by now.
     */
    List<String> sftAnswers(String runId, List<Task> queries, long seed) {
        Tokenizer t = tokenizer();
        String name = "policy@" + runId + "/v0";
        generators.ensureModel(name, 0, baseModel.toAbsolutePath().toString());
        return WorldEvaluation.evaluate(new GeneratorModel(generators, name, 0, t), null, queries,
                WorldEvaluation.Settings.defaults(seed)).answers();
    }

    /**
     * The judge accuracy of a pinned judge model other than the SFT model (an augmented judge) on the same
     * oracle-labelled pairs as every evaluation of the run, asked through the judge service that serves it for the
     * rounds; computed once per model and seed.
     */
    synchronized double judgeAccuracy(String model, List<Task> queries, long seed) {
        String key = model + "#" + seed + "#" + queries.size();
        Double known = judgeAccuracies.get(key);
        if (known != null) {
            return known;
        }
        double a = WorldEvaluation.judgeAccuracy((q, first, second) -> judges.compare(model, 0, q, first, second),
                queries, WorldEvaluation.Settings.defaults(seed));
        judgeAccuracies.put(key, a);
        return a;
    }

    private synchronized Tokenizer tokenizer() {
        if (tokenizer == null) {
            if (baseModel == null) {
                throw new RunFailure("evaluation needs the SFT model's tokenizer: set steer.orchestrator.base-model"
                        + " (or start the run with skip_evaluation)");
            }
            if (!Files.isRegularFile(baseModel.resolve(Tokenizer.FILE_NAME))) {
                throw new RunFailure("steer.orchestrator.base-model " + baseModel + " has no " + Tokenizer.FILE_NAME
                        + "; evaluation encodes its queries with the SFT model's tokenizer");
            }
            tokenizer = Tokenizer.load(baseModel);
        }
        return tokenizer;
    }

    @Override
    public synchronized void close() {
        if (tokenizer != null) {
            tokenizer.close();
            tokenizer = null;
        }
    }
}
