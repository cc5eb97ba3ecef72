package steer.model;

import java.io.IOException;
import java.nio.IntBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import steer.checkpoint.DecoderConfig;

/**
 * {@link Generation}'s decoding loop on {@link VectorDecoder}: the same samplers, stop rules and shared prefill,
 * so for a given engine a stream's tokens depend only on its prompt, parameters and stream index. Each sequence
 * sits in a cache row of its own with no padding, and a finished sequence drops out of the steps (the DJL loop
 * keeps it in the batch, which costs less than reshaping native arrays). Large batches decode in groups of
 * streams that take turns of several steps ({@link #schedule}), so each group's keys and values stay in cache.
 */
final class VectorGeneration {

    private VectorGeneration() {
    }

    /**
     * How the decoding steps visit the streams: in groups of {@code group} streams, each taking up to
     * {@code blockSteps} steps before the next group's turn (one group of all streams: every step visits all).
     */
    record Schedule(int group, int blockSteps) {
        Schedule {
            if (group < 1 || blockSteps < 1) {
                throw new IllegalArgumentException("a schedule needs group >= 1 and blockSteps >= 1, got " + group
                        + " and " + blockSteps);
            }
        }
    }

    /**
     * The schedule for {@code streams} streams of up to {@code positions} tokens: where at least
     * {@link #MIN_GROUP} streams' keys and values fit {@link #GROUP_CACHE_BYTES} but not all do, groups of a
     * multiple of {@link #MIN_GROUP} streams (a matmul tile's rows, so no tile computes padding rows) as large as
     * fit this core's L2 cache ({@link #l2CacheBytes}), at least {@link #MIN_GROUP}; otherwise one group of all
     * (below that the weights, read once per step and group, cost more than the cache saves).
     * {@value #GROUP_PROPERTY} and {@value #BLOCK_STEPS_PROPERTY} override the group size and the steps per turn.
     *
     * @throws IllegalArgumentException if either property is set to something other than a positive integer
     */
    static Schedule schedule(DecoderConfig c, int streams, int positions) {
        return schedule(c, streams, positions, L2_CACHE_BYTES);
    }

    /** As above, for an L2 cache of {@code l2Bytes}. */
    static Schedule schedule(DecoderConfig c, int streams, int positions, long l2Bytes) {
        int blockSteps = positiveProperty(BLOCK_STEPS_PROPERTY, DEFAULT_BLOCK_STEPS);
        int forced = positiveProperty(GROUP_PROPERTY, 0);
        if (forced > 0) {
            return new Schedule(Math.min(streams, forced), blockSteps);
        }
        long perStream = 2L * c.numLayers() * c.numKvHeads() * c.headDim() * Float.BYTES * positions;
        long fit = GROUP_CACHE_BYTES / perStream;
        if (fit < MIN_GROUP || fit >= streams) {
            return new Schedule(streams, blockSteps);
        }
        long inL2 = l2Bytes / perStream / MIN_GROUP * MIN_GROUP;
        return new Schedule((int) Math.max(MIN_GROUP, Math.min(inL2, fit / MIN_GROUP * MIN_GROUP)), blockSteps);
    }

    /**
     * The first CPU's L2 cache in bytes, from Linux's sysfs ({@code /sys/devices/system/cpu/cpu0/cache/index*}),
     * or 1 MiB where that cannot be read.
     */
    static long l2CacheBytes() {
        Path caches = Path.of("/sys/devices/system/cpu/cpu0/cache");
        try (Stream<Path> listing = Files.list(caches)) {
            List<Path> indices = listing.filter(p -> p.getFileName().toString().startsWith("index")).sorted().toList();
            for (Path index : indices) {
                String type = Files.readString(index.resolve("type")).trim();
                if (Files.readString(index.resolve("level")).trim().equals("2") && !type.equals("Instruction")) {
                    return parseCacheSize(Files.readString(index.resolve("size")).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or no such files: the default below
        }
        return 1L << 20;
    }

    /** A sysfs cache size such as {@code 2048K} or {@code 1M} in bytes. */
    static long parseCacheSize(String size) {
        long unit = size.endsWith("K") ? 1L << 10 : size.endsWith("M") ? 1L << 20 : 1;
        String digits = unit == 1 ? size : size.substring(0, size.length() - 1);
        return Long.parseLong(digits) * unit;
    }

    private static int positiveProperty(String name, int unset) {
        String value = System.getProperty(name);
        if (value == null) {
            return unset;
        }
        try {
            int n = Integer.parseInt(value.trim());
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("-D" + name + "=" + value + ": expected a positive whole number");
    }

    /** Generates for streams {@code first .. first + prompts.size()}, on the calling thread. */
    static List<GeneratedSequence> generatePart(VectorDecoder model, List<int[]> prompts, int first,
                                                SamplingParams params, Set<Integer> stopTokenIds,
                                                Generation.StopCheck stopCheck, int sampleableVocab) {
        int longest = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
        return generatePart(model, prompts, first, params, stopTokenIds, stopCheck, sampleableVocab,
                schedule(model.config(), Math.max(1, prompts.size()), longest + params.maxNewTokens()));
    }

    /** As the method above, on a given schedule. */
    static List<GeneratedSequence> generatePart(VectorDecoder model, List<int[]> prompts, int first,
                                                SamplingParams params, Set<Integer> stopTokenIds,
                                                Generation.StopCheck stopCheck, int sampleableVocab,
                                                Schedule schedule) {
        int B = prompts.size();
        if (B == 0) {
            return List.of();
        }
        int V = model.config().vocabSize();
        // the n samples of one prompt prefill it once, in the row of its first stream, then copy that row
        Map<IntBuffer, Integer> firstRow = new HashMap<>();
        int[] source = new int[B];
        int longest = 0;
        for (int b = 0; b < B; b++) {
            int row = b;
            source[b] = firstRow.computeIfAbsent(IntBuffer.wrap(prompts.get(b)), k -> row);
            longest = Math.max(longest, prompts.get(b).length);
        }
        VectorDecoder.Cache cache = model.newCache(B, longest + params.maxNewTokens());
        List<Integer> distinct = new ArrayList<>();
        int tokens = 0;
        for (int b = 0; b < B; b++) {
            if (source[b] == b) {
                distinct.add(b);
                tokens += prompts.get(b).length;
            }
        }
        int[] ids = new int[tokens], rows = new int[tokens], positions = new int[tokens];
        int[] lastOf = new int[distinct.size()];
        int[] logProbRow = new int[B];          // row of logProbs each stream reads
        int t = 0;
        for (int u = 0; u < distinct.size(); u++) {
            int b = distinct.get(u);
            int[] p = prompts.get(b);
            for (int i = 0; i < p.length; i++, t++) {
                ids[t] = p[i];
                rows[t] = b;
                positions[t] = i;
            }
            lastOf[u] = t - 1;
        }
        float[] logProbs = model.forward(cache, tokens, ids, rows, positions, lastOf);   // [U, V]
        Map<Integer, Integer> distinctIndex = new HashMap<>();
        for (int u = 0; u < distinct.size(); u++) {
            distinctIndex.put(distinct.get(u), u);
        }
        for (int b = 0; b < B; b++) {
            logProbRow[b] = distinctIndex.get(source[b]);
            if (source[b] != b) {
                cache.copyRow(source[b], b, prompts.get(b).length);
            }
        }

        int[][] out = new int[B][params.maxNewTokens()];
        float[][] tokenLogProbs = new float[B][params.maxNewTokens()];
        int[] count = new int[B];
        GeneratedSequence.FinishReason[] finished = new GeneratedSequence.FinishReason[B];
        Sampler[] samplers = new Sampler[B];
        for (int b = 0; b < B; b++) {
            samplers[b] = new Sampler(params, first + b);
        }
        // Streams advance in groups: a group takes up to blockSteps steps before the next group's turn, so its
        // keys and values stay in the core's cache across those steps instead of the whole batch's cache
        // streaming through memory every step. A stream's computation is the same either way.
        int group = Math.min(B, schedule.group());
        int blockSteps = schedule.blockSteps();
        float[][] readFrom = new float[B][];    // the log-probs array each stream samples from next
        Arrays.fill(readFrom, logProbs);
        int live = B;
        int[] next = new int[B], nextRow = new int[B], nextPos = new int[B], all = new int[B];
        while (live > 0) {
            for (int g0 = 0; g0 < B; g0 += group) {
                int g1 = Math.min(B, g0 + group);
                for (int k = 0; k < blockSteps; k++) {
                    int n = 0;
                    for (int b = g0; b < g1; b++) {
                        if (finished[b] != null) {
                            continue;
                        }
                        int offset = logProbRow[b] * V;
                        int token = samplers[b].next(readFrom[b], offset, sampleableVocab);
                        out[b][count[b]] = token;
                        tokenLogProbs[b][count[b]] = readFrom[b][offset + token];
                        count[b]++;
                        finished[b] = Generation.finishReason(token, stopTokenIds, stopCheck, first + b, out[b],
                                count[b], params.maxNewTokens());
                        if (finished[b] != null) {
                            live--;
                            continue;
                        }
                        next[n] = token;
                        nextRow[n] = b;
                        nextPos[n] = prompts.get(b).length + count[b] - 1;
                        all[n] = n;
                        logProbRow[b] = n;
                        n++;
                    }
                    if (n == 0) {
                        break;
                    }
                    float[] stepLogProbs = model.forward(cache, n, next, nextRow, nextPos, Arrays.copyOf(all, n));
                    for (int i = 0; i < n; i++) {
                        readFrom[nextRow[i]] = stepLogProbs;
                    }
                }
            }
        }
        List<GeneratedSequence> result = new ArrayList<>(B);
        for (int b = 0; b < B; b++) {
            result.add(new GeneratedSequence(Arrays.copyOf(out[b], count[b]), Arrays.copyOf(tokenLogProbs[b], count[b]),
                    finished[b]));
        }
        return result;
    }

    /**
     * Keys and values at most {@link #MIN_GROUP} streams may hold for groups to be formed at all. Measured with
     * stories260K, 64 streams of 256 tokens (329 KiB of cache each): on two AMD EPYC cores (1 MiB L2 each) one
     * group of 32 per core decoded 36,000-37,000 tokens/s, groups of 4-16 43,000-72,000; on one Intel Xeon
     * core (2 MiB L2) groups of 4 decoded 41,200-44,500 tokens/s, of 8 39,800-40,200, of 11 37,700-40,400,
     * and of 5 or 6 (whose last tile is padding) 35,800-38,100 (the README's generation section at fa42aca).
     */
    static final long GROUP_CACHE_BYTES = 4L << 20;

    /** This machine's L2 cache per core ({@link #l2CacheBytes}), read once. */
    static final long L2_CACHE_BYTES = l2CacheBytes();

    /** Smallest group worth forming; also the rows of one matmul tile. */
    static final int MIN_GROUP = 4;

    /** Steps a group takes per turn: its cache is loaded once per turn. */
    static final int DEFAULT_BLOCK_STEPS = 32;

    /** System property: streams per group, overriding the cache rule (at least the batch part's size: no groups). */
    static final String GROUP_PROPERTY = "steer.generation.vector.group";

    /** System property: steps per group's turn (default {@value #DEFAULT_BLOCK_STEPS}). */
    static final String BLOCK_STEPS_PROPERTY = "steer.generation.vector.block-steps";
}
