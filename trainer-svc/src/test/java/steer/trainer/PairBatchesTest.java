package steer.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfConfigJson;
import steer.data.PreferencePair;
import steer.data.SsoExample;
import steer.model.GeneratedSequence;
import steer.model.LanguageModel;
import steer.model.ResponseLogProbs;
import steer.model.SamplingParams;
import steer.model.SequenceScorer;
import steer.model.TextCompletion;
import steer.proto.v1.ObjectiveSpec;
import steer.proto.v1.PairBatch;
import steer.proto.v1.SampledTokens;
import steer.store.CheckpointStore;
import steer.train.AdamWConfig;
import steer.train.ExampleEncoder;
import steer.train.OnlineTrainer;
import steer.world.TinyWorldModel;

/** Pair batches whose responses carry their sampled ids train on exactly those ids, on a real tiny model. */
class PairBatchesTest {

    private static final String PROMPT = "add 3 4 :";

    @TempDir
    static Path base;

    private static LanguageModel model;
    private static DecoderConfig config;
    private static ExampleEncoder encoder;
    /** A sample the length limit cut: 4 tokens, no EOS. */
    private static TextCompletion cut;

    @BeforeAll
    static void tinyModelAndOneCutSample() {
        TinyWorldModel.write(base, 7);
        model = LanguageModel.load(base);
        config = HfConfigJson.read(base.resolve(HfConfigJson.FILE_NAME));
        encoder = ExampleEncoder.forModel(model.tokenizer(), config);
        cut = model.complete(List.of(PROMPT), new SamplingParams(4, 1.0, 1.0, 0, 3), List.of()).get(0);
        assertEquals(GeneratedSequence.FinishReason.LENGTH, cut.finishReason(), "the fixture needs a cut sample");
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static SampledTokens tokens(int[] ids, String finishReason) {
        SampledTokens.Builder b = SampledTokens.newBuilder().setFinishReason(finishReason);
        Arrays.stream(ids).forEach(b::addTokenIds);
        return b.build();
    }

    private static PairBatch.Builder dpoBatch() {
        return PairBatch.newBuilder().setSchemaVersion(1).setRunId("run-ids").setBatchId("b0")
                .setObjective(ObjectiveSpec.newBuilder().setName("dpo")).setBatchesInIteration(1);
    }

    /** The EOS-ended response: "answer 7 ." then the model's EOS, as a sample that stopped on it holds them. */
    private static int[] endedOnEos() {
        int[] text = model.tokenizer().encodeWithoutSpecialTokens("answer 7 .");
        int[] ids = Arrays.copyOf(text, text.length + 1);
        ids[text.length] = config.eosTokenId();
        return ids;
    }

    @Test
    void aBatchWithSampledIdsTrainsOnExactlyThoseTokens(@TempDir Path root) {
        PairBatch record = dpoBatch().addPairs(steer.proto.v1.PreferencePair.newBuilder().setPrompt(PROMPT)
                .setChosen(cut.text()).setChosenTokens(tokens(cut.tokenIds(), "length"))
                .setRejected("answer 7 .").setRejectedTokens(tokens(endedOnEos(), "eos"))).build();
        OnlineTrainer.Batch batch = PairBatches.toBatch(record, encoder);
        PreferencePair pair = assertInstanceOf(PreferencePair.class, batch.examples().get(0));
        assertArrayEquals(cut.tokenIds(), pair.chosen(), "a length-cut response gets no EOS");
        assertArrayEquals(endedOnEos(), pair.rejected(), "an EOS-ended response keeps its one EOS");
        assertArrayEquals(model.tokenizer().encode(PROMPT), pair.prompt());

        // what the decoder gives those exact ids, before the step changes the weights
        int[] x = model.tokenizer().encode(PROMPT);
        List<ResponseLogProbs> exact = SequenceScorer.scoreToJava(model.decoder(),
                List.of(x, x), List.of(cut.tokenIds(), endedOnEos()));
        int[] cutWithEos = Arrays.copyOf(cut.tokenIds(), cut.tokenIds().length + 1);
        cutWithEos[cut.tokenIds().length] = config.eosTokenId();
        double withEos = SequenceScorer.scoreToJava(model.decoder(), List.of(x), List.of(cutWithEos)).get(0).sum();

        try (OnlineTrainer trainer = OnlineTrainer.open(new OnlineTrainer.Settings(base, root.resolve("state"),
                new CheckpointStore(root.resolve("store")), null, AdamWConfig.defaults(), 1.0, 8, 1))) {
            OnlineTrainer.Trained trained = assertInstanceOf(OnlineTrainer.Trained.class, trainer.train(batch));
            double logpChosen = trained.step().diagnostics().get("logp_chosen");
            double logpRejected = trained.step().diagnostics().get("logp_rejected");
            assertEquals(exact.get(0).sum(), logpChosen, 1e-4);
            assertEquals(exact.get(1).sum(), logpRejected, 1e-4);
            assertTrue(Math.abs(withEos - logpChosen) > 1e-3,
                    "scoring the cut sample with an EOS appended gives another number: " + withEos + " vs " + logpChosen);
            assertEquals(2L * x.length + cut.tokenIds().length + endedOnEos().length, trained.step().tokens(),
                    "the step's forward pass read the prompt twice and the sampled responses");
        }
    }

    @Test
    void aRecordWithoutIdsStillTrainsOnItsTextWithEos() {
        PairBatch record = dpoBatch().addSsoExamples(steer.proto.v1.SsoExample.newBuilder().setPrompt(PROMPT)
                .setPromptPlus("be correct . " + PROMPT).setPromptMinus("be wrong . " + PROMPT)
                .setYPlus("answer 7 .").setYMinus("answer 8 .").setYOrig(cut.text())
                .setYOrigTokens(tokens(cut.tokenIds(), "length"))).setObjective(ObjectiveSpec.newBuilder()
                .setName("sso")).build();
        SsoExample e = assertInstanceOf(SsoExample.class, PairBatches.toBatch(record, encoder).examples().get(0));
        assertArrayEquals(endedOnEos(), e.yPlus(), "text without ids: tokenised, EOS appended");
        assertArrayEquals(cut.tokenIds(), e.yOrig(), "the one response with ids keeps them");
    }

    @Test
    void idsOutsideTheVocabularyOrAFinishReasonTheIdsContradictAreRefusedByField() {
        int[] outside = cut.tokenIds().clone();
        outside[1] = config.vocabSize();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PairBatches.toBatch(
                dpoBatch().addPairs(steer.proto.v1.PreferencePair.newBuilder().setPrompt(PROMPT)
                        .setChosen("answer 7 .").setRejected(cut.text())
                        .setRejectedTokens(tokens(outside, "length"))).build(), encoder));
        assertEquals("pairs[0]: rejected_tokens.token_ids[1] is " + config.vocabSize()
                + ", outside the model's vocabulary of " + config.vocabSize() + " ids", e.getMessage());

        IllegalArgumentException noEos = assertThrows(IllegalArgumentException.class, () -> PairBatches.toBatch(
                dpoBatch().addSoftPairs(steer.proto.v1.SoftPreferencePair.newBuilder().setPrompt(PROMPT)
                        .setChosen(cut.text()).setChosenTokens(tokens(cut.tokenIds(), "eos"))
                        .setRejected("answer 8 .").setStrength(0.7)).build(), encoder));
        assertTrue(noEos.getMessage().startsWith("soft_pairs[0]: chosen_tokens: finish_reason eos, but its last id "),
                noEos.getMessage());
        IllegalArgumentException eosButCut = assertThrows(IllegalArgumentException.class, () -> PairBatches.toBatch(
                dpoBatch().addPairs(steer.proto.v1.PreferencePair.newBuilder().setPrompt(PROMPT)
                        .setChosen("answer 7 .").setChosenTokens(tokens(endedOnEos(), "length"))
                        .setRejected("answer 8 .")).build(), encoder));
        assertEquals("pairs[0]: chosen_tokens: finish_reason length, but its last id " + config.eosTokenId()
                + " is one of the model's EOS ids " + config.eosTokenIds(), eosButCut.getMessage());

        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> PairBatches.toBatch(
                dpoBatch().addPairs(steer.proto.v1.PreferencePair.newBuilder().setPrompt(PROMPT)
                        .setChosen(cut.text()).setChosenTokens(tokens(cut.tokenIds(), ""))
                        .setRejected("answer 8 .")).build(), encoder));
        assertEquals("pairs[0]: chosen_tokens.finish_reason must be one of [eos, stop, length], got ''",
                unknown.getMessage());
    }
}
