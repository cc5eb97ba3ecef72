package steer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Batched autoregressive generation with a KV cache over prompts of different lengths.
 *
 * <p>Prompts are left-padded to the longest one; each row keeps its own rotary positions (0 at its first
 * real token) and an attention bias that hides its padding, so a prompt generates the same tokens in a
 * batch as alone. Memory: one request manager for the cache, one child manager per decode step.
 */
public final class Generation {

    private Generation() {
    }

    /** Decides, after each new token, whether stream {@code stream} should stop (stop strings, say). */
    @FunctionalInterface
    public interface StopCheck {
        /** True to stop {@code stream}, whose new tokens so far are {@code tokens[0, count)}. */
        boolean shouldStop(int stream, int[] tokens, int count);

        /** Never stops. */
        StopCheck NEVER = (stream, tokens, count) -> false;
    }

    /**
     * Generates a continuation for each prompt.
     *
     * @param model        the decoder
     * @param prompts      token ids of each prompt, at least one token each
     * @param params       sampling parameters; stream i samples with seed (params.seed, i)
     * @param stopTokenIds tokens that end a sequence (kept as its last token), usually EOS
     * @param stopCheck    an extra stop condition, checked after every token
     * @return one sequence per prompt, in order
     */
    public static List<GeneratedSequence> generate(Decoder model, List<int[]> prompts, SamplingParams params,
                                                   Set<Integer> stopTokenIds, StopCheck stopCheck) {
        return generate(model, prompts, params, stopTokenIds, stopCheck, model.config().vocabSize());
    }

    /**
     * Generates a continuation for each prompt, sampling only ids below {@code sampleableVocab}: the rows of
     * the embedding beyond the tokenizer's vocabulary (Qwen's checkpoints pad 151,665 tokens to 151,936 rows)
     * get probability 0, as if their logits were −∞; the others are renormalised among themselves. The
     * recorded log-probabilities stay those of the full-vocabulary softmax, the ones {@link SequenceScorer}
     * computes, so scoring a sample reproduces them; the two differ only by the mass on the masked rows.
     *
     * @param sampleableVocab ids {@code [0, sampleableVocab)} may be sampled, usually the tokenizer's size;
     *                        in {@code [1, vocabSize]}
     * @see #generate(Decoder, List, SamplingParams, Set, StopCheck)
     */
    public static List<GeneratedSequence> generate(Decoder model, List<int[]> prompts, SamplingParams params,
                                                   Set<Integer> stopTokenIds, StopCheck stopCheck,
                                                   int sampleableVocab) {
        return generate(model, prompts, params, stopTokenIds, stopCheck, sampleableVocab, Engine.configured());
    }

    /**
     * What computes a decoding step. The engines agree to float32 rounding, not bit for bit, so a seeded stream
     * keeps its tokens within one engine; across engines a token can turn where two candidates are within rounding.
     */
    public enum Engine {
        /** {@link Decoder}'s native arrays through DJL and PyTorch: any size, CPU or GPU, LoRA adapters. */
        DJL,
        /**
         * {@link VectorDecoder}: Java loops in the Vector API, float32 on the CPU, no adapters. Faster where a
         * step's native arrays are tiny (stories260K: see the README's generation section); it needs the JVM flag
         * {@code --add-modules jdk.incubator.vector}.
         */
        VECTOR;

        /** The engine {@value #PROPERTY} names ({@code djl}, the default, or {@code vector}). */
        public static Engine configured() {
            return parse(System.getProperty(PROPERTY, "djl"), "-D" + PROPERTY);
        }

        /**
         * @param where what set the value, for the error
         * @throws IllegalArgumentException for a name other than djl or vector
         */
        public static Engine parse(String name, String where) {
            return switch (name.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "djl" -> DJL;
                case "vector" -> VECTOR;
                default -> throw new IllegalArgumentException(where + ": unknown generation engine '" + name
                        + "'; expected djl or vector");
            };
        }

        /**
         * System property that picks the engine of every {@link Generation#generate} call without one, and of
         * {@link LanguageModel#newDecodeBatch} (generator-svc's continuous batching).
         */
        public static final String PROPERTY = "steer.generation.engine";
    }

    /**
     * As {@link #generate(Decoder, List, SamplingParams, Set, StopCheck, int)}, on the given engine.
     */
    public static List<GeneratedSequence> generate(Decoder model, List<int[]> prompts, SamplingParams params,
                                                   Set<Integer> stopTokenIds, StopCheck stopCheck,
                                                   int sampleableVocab, Engine engine) {
        if (sampleableVocab < 1 || sampleableVocab > model.config().vocabSize()) {
            throw new IllegalArgumentException("sampleable vocabulary " + sampleableVocab + " outside [1, "
                    + model.config().vocabSize() + "], the model's vocab_size");
        }
        if (model.dtype() != DataType.FLOAT32) {
            throw new IllegalArgumentException("generation needs a FLOAT32 decoder, got " + model.dtype()
                    + "; FLOAT64 decoders are for scoring and gradient checks");
        }
        int B = prompts.size();
        int maxPos = model.config().maxPositionEmbeddings();
        for (int b = 0; b < B; b++) {
            int len = prompts.get(b).length;
            if (len == 0) {
                throw new IllegalArgumentException("prompt " + b + " is empty; it needs at least one token (BOS)");
            }
            if (len + params.maxNewTokens() > maxPos) {
                throw new IllegalArgumentException("prompt " + b + " has " + len + " tokens; with max_new_tokens "
                        + params.maxNewTokens() + " that exceeds the model's " + maxPos + " positions");
            }
        }
        // Decoding small models is bound by per-op overhead, not arithmetic, so PyTorch's intra-op threads
        // barely help; splitting a large batch across cores, one Java thread per part, does.
        VectorDecoder vector = engine == Engine.VECTOR ? model.vectorDecoder() : null;
        int parts = Math.min(Math.max(1, Integer.getInteger(PARTS_PROPERTY, WORKERS)), B / MIN_STREAMS_PER_WORKER);
        if (parts <= 1) {
            return vector != null ? VectorGeneration.generatePart(vector, prompts, 0, params, stopTokenIds, stopCheck,
                    sampleableVocab) : generatePart(model, prompts, 0, params, stopTokenIds, stopCheck, sampleableVocab);
        }
        List<Future<List<GeneratedSequence>>> futures = new ArrayList<>();
        for (int i = 0; i < parts; i++) {
            int from = B * i / parts, to = B * (i + 1) / parts;
            futures.add(POOL.submit(() -> vector != null
                    ? VectorGeneration.generatePart(vector, prompts.subList(from, to), from, params, stopTokenIds,
                            stopCheck, sampleableVocab)
                    : generatePart(model, prompts.subList(from, to), from, params, stopTokenIds, stopCheck,
                            sampleableVocab)));
        }
        List<GeneratedSequence> out = new ArrayList<>(B);
        for (Future<List<GeneratedSequence>> f : futures) {
            try {
                out.addAll(f.get());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                futures.forEach(x -> x.cancel(true));
                throw new IllegalStateException("generation interrupted", e);
            } catch (ExecutionException e) {
                futures.forEach(x -> x.cancel(true));
                if (e.getCause() instanceof RuntimeException re) {
                    throw re;
                }
                throw new IllegalStateException(e.getCause());
            }
        }
        return out;
    }

    /**
     * Why a stream ends after its {@code count}-th new token {@code token}, or null if it goes on: a stop token,
     * then the stop check, then the length limit.
     */
    static GeneratedSequence.FinishReason finishReason(int token, Set<Integer> stopTokenIds, StopCheck stopCheck,
                                                       int stream, int[] tokens, int count, int maxNewTokens) {
        if (stopTokenIds.contains(token)) {
            return GeneratedSequence.FinishReason.STOP_TOKEN;
        }
        if (stopCheck.shouldStop(stream, tokens, count)) {
            return GeneratedSequence.FinishReason.STOP_CHECK;
        }
        return count == maxNewTokens ? GeneratedSequence.FinishReason.LENGTH : null;
    }

    /** Parallel parts a large batch is split into: one per core. */
    private static final int WORKERS = Math.max(1, Runtime.getRuntime().availableProcessors());

    /**
     * System property that caps the parts (default: the core count). On a machine whose other work keeps the
     * cores busy, 1 can be faster: measured on two cores under a load average of 8-9, one part of 64 stories260K
     * streams decoded 1.5-1.9x the tokens/s of two parts of 32, while on a free machine two parts won by 1.1-1.5x.
     */
    static final String PARTS_PROPERTY = "steer.generation.parts";

    /** Below this many streams per part, splitting costs more than it saves. */
    private static final int MIN_STREAMS_PER_WORKER = 8;

    private static final ExecutorService POOL = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "steer-generation");
        t.setDaemon(true);
        return t;
    });

    /** Generates for streams {@code first .. first + prompts.size()} of a batch, on the calling thread. */
    private static List<GeneratedSequence> generatePart(Decoder model, List<int[]> prompts, int first,
                                                        SamplingParams params, Set<Integer> stopTokenIds,
                                                        StopCheck stopCheck, int sampleableVocab) {
        int B = prompts.size();
        if (B == 0) {
            return List.of();
        }
        // the n samples of one prompt prefill it once: rows with equal prompts share one prefill row, whose
        // cache is then forked to every sample (bench generate: "shared prefill")
        Map<IntBuffer, Integer> unique = new HashMap<>();
        List<int[]> distinct = new ArrayList<>();
        int[] prefillRow = new int[B];
        for (int b = 0; b < B; b++) {
            int[] p = prompts.get(b);
            prefillRow[b] = unique.computeIfAbsent(IntBuffer.wrap(p), k -> {
                distinct.add(p);
                return distinct.size() - 1;
            });
        }
        int U = distinct.size();
        LeftPadded layout = LeftPadded.of(prompts, params.maxNewTokens());
        LeftPadded prefillLayout = U == B ? layout : LeftPadded.of(distinct, params.maxNewTokens());
        int P = layout.length();
        int capacity = layout.width();
        int V = model.config().vocabSize();
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false); // grad mode is per thread; generation never needs a graph
        // One intra-op thread per decoding thread: decode ops are tiny, so PyTorch's thread team only adds
        // wake-up latency (measured on 2 cores, stories260K, one stream: ~600 tokens/s with 2 threads, ~1,100
        // with 1); parallelism comes from splitting the batch instead.
        int intraOpThreads = JniUtils.getNumThreads();
        JniUtils.setNumThreads(1);
        try (NDManager request = model.manager().newSubManager()) {
            KvCache cache = model.newCache(request, U, capacity);
            long[] positions = layout.positions();
            boolean padded = layout.padded();
            NDArray keyBiasAll = request.create(layout.keyBias(), new Shape(B, 1, 1, capacity));    // [B, 1, 1, Smax]

            int[][] out = new int[B][params.maxNewTokens()];
            float[][] tokenLogProbs = new float[B][params.maxNewTokens()];
            int[] count = new int[B];
            GeneratedSequence.FinishReason[] finished = new GeneratedSequence.FinishReason[B];
            Sampler[] samplers = new Sampler[B];
            for (int b = 0; b < B; b++) {
                samplers[b] = new Sampler(params, first + b);
            }
            int live = B;
            float[] logProbs;   // log softmax of the last position's logits, [B, V]
            int[] logProbRow = prefillRow; // row of logProbs each stream reads: its prefill row, then its own
            try (NDManager step = request.newSubManager()) {
                NDArray causal = causalBias(step, P);                                      // [P, P]
                NDArray prefillBias = step.create(prefillLayout.keyBias(), new Shape(U, 1, 1, capacity));
                NDArray bias = prefillBias.get(upTo(P)).add(causal);                       // [U, 1, P, P]
                NDArray h = model.hidden(step.create(prefillLayout.ids(), new Shape(U, P)),
                        step.create(prefillLayout.positions(), new Shape(U, P)), bias, cache);
                logProbs = model.logits(h.get(":, -1:, :")).logSoftmax(-1).toFloatArray();  // [U, 1, V]
            }
            if (U < B) {
                cache = cache.fork(prefillRow, request);                                   // [B, ...]
            }
            for (int s = 0; s < params.maxNewTokens() && live > 0; s++) {
                long[] next = new long[B];
                long[] nextPos = new long[B];
                for (int b = 0; b < B; b++) {
                    if (finished[b] != null) {
                        continue;
                    }
                    int offset = logProbRow[b] * V;
                    int token = samplers[b].next(logProbs, offset, sampleableVocab);      // ids beyond: masked
                    out[b][count[b]] = token;
                    tokenLogProbs[b][count[b]] = logProbs[offset + token];
                    count[b]++;
                    next[b] = token;
                    nextPos[b] = prompts.get(b).length + s;
                    finished[b] = finishReason(token, stopTokenIds, stopCheck, first + b, out[b], count[b],
                            params.maxNewTokens());
                    if (finished[b] != null) {
                        live--;
                    }
                }
                if (live == 0) {
                    break;
                }
                // finished rows keep running in the batch (cheaper than reshaping the cache); their output is ignored
                try (NDManager step = request.newSubManager()) {
                    int S = cache.length() + 1;
                    NDArray bias = padded ? Decoder.owned(keyBiasAll.get(upTo(S)), step) : null; // [B, 1, 1, S]
                    NDArray h = model.hidden(step.create(next, new Shape(B, 1)), step.create(nextPos, new Shape(B, 1)),
                            bias, cache);
                    logProbs = model.logits(h).logSoftmax(-1).toFloatArray();                // [B, 1, V]
                }
                logProbRow = IDENTITY.length >= B ? IDENTITY : identity(B);
            }
            List<GeneratedSequence> result = new ArrayList<>(B);
            for (int b = 0; b < B; b++) {
                result.add(new GeneratedSequence(Arrays.copyOf(out[b], count[b]), Arrays.copyOf(tokenLogProbs[b], count[b]),
                        finished[b]));
            }
            return result;
        } finally {
            JniUtils.setGradMode(gradMode);
            JniUtils.setNumThreads(intraOpThreads);
        }
    }

    private static final int[] IDENTITY = identity(1024);

    private static int[] identity(int n) {
        int[] rows = new int[n];
        for (int i = 0; i < n; i++) {
            rows[i] = i;
        }
        return rows;
    }

    /** Index of the key positions {@code [0, s)} of a {@code [B, 1, 1, Smax]} bias. */
    private static NDIndex upTo(long s) {
        return new NDIndex().addAllDim(3).addSliceDim(0, s);
    }

    /** Additive causal bias {@code [T, T]}: 0 on and below the diagonal, {@link Decoder#MASKED} above. */
    static NDArray causalBias(NDManager m, int t) {
        float[] bias = new float[t * t];
        for (int i = 0; i < t; i++) {
            Arrays.fill(bias, i * t + i + 1, (i + 1) * t, Decoder.MASKED);
        }
        return m.create(bias, new Shape(t, t));
    }
}
