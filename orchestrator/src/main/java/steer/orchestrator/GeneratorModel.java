package steer.orchestrator;

import java.util.ArrayList;
import java.util.List;
import steer.align.SamplingSettings;
import steer.model.GeneratedSequence;
import steer.model.ResponseLogProbs;
import steer.model.Sampler;
import steer.model.SamplingParams;
import steer.model.TextCompletion;
import steer.tokenizer.Tokenizer;
import steer.world.EvaluatedModel;

/**
 * A model version the generators serve, as {@link steer.world.WorldEvaluation} asks it: the evaluation runs on the
 * generators, beside the run's sampling, instead of on a second copy of the model in this process.
 *
 * <p>Its reports equal those of the model loaded in process ({@link EvaluatedModel#of}): the request of queries
 * i .. i + 15 is seeded with the seed {@link Sampler#seedForStream} gives stream i, so query i + j draws what stream
 * i + j of the in-process batch draws (on a generator whose max-batch-size is at least 16, see
 * {@link PolicyClient#EVALUATION_CHUNK}), and prompts and responses are scored as the token ids sampled. The tokenizer (a small file, read here) is the SFT
 * model's, which every version of a run shares; it encodes the prompts as the generator encodes them (with BOS).
 */
final class GeneratorModel implements EvaluatedModel {

    private final PolicyClient generators;
    private final String name;
    private final long version;
    private final Tokenizer tokenizer;

    /**
     * @param name    the served name
     * @param version the version every answer must come from
     */
    GeneratorModel(PolicyClient generators, String name, long version, Tokenizer tokenizer) {
        this.generators = generators;
        this.name = name;
        this.version = version;
        this.tokenizer = tokenizer;
    }

    @Override
    public List<TextCompletion> complete(List<String> prompts, SamplingParams params) {
        SamplingSettings sampling = new SamplingSettings(params.maxNewTokens(), params.temperature(), params.topP(),
                params.topK(), List.of());
        List<PolicyClient.Sampled> samples = generators.sampleEach(name, prompts, sampling,
                i -> Sampler.seedForStream(params.seed(), i), version);
        List<TextCompletion> out = new ArrayList<>(prompts.size());
        for (int i = 0; i < prompts.size(); i++) {
            PolicyClient.Sampled s = samples.get(i);
            out.add(new TextCompletion(s.text(), tokenizer.encode(prompts.get(i)), s.tokens().ids(), new float[0],
                    GeneratedSequence.FinishReason.fromWireName(s.tokens().finishReason())));
        }
        return out;
    }

    @Override
    public List<ResponseLogProbs> score(List<int[]> prompts, List<int[]> responses) {
        return generators.scoreTokens(name, prompts, responses, version);
    }

    /**
     * From the log-probs of {@code a} and {@code b} as the next token, one forward pass per prompt: they differ from
     * the logits by the same constant, so the softmax over the two is the same.
     */
    @Override
    public double[] pFirst(List<int[]> prompts, int a, int b) {
        List<float[]> lp = generators.nextTokenLogProbs(name, prompts, new int[] {a, b}, version);
        double[] out = new double[prompts.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = steer.judge.PairwiseJudge.pFirst(lp.get(i)[0], lp.get(i)[1]);
        }
        return out;
    }

    @Override
    public Tokenizer tokenizer() {
        return tokenizer;
    }
}
