package steer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HostTensor;
import steer.checkpoint.LoraConfig;
import steer.data.Demonstration;
import steer.data.PreferencePair;
import steer.model.Decoder;
import steer.model.LoraAdapter;
import steer.model.Placement;
import steer.objective.Dpo;
import steer.objective.Sft;

/**
 * Measures training throughput as model-FLOPs utilisation: the FLOPs a step must do by the model's arithmetic,
 * divided by its wall time, compared with the fp32 matrix-multiply rate measured in the same process (a ratio
 * that survives a busy or slower machine better than a raw rate).
 */
public final class TrainingBenchmark {

    private TrainingBenchmark() {
    }

    /**
     * One model's figures.
     *
     * @param parameters  trainable parameters (a tied head counted once)
     * @param stepSeconds median wall time of one optimizer step
     * @param gflops      model FLOPs per step / step time, in GFLOP/s
     */
    public record Result(long parameters, double stepSeconds, double gflops) {
    }

    /** Median GFLOP/s of a 2048 × 2048 by 2048 × 2048 fp32 matrix product over 5 runs, after one warm-up. */
    public static double matmulGflops() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.randomUniform(-1, 1, new Shape(2048, 2048));
            NDArray b = m.randomUniform(-1, 1, new Shape(2048, 2048));
            a.matMul(b).close();
            double[] rates = new double[5];
            for (int i = 0; i < rates.length; i++) {
                long t0 = System.nanoTime();
                NDArray c = a.matMul(b);
                c.getFloat(0, 0); // wait for the result
                rates[i] = 2.0 * 2048 * 2048 * 2048 / ((System.nanoTime() - t0) / 1e9) / 1e9;
                c.close();
            }
            Arrays.sort(rates);
            return rates[rates.length / 2];
        }
    }

    /**
     * Model FLOPs of one training step (forward and backward) over {@code tokens} positions of length
     * {@code seqLen}: 6 per matrix weight per token, plus attention's 12·L·C·T per token (PaLM, Chowdhery et al.
     * 2022, arXiv 2204.02311, App. B). The embedding lookup costs nothing; a tied output head counts as a matrix.
     */
    public static double stepFlops(DecoderConfig c, long tokens, int seqLen) {
        long perLayer = (long) c.hiddenSize() * (c.numHeads() * c.headDim() + 2L * c.kvDim())  // q, k, v
                + (long) c.numHeads() * c.headDim() * c.hiddenSize()                              // o
                + 3L * c.hiddenSize() * c.intermediateSize();                                     // gate, up, down
        long matrices = perLayer * c.numLayers() + (long) c.vocabSize() * c.hiddenSize();       // + output head
        double attention = 12.0 * c.numLayers() * c.hiddenSize() * seqLen;
        return tokens * (6.0 * matrices + attention);
    }

    /**
     * One preference-training configuration's figures.
     *
     * @param trainable   values the optimizer updates (the adapter's alone with LoRA)
     * @param parameters  the base model's parameters
     * @param stepSeconds median wall time of one optimizer step, the reference's scoring included
     * @param tokens      prompt + response tokens of the chosen and rejected sequences of one step
     */
    public record PreferenceResult(long trainable, long parameters, double stepSeconds, long tokens) {

        /** Tokens through the policy per second of step time. */
        public double tokensPerSecond() {
            return tokens / stepSeconds;
        }
    }

    /**
     * Times DPO steps (β 0.1) on random pairs: {@code pairs} prompts of {@code seqLen / 2} tokens, each with a
     * chosen and a rejected response of {@code seqLen - seqLen / 2} tokens, so a step scores 2·pairs sequences of
     * {@code seqLen}. With {@code lora} the policy is the base with a fresh adapter in front and the plain base is
     * the reference (one copy of the weights, as {@link TrainingRun} trains LoRA); without it every weight trains
     * and the reference is a second copy (as full fine-tuning runs).
     *
     * <p>{@code weights} is asked for the host tensors once per decoder built and no reference to them is kept,
     * so the Java heap can let them go (a full collection runs before the first step) and the steps' resident
     * memory is the decoders', the optimizer's and the activations'.
     *
     * @param weights    the base weights; called once per copy built (twice for full fine-tuning)
     * @param lora       the adapter to train, or null for full fine-tuning
     * @param microBatch pairs per forward/backward pass; gradients accumulate over the batch
     * @param warmup     untimed steps first
     */
    public static PreferenceResult measurePreference(DecoderConfig c, Supplier<Map<String, HostTensor>> weights,
                                                     LoraConfig lora, int pairs, int seqLen, int microBatch, int warmup,
                                                     int steps) {
        return measurePreference(c, weights, lora, pairs, seqLen, microBatch, warmup, steps, Placement.CPU_F32);
    }

    /**
     * {@link #measurePreference(DecoderConfig, Supplier, LoraConfig, int, int, int, int, int)} on a device in a
     * precision: in half precision full fine-tuning trains float32 master weights, and the reference and a LoRA
     * run's base are stored half.
     */
    public static PreferenceResult measurePreference(DecoderConfig c, Supplier<Map<String, HostTensor>> weights,
                                                     LoraConfig lora, int pairs, int seqLen, int microBatch, int warmup,
                                                     int steps, Placement placement) {
        Random r = new Random(0);
        int promptLen = seqLen / 2, responseLen = seqLen - promptLen;
        List<PreferencePair> data = new ArrayList<>();
        for (int i = 0; i < pairs; i++) {
            data.add(new PreferencePair(randomIds(r, c, promptLen), randomIds(r, c, responseLen),
                    randomIds(r, c, responseLen)));
        }
        TrainingConfig config = new TrainingConfig(AdamWConfig.defaults().withLr(1e-5),
                new LearningRateSchedule(0, warmup + steps, 1), 1.0, microBatch);
        Placement.Precision precision = placement.precision();
        try (Decoder base = Decoder.fromHostTensors(c, weights.get(), placement.newManager(), precision, lora == null);
             Decoder reference = lora == null
                     ? Decoder.fromHostTensors(c, weights.get(), placement.newManager(), precision, false) : null;
             Decoder policy = lora == null ? null : base.withAdapter(LoraAdapter.initialise(c, lora, 0,
                     base.manager().newSubManager(), DataType.FLOAT32))) {
            Decoder trained = lora == null ? base : policy;
            System.gc(); // the host copies are garbage now; G1 returns the freed heap to the system on a full collection
            PolicyTrainer trainer = new PolicyTrainer(trained, Dpo.defaults(), config)
                    .frozenReference(lora == null ? reference : base);
            for (int i = 0; i < warmup; i++) {
                trainer.step(data);
            }
            double[] seconds = new double[steps];
            long tokens = 0;
            for (int i = 0; i < steps; i++) {
                PolicyTrainer.StepResult s = trainer.step(data);
                seconds[i] = s.seconds();
                tokens = s.tokens();
            }
            Arrays.sort(seconds);
            return new PreferenceResult(count(trained.trainableParameters()), count(base.parameters()),
                    seconds[steps / 2], tokens);
        }
    }

    private static int[] randomIds(Random r, DecoderConfig c, int n) {
        int[] ids = new int[n];
        for (int t = 0; t < n; t++) {
            ids[t] = 3 + r.nextInt(c.vocabSize() - 3);
        }
        return ids;
    }

    private static long count(List<Map.Entry<String, NDArray>> parameters) {
        long n = 0;
        for (Map.Entry<String, NDArray> p : parameters) {
            n += p.getValue().size();
        }
        return n;
    }

    /** Times SFT steps on random sequences: {@code batch} of {@code seqLen} tokens, BOS then the response. */
    public static Result measure(HfCheckpoint checkpoint, int batch, int seqLen, int steps) {
        DecoderConfig c = checkpoint.config();
        Random r = new Random(0);
        List<Demonstration> data = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            int[] response = new int[seqLen - 1];
            for (int t = 0; t < response.length; t++) {
                response[t] = 3 + r.nextInt(c.vocabSize() - 3);
            }
            data.add(new Demonstration(new int[] {c.bosTokenId()}, response));
        }
        try (Decoder policy = Decoder.fromHostTensors(c, checkpoint.tensors(), NDManager.newBaseManager())) {
            long parameters = 0;
            for (Map.Entry<String, NDArray> p : policy.parameters()) {
                parameters += p.getValue().size();
            }
            PolicyTrainer trainer = new PolicyTrainer(policy, new Sft(), new TrainingConfig(
                    AdamWConfig.defaults().withLr(1e-4), new LearningRateSchedule(0, steps + 2, 1), 1.0, batch));
            trainer.step(data);
            trainer.step(data);
            double[] seconds = new double[steps];
            for (int i = 0; i < steps; i++) {
                seconds[i] = trainer.step(data).seconds();
            }
            Arrays.sort(seconds);
            double median = seconds[steps / 2];
            return new Result(parameters, median, stepFlops(c, (long) batch * seqLen, seqLen) / median / 1e9);
        }
    }
}
