package steer.orchestrator;

import java.util.List;
import steer.align.IterationRecord;
import steer.align.RunRecord;
import steer.align.RunSettings;
import steer.align.SamplingSettings;
import steer.align.JudgedPair;
import steer.align.ResponseTokens;
import steer.align.RoundExample;
import steer.align.SsoTriple;
import steer.method.AlignmentMethod;
import steer.method.MethodSettings;
import steer.method.OspMethod;
import steer.method.SelfRewardingMethod;
import steer.method.SsoMethod;
import steer.method.TsoMethod;
import steer.checkpoint.LoraConfig;
import steer.proto.v1.LoraSettings;
import steer.proto.v1.OspSettings;
import steer.proto.v1.PreferencePair;
import steer.proto.v1.SelfRewardingSettings;
import steer.proto.v1.SampledTokens;
import steer.proto.v1.SoftPreferencePair;
import steer.proto.v1.SsoSettings;
import steer.proto.v1.IterationResult;
import steer.proto.v1.ObjectiveSpec;
import steer.proto.v1.PairBatch;
import steer.proto.v1.Run;
import steer.proto.v1.RunConfig;
import steer.proto.v1.RunState;
import steer.proto.v1.SamplingParams;
import steer.proto.v1.SsoExample;
import steer.proto.v1.TsoSettings;

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
                c.getObjectiveParamsMap(), c.getFeatureAllocation(), c.getEvalQueries(), c.getSkipEvaluation(),
                c.getEvaluationSplit(), methodSettings(c), c.hasLora() ? RunSettings.lora(c.getLora().getRank(),
                c.getLora().getAlpha(), c.getLora().getTargetsList()) : null);
    }

    /** A run's LoRA settings as the records and the API spell them, every default filled in. */
    static LoraSettings loraSettings(LoraConfig lora) {
        LoraSettings.Builder b = LoraSettings.newBuilder().setRank(lora.rank()).setAlpha(lora.alpha());
        lora.orderedTargets().forEach(t -> b.addTargets(t.module()));
        return b.build();
    }

    /** The method settings the config's oneof holds, or null for none (the named method's preset). */
    private static MethodSettings methodSettings(RunConfig c) {
        return switch (c.getMethodSettingsCase()) {
            case SSO -> new SsoMethod.Settings(c.getSso().getNoWeight(), c.getSso().getNoSelfSteering(),
                    c.getSso().getFeatureAllocation());
            case OSP -> {
                OspSettings o = c.getOsp();
                yield new OspMethod.Settings(o.getSamplesPerPrompt(), o.getPromptsPerRound(),
                        o.getMaxPolicyStaleness(), o.getLoss(), o.getPairing(), o.getBeta(), o.getJudgeModel(),
                        o.getJudgeLocation());
            }
            case SELF_REWARDING -> {
                SelfRewardingSettings r = c.getSelfRewarding();
                yield new SelfRewardingMethod.Settings(r.getSamplesPerPrompt(), r.getPromptsPerRound(),
                        r.getMaxPolicyStaleness(), r.getBeta());
            }
            case TSO -> {
                TsoSettings t = c.getTso();
                yield new TsoMethod.Settings(t.getMiniBatches(), t.getEpochsPerMiniBatch(), t.getLoss(), t.getBeta(),
                        t.getPairs(), t.getSelfSamples(), t.getLargerModelsMap(), t.getSmallerModelsMap(),
                        t.getPositiveWeightsMap(), t.getNegativeWeightsMap(), t.getEvaluatorModel(),
                        t.getEvaluatorLocation());
            }
            case METHODSETTINGS_NOT_SET -> null;
        };
    }

    /** The method settings as the config's oneof, every default spelled out. */
    private static void putMethodSettings(RunConfig.Builder b, MethodSettings m) {
        if (m instanceof SsoMethod.Settings s) {
            b.setSso(SsoSettings.newBuilder().setNoWeight(s.noWeight()).setNoSelfSteering(s.noSelfSteering())
                    .setFeatureAllocation(s.featureAllocation()));
        } else if (m instanceof OspMethod.Settings o) {
            b.setOsp(OspSettings.newBuilder().setSamplesPerPrompt(o.samplesPerPrompt())
                    .setPromptsPerRound(o.promptsPerRound()).setMaxPolicyStaleness(o.maxPolicyStaleness())
                    .setLoss(o.loss()).setPairing(o.pairing())
                    .setBeta(o.beta() > 0 ? o.beta() : OspMethod.defaultBeta(o.loss())).setJudgeModel(o.judgeModel())
                    .setJudgeLocation(o.judgeLocation()));
        } else if (m instanceof SelfRewardingMethod.Settings r) {
            b.setSelfRewarding(SelfRewardingSettings.newBuilder().setSamplesPerPrompt(r.samplesPerPrompt())
                    .setPromptsPerRound(r.promptsPerRound()).setMaxPolicyStaleness(r.maxPolicyStaleness())
                    .setBeta(r.beta() > 0 ? r.beta() : OspMethod.defaultBeta("dpo")));
        } else if (m instanceof TsoMethod.Settings t) {
            b.setTso(TsoSettings.newBuilder().setMiniBatches(t.miniBatches())
                    .setEpochsPerMiniBatch(t.epochsPerMiniBatch()).setLoss(t.loss())
                    .setBeta(t.beta() > 0 ? t.beta() : OspMethod.defaultBeta(t.loss())).setPairs(t.pairs())
                    .setSelfSamples(t.selfSamples()).putAllLargerModels(t.largerModels())
                    .putAllSmallerModels(t.smallerModels()).putAllPositiveWeights(t.positiveWeights())
                    .putAllNegativeWeights(t.negativeWeights()).setEvaluatorModel(t.evaluatorModel())
                    .setEvaluatorLocation(t.evaluatorLocation()));
        }
    }

    /** The settings as a RunConfig with every default spelled out. */
    static RunConfig config(RunSettings s) {
        SamplingSettings p = s.sampling();
        RunConfig.Builder b = RunConfig.newBuilder().setRunId(s.runId()).setAlgorithm(s.algorithm()).setIterations(s.iterations())
                .setSeed(s.seed()).setWorldSeed(s.worldSeed()).setPromptsPerIteration(s.promptsPerIteration())
                .setBatchSize(s.batchSize()).setLearningRate(s.learningRate()).setEpochs(s.epochs())
                .setSampling(SamplingParams.newBuilder().setMaxNewTokens(p.maxNewTokens())
                        .setTemperature(p.temperature().floatValue()).setTopP(p.topP().floatValue()).setTopK(p.topK())
                        .addAllStop(p.stop()))
                .putAllObjectiveParams(s.objectiveParams()).setFeatureAllocation(s.featureAllocation())
                .setEvalQueries(s.evalQueries()).setSkipEvaluation(s.skipEvaluation())
                .setEvaluationSplit(s.evaluationSplit());
        putMethodSettings(b, s.method());
        if (s.lora() != null) {
            b.setLora(loraSettings(s.lora()));
        }
        return b.build();
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
                    .setSeconds(it.seconds()).setSplit(it.facts().split())
                    .setSamplesDrawn(it.facts().samplesDrawn()).setJudgeComparisons(it.facts().judgeComparisons())
                    .setReferenceVersion(it.facts().referenceVersion()).setJudgeModel(it.facts().judgeModel())
                    .setJudgeModelVersion(it.facts().judgeModelVersion()).putAllPairSources(it.facts().pairSources()));
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

    /**
     * One planned batch as the record the trainer consumes.
     *
     * @param round            the round
     * @param policyVersion    the version that sampled it
     * @param referenceVersion the version its losses are measured against
     * @param staleness        the run's bound on how far policyVersion may lag when it trains
     */
    static PairBatch pairBatch(RunSettings s, int round, long policyVersion, long referenceVersion, int staleness,
                               String batchId, int index, int batchesInRound, List<RoundExample> examples) {
        AlignmentMethod.ObjectiveChoice objective = s.objective();
        PairBatch.Builder b = PairBatch.newBuilder();
        if (s.lora() != null) {
            b.setLora(loraSettings(s.lora()));
        }
        b.setSchemaVersion(1).setRunId(s.runId()).setIteration(round)
                .setBatchId(batchId).setPolicyVersion(policyVersion).setReferenceVersion(referenceVersion)
                .setMaxPolicyStaleness(staleness)
                .setObjective(ObjectiveSpec.newBuilder().setName(objective.name()).putAllParams(objective.params()))
                .setBatchIndex(index).setBatchesInIteration(batchesInRound).setLearningRate(s.learningRate())
                .setTotalSteps(s.plannedTotalSteps());
        for (RoundExample e : examples) {
            if (e instanceof SsoTriple t) {
                SsoExample.Builder x = SsoExample.newBuilder().setPrompt(t.prompt()).setPromptPlus(t.promptPlus())
                        .setPromptMinus(t.promptMinus()).setYPlus(t.yPlus()).setYMinus(t.yMinus()).setYOrig(t.yOrig())
                        .setFeature(t.feature());
                if (t.yPlusTokens() != null) {
                    x.setYPlusTokens(tokens(t.yPlusTokens()));
                }
                if (t.yMinusTokens() != null) {
                    x.setYMinusTokens(tokens(t.yMinusTokens()));
                }
                if (t.yOrigTokens() != null) {
                    x.setYOrigTokens(tokens(t.yOrigTokens()));
                }
                b.addSsoExamples(x);
            } else if (e instanceof JudgedPair p && p.strength() != null) {
                SoftPreferencePair.Builder x = SoftPreferencePair.newBuilder().setPrompt(p.prompt())
                        .setChosen(p.chosen()).setRejected(p.rejected()).setStrength(p.strength());
                if (p.chosenTokens() != null) {
                    x.setChosenTokens(tokens(p.chosenTokens()));
                }
                if (p.rejectedTokens() != null) {
                    x.setRejectedTokens(tokens(p.rejectedTokens()));
                }
                b.addSoftPairs(x);
            } else if (e instanceof JudgedPair p) {
                PreferencePair.Builder x = PreferencePair.newBuilder().setPrompt(p.prompt()).setChosen(p.chosen())
                        .setRejected(p.rejected()).setChosenSource(p.chosenSource())
                        .setRejectedSource(p.rejectedSource());
                if (p.chosenTokens() != null) {
                    x.setChosenTokens(tokens(p.chosenTokens()));
                }
                if (p.rejectedTokens() != null) {
                    x.setRejectedTokens(tokens(p.rejectedTokens()));
                }
                b.addPairs(x);
            }
        }
        return b.build();
    }

    private static SampledTokens tokens(ResponseTokens t) {
        SampledTokens.Builder b = SampledTokens.newBuilder().setFinishReason(t.finishReason());
        for (int id : t.ids()) {
            b.addTokenIds(id);
        }
        return b.build();
    }
}
