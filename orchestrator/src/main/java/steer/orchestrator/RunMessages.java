package steer.orchestrator;

import java.util.List;
import steer.align.IterationRecord;
import steer.align.RunRecord;
import steer.align.RunSettings;
import steer.align.SamplingSettings;
import steer.align.SsoTriple;
import steer.proto.v1.IterationResult;
import steer.proto.v1.ObjectiveSpec;
import steer.proto.v1.PairBatch;
import steer.proto.v1.Run;
import steer.proto.v1.RunConfig;
import steer.proto.v1.RunState;
import steer.proto.v1.SamplingParams;
import steer.proto.v1.SsoExample;

/** Conversions between the orchestrator's protobuf messages and the library's run records. */
final class RunMessages {

    private RunMessages() {
    }

    /**
     * The settings a RunConfig asks for, defaults filled in.
     *
     * @param runId the run id to use (the config's, or a generated one when it is empty)
     * @throws steer.align.InvalidSettingException naming the field out of range
     */
    static RunSettings settings(RunConfig c, String runId) {
        SamplingParams p = c.getSampling();
        SamplingSettings sampling = new SamplingSettings(p.getMaxNewTokens(),
                p.hasTemperature() ? (double) p.getTemperature() : null, p.hasTopP() ? (double) p.getTopP() : null,
                p.getTopK(), p.getStopList());
        return new RunSettings(runId, c.getAlgorithm(), c.getIterations(), c.getSeed(), c.getWorldSeed(),
                c.getPromptsPerIteration(), c.getBatchSize(), c.getLearningRate(), c.getEpochs(), sampling,
                c.getObjectiveParamsMap(), c.getFeatureAllocation(), c.getEvalQueries(), c.getSkipEvaluation());
    }

    /** The settings as a RunConfig with every default spelled out. */
    static RunConfig config(RunSettings s) {
        SamplingSettings p = s.sampling();
        return RunConfig.newBuilder().setRunId(s.runId()).setAlgorithm(s.algorithm()).setIterations(s.iterations())
                .setSeed(s.seed()).setWorldSeed(s.worldSeed()).setPromptsPerIteration(s.promptsPerIteration())
                .setBatchSize(s.batchSize()).setLearningRate(s.learningRate()).setEpochs(s.epochs())
                .setSampling(SamplingParams.newBuilder().setMaxNewTokens(p.maxNewTokens())
                        .setTemperature(p.temperature().floatValue()).setTopP(p.topP().floatValue()).setTopK(p.topK())
                        .addAllStop(p.stop()))
                .putAllObjectiveParams(s.objectiveParams()).setFeatureAllocation(s.featureAllocation())
                .setEvalQueries(s.evalQueries()).setSkipEvaluation(s.skipEvaluation()).build();
    }

    /** A run's state as the API shows it. */
    static Run run(RunRecord r) {
        Run.Builder b = Run.newBuilder().setRunId(r.runId()).setConfig(config(r.settings())).setState(state(r))
                .setCompletedIterations(r.completedIterations()).putAllBaselineMetrics(r.baselineMetrics())
                .setError(r.error());
        for (IterationRecord it : r.iterations()) {
            b.addIterations(IterationResult.newBuilder().setIteration(it.iteration())
                    .setPolicyVersion(it.policyVersion()).setCheckpointVersion(it.checkpointVersion())
                    .setExamples(it.exampleCount()).setDroppedDegenerate(it.dropped()).setBatches(it.batches())
                    .putAllTrainMetrics(it.trainMetrics()).putAllEvalMetrics(it.evalMetrics())
                    .setSeconds(it.seconds()));
        }
        return b.build();
    }

    private static RunState state(RunRecord r) {
        return switch (r.status()) {
            case RUNNING -> RunState.RUN_STATE_RUNNING;
            case SUCCEEDED -> RunState.RUN_STATE_SUCCEEDED;
            case FAILED -> RunState.RUN_STATE_FAILED;
            case STOPPED -> RunState.RUN_STATE_STOPPED;
        };
    }

    /** One planned batch as the record the trainer consumes. */
    static PairBatch pairBatch(RunSettings s, int iteration, long policyVersion, String batchId, int index,
                               int batchesInIteration, List<SsoTriple> examples) {
        PairBatch.Builder b = PairBatch.newBuilder().setSchemaVersion(1).setRunId(s.runId()).setIteration(iteration)
                .setBatchId(batchId).setPolicyVersion(policyVersion)
                .setObjective(ObjectiveSpec.newBuilder().setName(s.objectiveName()).putAllParams(s.objectiveParams()))
                .setBatchIndex(index).setBatchesInIteration(batchesInIteration).setLearningRate(s.learningRate())
                .setTotalSteps(s.plannedTotalSteps());
        for (SsoTriple t : examples) {
            b.addSsoExamples(SsoExample.newBuilder().setPrompt(t.prompt()).setPromptPlus(t.promptPlus())
                    .setPromptMinus(t.promptMinus()).setYPlus(t.yPlus()).setYMinus(t.yMinus()).setYOrig(t.yOrig())
                    .setFeature(t.feature()));
        }
        return b.build();
    }
}
