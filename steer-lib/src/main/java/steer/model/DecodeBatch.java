package steer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A running batch for continuous batching (Yu et al. 2022, "Orca", OSDI): sequences join it at a token
 * boundary and leave it as soon as they finish, and the KV cache row a finished sequence held is reused by
 * the next one. Each sequence keeps its own sampling parameters, sampler, stop check and length limit, so a
 * greedy request, a seeded one and an unseeded one share a forward pass without changing each other's tokens.
 *
 * <p>Layout: one {@link KvCache} whose rows are slots. All rows write their next position at the same column
 * (the cache's length); a joining sequence's prefill is copied into the columns just before it, and the
 * attention bias hides from each row every column before its first one. Rotary positions are per sequence, so
 * where in the cache a sequence sits changes nothing: a sequence gets the same tokens here as generated alone
 * ({@code DecodeBatchTest}). Since every live row ends at the same column, dropping the columns no live row
 * reaches compacts them all with one copy per layer.
 *
 * <p>Sequences that join together and have the same prompt (the n samples of one prompt) prefill it once and
 * fork its cache row. Not thread-safe: one decoding thread owns a batch; it turns gradient recording off and
 * uses one PyTorch intra-op thread, as {@link Generation} does.
 *
 * <p>On {@link Generation.Engine#VECTOR} the batch runs on {@link VectorDecoder} instead: there every slot is a
 * cache row with its own positions from 0 (no shared columns, so nothing to shift or compact), a step is one
 * {@link VectorDecoder#forward} of the live rows, and tokens are drawn from its Java arrays. A sequence gets the
 * same bits there as from {@link Generation#generate} on that engine alone, since each row's arithmetic does not
 * depend on the other rows.
 */
@SuppressWarnings("checkstyle:LocalVariableName") // dimension letters as in Decoder
public final class DecodeBatch implements AutoCloseable {

    /** One sequence to generate; read its result once {@link #finished()} is true. */
    public static final class Sequence {
        private final int[] prompt;
        private final SamplingParams params;
        private final Sampler sampler;
        private final Generation.StopCheck stopCheck;
        private final int stream;
        private final int[] tokens;
        private final float[] logProbs;
        private int count;
        private int start;                      // first cache column of this sequence
        private GeneratedSequence.FinishReason finishReason;

        /**
         * @param prompt    token ids, at least one
         * @param params    sampling parameters; max_new_tokens bounds this sequence
         * @param stream    the sampler's stream: it draws from (params.seed, stream), as stream {@code stream} of
         *                  a {@link Generation#generate} batch does
         * @param stopCheck called with {@code stream} after every token
         */
        public Sequence(int[] prompt, SamplingParams params, int stream, Generation.StopCheck stopCheck) {
            if (prompt.length == 0) {
                throw new IllegalArgumentException("a prompt needs at least one token (BOS)");
            }
            this.prompt = prompt;
            this.params = params;
            this.stream = stream;
            this.sampler = new Sampler(params, stream);
            this.stopCheck = stopCheck;
            this.tokens = new int[params.maxNewTokens()];
            this.logProbs = new float[params.maxNewTokens()];
        }

        /** Whether the sequence has stopped. */
        public boolean finished() {
            return finishReason != null;
        }

        /** The generated continuation; only once finished. */
        public GeneratedSequence result() {
            if (finishReason == null) {
                throw new IllegalStateException("the sequence is still running");
            }
            return new GeneratedSequence(Arrays.copyOf(tokens, count), Arrays.copyOf(logProbs, count), finishReason);
        }

        /** Records a sampled token; true if it ends the sequence. */
        private boolean accept(float[] rowLogProbs, int offset, int vocab, Set<Integer> stopTokenIds) {
            int token = sampler.next(rowLogProbs, offset, vocab);
            return record(token, rowLogProbs[offset + token], stopTokenIds);
        }

        /** Records a token chosen on the device; true if it ends the sequence. */
        private boolean record(int token, float logProb, Set<Integer> stopTokenIds) {
            tokens[count] = token;
            logProbs[count] = logProb;
            count++;
            if (stopTokenIds.contains(token)) {
                finishReason = GeneratedSequence.FinishReason.STOP_TOKEN;
            } else if (stopCheck.shouldStop(stream, tokens, count)) {
                finishReason = GeneratedSequence.FinishReason.STOP_CHECK;
            } else if (count == params.maxNewTokens()) {
                finishReason = GeneratedSequence.FinishReason.LENGTH;
            }
            return finishReason != null;
        }

        /** Cache columns this sequence fills once its last token is written: prompt and every token but the newest. */
        private int width() {
            return prompt.length + count - 1;
        }
    }

    private final Decoder model;
    private final VectorDecoder vectorModel;    // null on the djl engine
    private VectorDecoder.Cache rows;           // the vector engine's cache: row i is slot i
    private final int sampleableVocab;
    private final Set<Integer> stopTokenIds;
    private final int maxSlots;
    private final boolean deviceSampling;
    private final NDManager manager;
    private KvCache cache;
    private Sequence[] slots = new Sequence[0];
    private int live;
    private int compactions;                    // for tests: how often columns were dropped or shifted
    private int shifts;
    private int regrowths;                      // times the vector engine's cache was replaced by a larger one

    /**
     * @param model           a FLOAT32 decoder
     * @param sampleableVocab ids {@code [0, sampleableVocab)} may be sampled (see {@link Generation})
     * @param stopTokenIds    tokens that end a sequence, usually EOS
     * @param maxSlots        most sequences running at once, at least 1
     */
    public DecodeBatch(Decoder model, int sampleableVocab, Set<Integer> stopTokenIds, int maxSlots) {
        this(model, sampleableVocab, stopTokenIds, maxSlots, false);
    }

    /**
     * @param deviceSampling pick tokens in native ops ({@link DeviceSampler}: the same draws as the Java sampler,
     *                       in float32) instead of copying every row's log-probs to Java
     * @see #DecodeBatch(Decoder, int, Set, int)
     */
    public DecodeBatch(Decoder model, int sampleableVocab, Set<Integer> stopTokenIds, int maxSlots,
                       boolean deviceSampling) {
        this(model, sampleableVocab, stopTokenIds, maxSlots, deviceSampling, Generation.Engine.DJL);
    }

    /**
     * @param engine what computes the steps; device sampling is DJL's (the vector engine's log-probs are Java
     *               arrays already)
     * @throws IllegalArgumentException for device sampling on the vector engine, or a decoder that engine cannot
     *                                  run (LoRA adapters)
     * @see #DecodeBatch(Decoder, int, Set, int, boolean)
     */
    public DecodeBatch(Decoder model, int sampleableVocab, Set<Integer> stopTokenIds, int maxSlots,
                       boolean deviceSampling, Generation.Engine engine) {
        if (deviceSampling && engine == Generation.Engine.VECTOR) {
            throw new IllegalArgumentException("device sampling picks tokens in DJL's native ops; the vector engine "
                    + "samples from its own Java arrays: turn one of them off");
        }
        if (model.dtype() != DataType.FLOAT32) {
            throw new IllegalArgumentException("generation needs a FLOAT32 decoder, got " + model.dtype());
        }
        if (maxSlots < 1) {
            throw new IllegalArgumentException("max slots must be at least 1, got " + maxSlots);
        }
        this.model = model;
        this.sampleableVocab = sampleableVocab;
        this.stopTokenIds = Set.copyOf(stopTokenIds);
        this.maxSlots = maxSlots;
        this.deviceSampling = deviceSampling;
        this.vectorModel = engine == Generation.Engine.VECTOR ? model.vectorDecoder() : null;
        this.manager = model.manager().newSubManager();
    }

    /** Sequences running now. */
    public int live() {
        return live;
    }

    /** Sequences that may join now. */
    public int free() {
        return maxSlots - live;
    }

    /**
     * Prefills the joining sequences (each distinct prompt once) and samples their first token.
     *
     * @param joining at most {@link #free()} new sequences
     * @return those already finished after their first token (they take no slot)
     */
    public List<Sequence> admit(List<Sequence> joining) {
        if (joining.size() > free()) {
            throw new IllegalArgumentException(joining.size() + " sequences join but only " + free() + " slots are free");
        }
        List<Sequence> done = new ArrayList<>();
        if (joining.isEmpty()) {
            return done;
        }
        int maxPos = model.config().maxPositionEmbeddings();
        for (Sequence s : joining) {
            if (s.prompt.length + s.params.maxNewTokens() > maxPos) {
                throw new IllegalArgumentException("a prompt of " + s.prompt.length + " tokens with max_new_tokens "
                        + s.params.maxNewTokens() + " exceeds the model's " + maxPos + " positions");
            }
        }
        if (vectorModel != null) {
            return admitOnVectors(joining);
        }
        Map<IntBuffer, Integer> unique = new HashMap<>();
        List<int[]> prompts = new ArrayList<>();
        int[] row = new int[joining.size()];
        for (int i = 0; i < joining.size(); i++) {
            int[] p = joining.get(i).prompt;
            row[i] = unique.computeIfAbsent(IntBuffer.wrap(p), k -> {
                prompts.add(p);
                return prompts.size() - 1;
            });
        }
        int V = model.config().vocabSize();
        LeftPadded layout = LeftPadded.of(prompts, 0);
        int U = prompts.size(), P = layout.length();
        try (NDManager step = manager.newSubManager()) {
            KvCache prefill = model.newCache(step, U, P);
            NDArray causal = Generation.causalBias(step, P);                                    // [P, P]
            NDArray bias = step.create(layout.keyBias(), new Shape(U, 1, 1, P)).add(causal);  // [U, 1, P, P]
            NDArray h = model.hidden(step.create(layout.ids(), new Shape(U, P)),
                    step.create(layout.positions(), new Shape(U, P)), bias, prefill);
            NDArray last = model.logits(h.get(":, -1:, :"));                                   // [U, 1, V]
            boolean[] ended = new boolean[joining.size()];
            if (deviceSampling) {
                long[] rows = new long[joining.size()];
                for (int i = 0; i < rows.length; i++) {
                    rows[i] = row[i];
                }
                NDArray perSequence = last.reshape(U, V).get(new NDIndex("{}", step.create(rows)));  // [J, V]
                ended = drawOnDevice(perSequence, joining);
            } else {
                float[] logProbs = last.logSoftmax(-1).toFloatArray();                          // [U, 1, V]
                for (int i = 0; i < joining.size(); i++) {
                    ended[i] = joining.get(i).accept(logProbs, row[i] * V, sampleableVocab, stopTokenIds);
                }
            }
            List<Sequence> staying = new ArrayList<>();
            List<Integer> from = new ArrayList<>();
            for (int i = 0; i < joining.size(); i++) {
                Sequence s = joining.get(i);
                if (ended[i]) {
                    done.add(s);
                } else {
                    staying.add(s);
                    from.add(row[i]);
                }
            }
            if (!staying.isEmpty()) {
                makeRoom(staying.size(), P);
                int t = cache.length();
                int slot = 0;
                for (int i = 0; i < staying.size(); i++) {
                    while (slots[slot] != null) {
                        slot++;
                    }
                    Sequence s = staying.get(i);
                    cache.copyRow(slot, prefill, from.get(i), P, t - P);
                    s.start = t - s.prompt.length;
                    slots[slot] = s;
                    live++;
                }
            }
        }
        return done;
    }

    /** Ensures {@code joining} free rows and at least {@code width} cached columns before the shared write column. */
    private void makeRoom(int joining, int width) {
        if (cache == null) {
            int rows = Math.min(maxSlots, Math.max(joining, 8));
            cache = model.newCache(manager, rows, width + 64);
            slots = new Sequence[rows];
        }
        int freeRows = 0;
        for (Sequence s : slots) {
            freeRows += s == null ? 1 : 0;
        }
        if (freeRows < joining) {
            int rows = Math.min(maxSlots, Math.max(slots.length * 2, slots.length + joining - freeRows));
            cache.reserveRows(rows);
            slots = Arrays.copyOf(slots, rows);
        }
        if (live == 0) {
            cache.reserve(width + 1);
            cache.length(width);
        } else if (cache.length() < width) {
            int d = width - cache.length();
            cache.shiftRight(d);
            shifts++;
            for (Sequence s : slots) {
                if (s != null) {
                    s.start += d;
                }
            }
        }
    }

    /**
     * Runs one decoding step for every running sequence.
     *
     * @return the sequences that finished in it, which leave the batch
     */
    public List<Sequence> step() {
        List<Sequence> done = new ArrayList<>();
        if (live == 0) {
            return done;
        }
        if (vectorModel != null) {
            return stepOnVectors();
        }
        compactIfSparse();
        cache.reserve(cache.length() + 1);
        int R = slots.length, S = cache.length() + 1, V = model.config().vocabSize();
        long[] ids = new long[R];
        long[] positions = new long[R];
        float[] bias = new float[R * S];
        for (int b = 0; b < R; b++) {
            Sequence s = slots[b];
            if (s == null) {
                continue;   // a free row attends everything (bias 0): finite garbage, never read
            }
            ids[b] = s.tokens[s.count - 1];
            positions[b] = s.prompt.length + s.count - 1L;
            Arrays.fill(bias, b * S, b * S + s.start, Decoder.MASKED);
        }
        boolean[] ended = new boolean[R];
        try (NDManager step = manager.newSubManager()) {
            NDArray h = model.hidden(step.create(ids, new Shape(R, 1)), step.create(positions, new Shape(R, 1)),
                    step.create(bias, new Shape(R, 1, 1, S)), cache);
            NDArray logits = model.logits(h);                                                    // [R, 1, V]
            if (deviceSampling) {
                ended = drawOnDevice(logits.reshape(R, V), Arrays.asList(slots));
            } else {
                float[] logProbs = logits.logSoftmax(-1).toFloatArray();
                for (int b = 0; b < R; b++) {
                    ended[b] = slots[b] != null && slots[b].accept(logProbs, b * V, sampleableVocab, stopTokenIds);
                }
            }
        }
        for (int b = 0; b < R; b++) {
            Sequence s = slots[b];
            if (s != null && ended[b]) {
                done.add(s);
                slots[b] = null;
                live--;
            }
        }
        return done;
    }

    /**
     * {@link #admit} on the vector engine: each distinct prompt is prefilled into a free row, its sequences'
     * first tokens drawn; the first of them that goes on keeps that row, each further one gets the row copied,
     * and a row none goes on from is freed. At most {@code live + joining.size()} rows are used at once: a prompt
     * whose row is freed had a sequence that ended.
     */
    private List<Sequence> admitOnVectors(List<Sequence> joining) {
        int needed = 0;
        for (Sequence s : joining) {
            needed = Math.max(needed, s.prompt.length + s.params.maxNewTokens());
        }
        reserveRows(live + joining.size(), needed);
        Map<IntBuffer, Integer> unique = new HashMap<>();
        List<Integer> filled = new ArrayList<>();   // the row of each distinct prompt
        int[] source = new int[joining.size()];     // each sequence's prompt, an index into filled
        int tokens = 0;
        for (int i = 0; i < joining.size(); i++) {
            int[] p = joining.get(i).prompt;
            int u = filled.size();
            source[i] = unique.computeIfAbsent(IntBuffer.wrap(p), k -> u);
            if (source[i] == u) {
                int slot = freeSlot();
                slots[slot] = joining.get(i);       // holds the row until its sequences are placed
                filled.add(slot);
                tokens += p.length;
            }
        }
        int U = filled.size();
        int[] ids = new int[tokens], rowOf = new int[tokens], positions = new int[tokens], lastOf = new int[U];
        int t = 0;
        for (int u = 0; u < U; u++) {
            int[] p = slots[filled.get(u)].prompt;
            for (int i = 0; i < p.length; i++, t++) {
                ids[t] = p[i];
                rowOf[t] = filled.get(u);
                positions[t] = i;
            }
            lastOf[u] = t - 1;
        }
        float[] logProbs = vectorModel.forward(rows, tokens, ids, rowOf, positions, lastOf);   // [U, V]
        int V = model.config().vocabSize();
        List<Sequence> done = new ArrayList<>();
        boolean[] placed = new boolean[U];
        for (int i = 0; i < joining.size(); i++) {
            Sequence s = joining.get(i);
            if (s.accept(logProbs, source[i] * V, sampleableVocab, stopTokenIds)) {
                done.add(s);
                continue;
            }
            int row = filled.get(source[i]);
            if (placed[source[i]]) {
                int copy = freeSlot();
                rows.copyRow(row, copy, s.prompt.length);
                row = copy;
            }
            placed[source[i]] = true;
            slots[row] = s;
            live++;
        }
        for (int u = 0; u < U; u++) {
            if (!placed[u]) {
                slots[filled.get(u)] = null;
            }
        }
        return done;
    }

    private int freeSlot() {
        for (int b = 0; b < slots.length; b++) {
            if (slots[b] == null) {
                return b;
            }
        }
        throw new IllegalStateException("no free row among " + slots.length);
    }

    /**
     * Grows the vector cache to at least {@code count} rows (doubling, within maxSlots) and {@code positions}
     * positions per row, copying what the live rows hold; it never shrinks.
     */
    private void reserveRows(int count, int positions) {
        int have = rows == null ? 0 : slots.length;
        int capacity = rows == null ? 0 : rows.positions();
        if (rows != null && count <= have && positions <= capacity) {
            return;
        }
        int wantRows = count <= have ? have : Math.min(maxSlots, Math.max(count, Math.max(8, 2 * have)));
        VectorDecoder.Cache grown = vectorModel.newCache(wantRows, Math.max(positions, capacity));
        for (int b = 0; b < have; b++) {
            if (slots[b] != null) {
                rows.copyRow(b, grown, b, slots[b].width());
            }
        }
        regrowths += rows != null ? 1 : 0;
        rows = grown;
        slots = Arrays.copyOf(slots, wantRows);
    }

    /** {@link #step} on the vector engine: one forward of the live rows, each at its own next position. */
    private List<Sequence> stepOnVectors() {
        int[] ids = new int[live], rowOf = new int[live], positions = new int[live], all = new int[live];
        int n = 0;
        for (int b = 0; b < slots.length; b++) {
            Sequence s = slots[b];
            if (s != null) {
                ids[n] = s.tokens[s.count - 1];
                rowOf[n] = b;
                positions[n] = s.prompt.length + s.count - 1;
                all[n] = n;
                n++;
            }
        }
        float[] logProbs = vectorModel.forward(rows, n, ids, rowOf, positions, all);       // [n, V]
        int V = model.config().vocabSize();
        List<Sequence> done = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Sequence s = slots[rowOf[i]];
            if (s.accept(logProbs, i * V, sampleableVocab, stopTokenIds)) {
                done.add(s);
                slots[rowOf[i]] = null;
                live--;
            }
        }
        return done;
    }

    /** Draws row i's token for {@code seqs.get(i)} on the device (null rows: greedy, ignored); true where one ended. */
    private boolean[] drawOnDevice(NDArray logits, List<Sequence> seqs) {
        int n = seqs.size();
        double[] temperature = new double[n];
        int[] topK = new int[n];
        double[] topP = new double[n];
        double[] u = new double[n];
        for (int i = 0; i < n; i++) {
            Sequence s = seqs.get(i);
            topP[i] = 1;
            if (s != null && s.params.temperature() > 0) {
                temperature[i] = s.params.temperature();
                topK[i] = s.params.topK();
                topP[i] = s.params.topP();
                u[i] = s.sampler.uniform();     // the draw Sampler.next would take
            }
        }
        DeviceSampler.Draw d = DeviceSampler.draw(logits, sampleableVocab, temperature, topK, topP, u);
        boolean[] ended = new boolean[n];
        for (int i = 0; i < n; i++) {
            Sequence s = seqs.get(i);
            ended[i] = s != null && s.record(d.tokens()[i], d.logProbs()[i], stopTokenIds);
        }
        return ended;
    }

    /**
     * Removes a running sequence (its caller went away), freeing its slot.
     *
     * @return whether it was running here
     */
    public boolean evict(Sequence s) {
        for (int b = 0; b < slots.length; b++) {
            if (slots[b] == s) {
                slots[b] = null;
                live--;
                return true;
            }
        }
        return false;
    }

    /**
     * Drops the columns no live sequence reaches once they are most of the cache: attention costs one multiply
     * per cached column and row, used or not.
     */
    private void compactIfSparse() {
        int t = cache.length();
        int widest = 0;
        for (Sequence s : slots) {
            if (s != null) {
                widest = Math.max(widest, t - s.start);
            }
        }
        if (t - widest >= 32 && t - widest >= widest) {
            cache.keepLast(widest);
            compactions++;
            int shift = t - widest;
            for (Sequence s : slots) {
                if (s != null) {
                    s.start -= shift;
                }
            }
        }
    }

    /**
     * Times the cache dropped columns no sequence reached, times it moved them right, and times the vector
     * engine's cache grew; for tests.
     */
    int[] layoutChanges() {
        return new int[] {compactions, shifts, regrowths};
    }

    /** Frees the cache. */
    @Override
    public void close() {
        manager.close();
    }
}
