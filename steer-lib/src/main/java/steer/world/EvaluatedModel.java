package steer.world;

import java.util.ArrayList;
import java.util.List;
import steer.model.LanguageModel;
import steer.model.ResponseLogProbs;
import steer.model.SamplingParams;
import steer.model.SequenceScorer;
import steer.model.TextCompletion;
import steer.tokenizer.Tokenizer;

/**
 * What {@link WorldEvaluation} asks of a model: samples, log-probs and a judge's answer-token probabilities. A model
 * loaded in this process is one ({@link #of}); a model served by generator-svc is another, so a service can evaluate
 * a version it already serves instead of loading a second copy. Both must give the same figures for the same model.
 */
public interface EvaluatedModel {

    /**
     * One completion per prompt, each prompt encoded with BOS and no stop strings.
     *
     * @param params sampling; prompt i draws from stream i of {@code params.seed()}, as {@link LanguageModel#complete}
     *               does for a batch
     * @return one completion per prompt, in order, with the prompt's ids
     */
    List<TextCompletion> complete(List<String> prompts, SamplingParams params);

    /**
     * The log-probs of each response's ids after its prompt's ids; prompt tokens never count.
     *
     * @param prompts   token ids as given (BOS included where wanted)
     * @param responses one per prompt
     * @return one per pair, in order
     */
    List<ResponseLogProbs> score(List<int[]> prompts, List<int[]> responses);

    /**
     * For each prompt, softmax(ℓ_a, ℓ_b)[a] over the next-token logits of tokens {@code a} and {@code b}: a pairwise
     * judge's p(first answer).
     *
     * @param prompts token ids, at least one each
     * @return one probability per prompt, in order
     */
    double[] pFirst(List<int[]> prompts, int a, int b);

    /** The model's tokenizer, for its prompts and answer tokens. */
    Tokenizer tokenizer();

    /** A model in this process, read as it is (the caller keeps and closes it). */
    static EvaluatedModel of(LanguageModel model) {
        return new EvaluatedModel() {
            @Override
            public List<TextCompletion> complete(List<String> prompts, SamplingParams params) {
                return model.complete(prompts, params, List.of());
            }

            @Override
            public List<ResponseLogProbs> score(List<int[]> prompts, List<int[]> responses) {
                // 64 pairs a forward pass: a memory bound, and the figures WorldEvaluation has always reported
                List<ResponseLogProbs> out = new ArrayList<>(prompts.size());
                for (int from = 0; from < prompts.size(); from += 64) {
                    int to = Math.min(prompts.size(), from + 64);
                    out.addAll(SequenceScorer.scoreToJava(model.decoder(), prompts.subList(from, to),
                            responses.subList(from, to)));
                }
                return out;
            }

            @Override
            public double[] pFirst(List<int[]> prompts, int a, int b) {
                float[][] logits = SequenceScorer.nextTokenLogits(model.decoder(), prompts);
                double[] out = new double[prompts.size()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = steer.judge.PairwiseJudge.pFirst(logits[i][a], logits[i][b]);
                }
                return out;
            }

            @Override
            public Tokenizer tokenizer() {
                return model.tokenizer();
            }
        };
    }
}
