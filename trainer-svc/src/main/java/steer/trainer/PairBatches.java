package steer.trainer;

import java.util.ArrayList;
import java.util.List;
import steer.checkpoint.LoraConfig;
import steer.data.TrainingExample;
import steer.objective.Objective;
import steer.objective.ObjectiveFactory;
import steer.proto.v1.LoraSettings;
import steer.proto.v1.PairBatch;
import steer.proto.v1.PreferencePair;
import steer.proto.v1.SampledTokens;
import steer.proto.v1.SoftPreferencePair;
import steer.proto.v1.SsoExample;
import steer.train.ExampleEncoder;
import steer.train.OnlineTrainer;

/**
 * Converts a {@code PairBatch} record into the library's batch: a response that carries its sampled tokens trains on
 * exactly those, one without (older producers, TSO's reference answers) is tokenised from its text with the model's
 * tokenizer.
 */
final class PairBatches {

    static final int SCHEMA_VERSION = 1;

    private PairBatches() {
    }

    /**
     * @throws IllegalArgumentException naming the field at fault: schema version, objective, examples
     */
    static OnlineTrainer.Batch toBatch(PairBatch b, ExampleEncoder encoder) {
        if (b.getSchemaVersion() != SCHEMA_VERSION) {
            throw new IllegalArgumentException("schema_version must be " + SCHEMA_VERSION + ", got "
                    + b.getSchemaVersion());
        }
        Objective<?> objective;
        try {
            objective = ObjectiveFactory.create(b.getObjective().getName(), b.getObjective().getParamsMap());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("objective: " + e.getMessage(), e);
        }
        int kinds = (b.getSsoExamplesCount() > 0 ? 1 : 0) + (b.getPairsCount() > 0 ? 1 : 0)
                + (b.getSoftPairsCount() > 0 ? 1 : 0);
        if (kinds != 1) {
            throw new IllegalArgumentException("a batch holds exactly one kind of example (sso_examples, pairs or"
                    + " soft_pairs); this one holds " + kinds);
        }
        List<TrainingExample> examples = new ArrayList<>();
        for (int i = 0; i < b.getSsoExamplesCount(); i++) {
            SsoExample e = b.getSsoExamples(i);
            examples.add(at("sso_examples", i, () -> encoder.sso(e.getPrompt(), e.getPromptPlus(), e.getPromptMinus(),
                    response(e.getYPlus(), e.hasYPlusTokens() ? e.getYPlusTokens() : null),
                    response(e.getYMinus(), e.hasYMinusTokens() ? e.getYMinusTokens() : null),
                    response(e.getYOrig(), e.hasYOrigTokens() ? e.getYOrigTokens() : null))));
        }
        for (int i = 0; i < b.getPairsCount(); i++) {
            PreferencePair p = b.getPairs(i);
            examples.add(at("pairs", i, () -> encoder.pair(p.getPrompt(),
                    response(p.getChosen(), p.hasChosenTokens() ? p.getChosenTokens() : null),
                    response(p.getRejected(), p.hasRejectedTokens() ? p.getRejectedTokens() : null), Double.NaN)));
        }
        for (int i = 0; i < b.getSoftPairsCount(); i++) {
            SoftPreferencePair p = b.getSoftPairs(i);
            examples.add(at("soft_pairs", i, () -> encoder.pair(p.getPrompt(),
                    response(p.getChosen(), p.hasChosenTokens() ? p.getChosenTokens() : null),
                    response(p.getRejected(), p.hasRejectedTokens() ? p.getRejectedTokens() : null),
                    p.getStrength())));
        }
        if (b.hasMaxPolicyStaleness() && b.getMaxPolicyStaleness() < 0) {
            throw new IllegalArgumentException("max_policy_staleness must be >= 0, got " + b.getMaxPolicyStaleness());
        }
        // absent reference: an older producer, whose reference was always the sampling version
        long reference = b.hasReferenceVersion() ? b.getReferenceVersion() : b.getPolicyVersion();
        OnlineTrainer.Batch batch = new OnlineTrainer.Batch(b.getRunId(), b.getIteration(), b.getBatchId(),
                b.getPolicyVersion(), objective, b.getBatchIndex(), b.getBatchesInIteration(), b.getLearningRate(),
                b.getTotalSteps(),
                examples, reference, b.hasMaxPolicyStaleness() ? b.getMaxPolicyStaleness() : -1);
        return b.hasLora() ? batch.withLora(lora(b.getLora())) : batch;
    }

    /** A response's text with its sampled tokens, or its text alone when {@code tokens} is null. */
    private static ExampleEncoder.Response response(String text, SampledTokens tokens) {
        if (tokens == null) {
            return ExampleEncoder.Response.text(text);
        }
        int[] ids = new int[tokens.getTokenIdsCount()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = tokens.getTokenIds(i);
        }
        return ExampleEncoder.Response.sampled(text, ids, tokens.getFinishReason());
    }

    private static TrainingExample at(String field, int index, java.util.function.Supplier<TrainingExample> encode) {
        try {
            return encode.get();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(field + "[" + index + "]: " + e.getMessage(), e);
        }
    }

    /** The run's LoRA settings, zero values taking PEFT's defaults (α 8, targets q and v). */
    private static LoraConfig lora(LoraSettings l) {
        try {
            return LoraConfig.fromSettings(l.getRank(), l.getAlpha(), l.getTargetsList());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("lora: " + e.getMessage(), e);
        }
    }
}
