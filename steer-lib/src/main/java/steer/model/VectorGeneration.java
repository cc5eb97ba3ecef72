package steer.model;

import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@link Generation}'s decoding loop on {@link VectorDecoder}: the same samplers, stop rules and shared prefill,
 * so for a given engine a stream's tokens depend only on its prompt, parameters and stream index. Each sequence
 * sits in a cache row of its own with no padding, and a finished sequence drops out of the steps (the DJL loop
 * keeps it in the batch, which costs less than reshaping native arrays).
 */
final class VectorGeneration {

    private VectorGeneration() {
    }

    /** Generates for streams {@code first .. first + prompts.size()}, on the calling thread. */
    static List<GeneratedSequence> generatePart(VectorDecoder model, List<int[]> prompts, int first,
                                                SamplingParams params, Set<Integer> stopTokenIds,
                                                Generation.StopCheck stopCheck, int sampleableVocab) {
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
        int live = B;
        int[] next = new int[B], nextRow = new int[B], nextPos = new int[B], all = new int[B];
        for (int s = 0; s < params.maxNewTokens() && live > 0; s++) {
            int n = 0;
            for (int b = 0; b < B; b++) {
                if (finished[b] != null) {
                    continue;
                }
                int offset = logProbRow[b] * V;
                int token = samplers[b].next(logProbs, offset, sampleableVocab);
                out[b][count[b]] = token;
                tokenLogProbs[b][count[b]] = logProbs[offset + token];
                count[b]++;
                if (stopTokenIds.contains(token)) {
                    finished[b] = GeneratedSequence.FinishReason.STOP_TOKEN;
                } else if (stopCheck.shouldStop(first + b, out[b], count[b])) {
                    finished[b] = GeneratedSequence.FinishReason.STOP_CHECK;
                } else if (count[b] == params.maxNewTokens()) {
                    finished[b] = GeneratedSequence.FinishReason.LENGTH;
                }
                if (finished[b] != null) {
                    live--;
                    continue;
                }
                next[n] = token;
                nextRow[n] = b;
                nextPos[n] = prompts.get(b).length + s;
                all[n] = n;
                logProbRow[b] = n;
                n++;
            }
            if (n == 0) {
                break;
            }
            logProbs = model.forward(cache, n, next, nextRow, nextPos, Arrays.copyOf(all, n));
        }
        List<GeneratedSequence> result = new ArrayList<>(B);
        for (int b = 0; b < B; b++) {
            result.add(new GeneratedSequence(Arrays.copyOf(out[b], count[b]), Arrays.copyOf(tokenLogProbs[b], count[b]),
                    finished[b]));
        }
        return result;
    }
}
