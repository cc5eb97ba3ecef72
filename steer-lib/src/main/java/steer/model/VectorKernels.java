package steer.model;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The arithmetic of {@link VectorDecoder}, in the Vector API ({@code jdk.incubator.vector}). Each method is small
 * and uses one constant species, which is what lets C2 compile the vectors into registers: a species passed as an
 * argument, or a method too large to inline the API's calls, boxes every vector and runs ~50x slower.
 *
 * <p>256-bit vectors (8 floats), and only those: every x86-64 CPU with AVX has them, and JDK 17's C2 compiles the
 * API well only where one JVM uses one width. C2 types a kernel's vectors as {@code FloatVector}, not their exact
 * class, so the calls inside the API's shared methods (such as {@code intoArray}'s {@code vspecies()}) dispatch on
 * those methods' own profiles; once a 512-bit kernel runs too, the profiles see both classes, the store intrinsic
 * fails and every store boxes (3,500 tokens/s against 43,000 on stories260K with the matrix products at 512 bits).
 * A {@code getClass()} check before each store sharpens the type and brings that mix to 30,000-35,000, but the same
 * check on the 256-bit stores costs them 42,500 to 35,000 (a helper around each store with no check in it costs
 * 36,900-38,200 already: C2 inlines the kernels' stores less well); with every kernel at 512 bits an Intel Xeon (AVX-512)
 * gained nothing (README, generation section), and on an AMD EPYC 512-bit broadcasts and loads measured 4-8x
 * slower in an earlier probe (which may have mixed the widths the same way).
 */
final class VectorKernels {

    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_256;
    /** Floats per vector. */
    static final int LANES = SPECIES.length();
    /** Positions a block of the attention loops covers; the cache's capacity is a multiple of it. */
    static final int BLOCK = 4 * LANES;

    private VectorKernels() {
    }

    private static final FloatVector LOG2E = FloatVector.broadcast(SPECIES, 1.44269504088896341f);
    private static final FloatVector LN2_HIGH = FloatVector.broadcast(SPECIES, -0.693359375f);
    private static final FloatVector LN2_LOW = FloatVector.broadcast(SPECIES, 2.12194440e-4f);
    /** 1.5·2²³: adding it rounds a float of magnitude below 2²² to an integer, held in the low mantissa bits. */
    private static final float ROUNDING = 12582912f;
    private static final int ROUNDING_BITS = Float.floatToRawIntBits(ROUNDING);
    /** Below it 2^n's exponent bits are 0, so e^x is +0 with no mask: n = −127 from about −87.68 down. */
    private static final float EXP_LOWEST = -88f;
    /** Above it n = 128, whose exponent bits are +∞'s: e^x is +∞ from about 88.376 up (Float.MAX_VALUE is e^88.72). */
    private static final float EXP_HIGHEST = 88.7f;

    /**
     * e^x per lane, Cephes' {@code expf} (about 1 ulp): x = n·ln 2 + r with |r| <= ln 2 / 2, e^r by its degree-7
     * polynomial, times 2^n built in the exponent bits. x is clamped to [−88, 88.7] first, where n's bits give
     * exactly +0 at the bottom (from about −87.68, and for −∞: a masked score's weight) and +∞ at the top (from
     * about 88.376); NaN stays NaN. The edges need no masked result: an earlier version that blended its result
     * made the kernels calling it too large for C2's inlining budget, and the profile showed the blend's and fma's
     * per-lane Java fallbacks (keep the callers small: see {@link #logSoftmax}). Only exactly rounded operations,
     * so its bits are the same compiled or not.
     */
    static FloatVector exp(FloatVector x) {
        return expOfClamped(x.max(EXP_LOWEST).min(EXP_HIGHEST));
    }

    /**
     * {@link #exp} of an x that is at most 0 or NaN (a score minus the largest score), with the same bits: only
     * the lower clamp is needed, and it is a compare and blend, which costs a third of the lane-wise {@code max}
     * (Java's {@code max} needs extra instructions for NaN and −0, neither of which a blend changes here: NaN
     * compares false and stays NaN, and −0 is above −88).
     */
    static FloatVector expOfNonPositive(FloatVector x) {
        return expOfClamped(x.blend(EXP_LOWEST, x.lt(EXP_LOWEST)));
    }

    /** The polynomial and exponent bits of {@link #exp}, for x already within [−88, 88.7] (or NaN). */
    private static FloatVector expOfClamped(FloatVector c) {
        FloatVector t = c.fma(LOG2E, FloatVector.broadcast(SPECIES, ROUNDING));
        FloatVector n = t.sub(ROUNDING);
        FloatVector r = n.fma(LN2_LOW, n.fma(LN2_HIGH, c));   // c − n·ln 2, ln 2 in two parts
        FloatVector p = FloatVector.broadcast(SPECIES, 1.9875691500e-4f).fma(r, FloatVector.broadcast(SPECIES,
                1.3981999507e-3f));
        p = p.fma(r, FloatVector.broadcast(SPECIES, 8.3334519073e-3f));
        p = p.fma(r, FloatVector.broadcast(SPECIES, 4.1665795894e-2f));
        p = p.fma(r, FloatVector.broadcast(SPECIES, 1.6666665459e-1f));
        p = p.fma(r, FloatVector.broadcast(SPECIES, 5.0000001201e-1f));
        FloatVector er = p.fma(r.mul(r), r).add(1f);
        IntVector bits = t.reinterpretAsInts().sub(ROUNDING_BITS - 127).lanewise(VectorOperators.LSHL, 23);
        return er.mul(bits.reinterpretAsFloats());
    }

    private static final VectorShuffle<Float> PAIRS = VectorShuffle.fromValues(SPECIES, 1, 0, 3, 2, 5, 4, 7, 6);
    private static final VectorShuffle<Float> QUADS = VectorShuffle.fromValues(SPECIES, 2, 3, 0, 1, 6, 7, 4, 5);
    private static final VectorShuffle<Float> HALVES = VectorShuffle.fromValues(SPECIES, 4, 5, 6, 7, 0, 1, 2, 3);

    /**
     * The lanes' sum in a fixed order, ((0+1)+(2+3))+((4+5)+(6+7)), compiled or not: three shuffled adds in
     * registers (an array copy of the lanes cost 2% of a 64-stream step).
     */
    static float sumLanes(FloatVector v) {
        FloatVector pairs = v.add(v.rearrange(PAIRS));              // lane 0: 0+1, lane 2: 2+3, ...
        FloatVector quads = pairs.add(pairs.rearrange(QUADS));      // lane 0: (0+1)+(2+3), lane 4: (4+5)+(6+7)
        return quads.add(quads.rearrange(HALVES)).lane(0);
    }

    static int roundUp(int n, int multiple) {
        return (n + multiple - 1) / multiple * multiple;
    }

    /** Columns in one block of {@link #pack}'s layout: the width of a {@link #matmulTile}. */
    static final int COLS = 4 * LANES;

    /**
     * {@code w [k, n]} (input-major, {@code n} a multiple of {@link #LANES}) rearranged for {@link #matmul}: blocks
     * of {@link #COLS} columns one after another, each block's {@code k} rows of {@code COLS} floats contiguous
     * ({@code [n / COLS][k][COLS]}), then the last {@code n % COLS} columns the same way ({@code [k][n % COLS]}).
     * A block is then read front to back, one run of memory, by the batch's tiles and by one row alike: in plain
     * {@code [k, n]} order a block's rows lie {@code 4·n} bytes apart (128 KiB for a 32,000-token head), and one
     * row read the weights at 12-15 GB/s against 23-34 GB/s packed (stories15M's shapes, a throwaway probe).
     */
    static float[] pack(float[] w, int k, int n) {
        if (n % LANES != 0 || w.length != k * n) {
            throw new IllegalArgumentException("cannot pack " + w.length + " floats as [" + k + ", " + n + "]");
        }
        float[] packed = new float[k * n];
        for (int c = 0; c < n; c += COLS) {
            int width = Math.min(COLS, n - c);
            for (int i = 0, o = c * k; i < k; i++, o += width) {
                System.arraycopy(w, i * n + c, packed, o, width);
            }
        }
        return packed;
    }

    /**
     * {@code out[r, :] = x[r, :] · w} for rows {@code r < rows}, with {@code w} {@link #pack}ed from {@code [k, n]}
     * and {@code n} a multiple of {@link #LANES}; {@code x} and {@code out} hold {@code roundUp(rows, 4)} rows (the
     * rows past {@code rows} are scratch). Four rows and a block of columns at a time ({@link #matmulTile}), so
     * each weight load feeds four multiply-adds, and one or two rows left over in a two-row tile
     * ({@link #matmulTile2}); then the last columns one vector at a time. Every output is the
     * same sum in the same order however many rows there are (from 0, one fused multiply-add per input in order),
     * so a row gets the same bits alone as in a batch.
     */
    static void matmul(float[] x, int k, float[] w, int n, float[] out, int rows) {
        if (rows == 1) {
            matvec(x, k, w, n, out);
            return;
        }
        int tiled = n / COLS * COLS;
        int quads = rows % 4 == 3 ? rows + 1 : rows / 4 * 4;   // rows in four-row tiles; one or two left over
        // a block of columns for every group of rows before the next block: its weights stay in the L1 cache
        for (int c = 0; c < tiled; c += COLS) {
            for (int r = 0; r < quads; r += 4) {
                matmulTile(x, r * k, k, w, c * k, c, n, out, r * n);
            }
            if (quads < rows) {
                matmulTile2(x, quads * k, k, w, c * k, c, n, out, quads * n);
            }
        }
        int width = n - tiled;
        for (int r = 0; r < rows; r += 4) {
            int x0 = r * k, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
            int o0 = r * n, o1 = o0 + n, o2 = o1 + n, o3 = o2 + n;
            for (int v = 0; v < width; v += LANES) {
                FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
                for (int i = 0, wi = tiled * k + v; i < k; i++, wi += width) {
                    FloatVector w0 = FloatVector.fromArray(SPECIES, w, wi);
                    a0 = w0.fma(FloatVector.broadcast(SPECIES, x[x0 + i]), a0);
                    a1 = w0.fma(FloatVector.broadcast(SPECIES, x[x1 + i]), a1);
                    a2 = w0.fma(FloatVector.broadcast(SPECIES, x[x2 + i]), a2);
                    a3 = w0.fma(FloatVector.broadcast(SPECIES, x[x3 + i]), a3);
                }
                a0.intoArray(out, o0 + tiled + v);
                a1.intoArray(out, o1 + tiled + v);
                a2.intoArray(out, o2 + tiled + v);
                a3.intoArray(out, o3 + tiled + v);
            }
        }
    }

    /**
     * {@link #matmul} of one row: a block's four sums in registers while its weights stream past in order. A
     * four-row tile would do four times the multiply-adds for one useful row.
     */
    private static void matvec(float[] x, int k, float[] w, int n, float[] out) {
        int tiled = n / COLS * COLS;
        for (int c = 0; c < tiled; c += COLS) {
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
            for (int i = 0, wi = c * k; i < k; i++, wi += COLS) {
                FloatVector b = FloatVector.broadcast(SPECIES, x[i]);
                a0 = FloatVector.fromArray(SPECIES, w, wi).fma(b, a0);
                a1 = FloatVector.fromArray(SPECIES, w, wi + LANES).fma(b, a1);
                a2 = FloatVector.fromArray(SPECIES, w, wi + 2 * LANES).fma(b, a2);
                a3 = FloatVector.fromArray(SPECIES, w, wi + 3 * LANES).fma(b, a3);
            }
            a0.intoArray(out, c);
            a1.intoArray(out, c + LANES);
            a2.intoArray(out, c + 2 * LANES);
            a3.intoArray(out, c + 3 * LANES);
        }
        int width = n - tiled;
        for (int v = 0; v < width; v += LANES) {
            FloatVector a = FloatVector.zero(SPECIES);
            for (int i = 0, wi = tiled * k + v; i < k; i++, wi += width) {
                a = FloatVector.fromArray(SPECIES, w, wi).fma(FloatVector.broadcast(SPECIES, x[i]), a);
            }
            a.intoArray(out, tiled + v);
        }
    }

    /**
     * Four rows {@code x[x0 + r·k]} times the packed block of columns {@code [c, c + COLS)} that starts at
     * {@code w[block]}: sixteen sums in registers, each weight load feeding four multiply-adds and each broadcast
     * four (AVX-512 has the 32 vector registers this needs).
     */
    private static void matmulTile(float[] x, int x0, int k, float[] w, int block, int c, int n, float[] out, int o0) {
        FloatVector a00 = FloatVector.zero(SPECIES), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int i = 0, wi = block; i < k; i++, wi += COLS) {
            FloatVector w0 = FloatVector.fromArray(SPECIES, w, wi);
            FloatVector w1 = FloatVector.fromArray(SPECIES, w, wi + LANES);
            FloatVector w2 = FloatVector.fromArray(SPECIES, w, wi + 2 * LANES);
            FloatVector w3 = FloatVector.fromArray(SPECIES, w, wi + 3 * LANES);
            FloatVector b = FloatVector.broadcast(SPECIES, x[x0 + i]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            a02 = w2.fma(b, a02);
            a03 = w3.fma(b, a03);
            b = FloatVector.broadcast(SPECIES, x[x0 + k + i]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
            a12 = w2.fma(b, a12);
            a13 = w3.fma(b, a13);
            b = FloatVector.broadcast(SPECIES, x[x0 + 2 * k + i]);
            a20 = w0.fma(b, a20);
            a21 = w1.fma(b, a21);
            a22 = w2.fma(b, a22);
            a23 = w3.fma(b, a23);
            b = FloatVector.broadcast(SPECIES, x[x0 + 3 * k + i]);
            a30 = w0.fma(b, a30);
            a31 = w1.fma(b, a31);
            a32 = w2.fma(b, a32);
            a33 = w3.fma(b, a33);
        }
        int o1 = o0 + n, o2 = o1 + n, o3 = o2 + n;
        a00.intoArray(out, o0 + c);
        a01.intoArray(out, o0 + c + LANES);
        a02.intoArray(out, o0 + c + 2 * LANES);
        a03.intoArray(out, o0 + c + 3 * LANES);
        a10.intoArray(out, o1 + c);
        a11.intoArray(out, o1 + c + LANES);
        a12.intoArray(out, o1 + c + 2 * LANES);
        a13.intoArray(out, o1 + c + 3 * LANES);
        a20.intoArray(out, o2 + c);
        a21.intoArray(out, o2 + c + LANES);
        a22.intoArray(out, o2 + c + 2 * LANES);
        a23.intoArray(out, o2 + c + 3 * LANES);
        a30.intoArray(out, o3 + c);
        a31.intoArray(out, o3 + c + LANES);
        a32.intoArray(out, o3 + c + 2 * LANES);
        a33.intoArray(out, o3 + c + 3 * LANES);
    }

    /**
     * {@link #matmulTile} for two rows: eight sums, each weight load feeding two multiply-adds; the same sums in
     * the same order, so the same bits. A batch of 4m + 1 or 4m + 2 rows (a group of two streams, or what is left of
     * a batch whose sequences are finishing) then computes at most one padding row instead of two or three.
     */
    private static void matmulTile2(float[] x, int x0, int k, float[] w, int block, int c, int n, float[] out,
                                    int o0) {
        FloatVector a00 = FloatVector.zero(SPECIES), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        for (int i = 0, wi = block; i < k; i++, wi += COLS) {
            FloatVector w0 = FloatVector.fromArray(SPECIES, w, wi);
            FloatVector w1 = FloatVector.fromArray(SPECIES, w, wi + LANES);
            FloatVector w2 = FloatVector.fromArray(SPECIES, w, wi + 2 * LANES);
            FloatVector w3 = FloatVector.fromArray(SPECIES, w, wi + 3 * LANES);
            FloatVector b = FloatVector.broadcast(SPECIES, x[x0 + i]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            a02 = w2.fma(b, a02);
            a03 = w3.fma(b, a03);
            b = FloatVector.broadcast(SPECIES, x[x0 + k + i]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
            a12 = w2.fma(b, a12);
            a13 = w3.fma(b, a13);
        }
        int o1 = o0 + n;
        a00.intoArray(out, o0 + c);
        a01.intoArray(out, o0 + c + LANES);
        a02.intoArray(out, o0 + c + 2 * LANES);
        a03.intoArray(out, o0 + c + 3 * LANES);
        a10.intoArray(out, o1 + c);
        a11.intoArray(out, o1 + c + LANES);
        a12.intoArray(out, o1 + c + 2 * LANES);
        a13.intoArray(out, o1 + c + 3 * LANES);
    }

    /**
     * Attention scores of one query head against one key/value head's cached keys, stored in tiles
     * {@code [capacity / LANES][Dh][LANES]} from {@code keys[k0]}: {@code scores[j] = Σ_d q[d]·K[d][j]} for {@code j < s}, q already scaled by 1/√Dh, −∞ for
     * {@code s <= j < roundUp(s, LANES)}. Four blocks of positions at a time (four independent sums: one sum's
     * multiply-adds wait on each other).
     *
     * @return the largest score
     */
    static float scores(float[] q, int q0, int dh, float[] keys, int k0, int s, float[] scores) {
        int end = roundUp(s, LANES);
        int tile = dh * LANES;
        int j = 0;
        for (; j + BLOCK <= end; j += BLOCK) {
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
            for (int d = 0, kd = k0 + j * dh; d < dh; d++, kd += LANES) {
                FloatVector qd = FloatVector.broadcast(SPECIES, q[q0 + d]);
                a0 = FloatVector.fromArray(SPECIES, keys, kd).fma(qd, a0);
                a1 = FloatVector.fromArray(SPECIES, keys, kd + tile).fma(qd, a1);
                a2 = FloatVector.fromArray(SPECIES, keys, kd + 2 * tile).fma(qd, a2);
                a3 = FloatVector.fromArray(SPECIES, keys, kd + 3 * tile).fma(qd, a3);
            }
            a0.intoArray(scores, j);
            a1.intoArray(scores, j + LANES);
            a2.intoArray(scores, j + 2 * LANES);
            a3.intoArray(scores, j + 3 * LANES);
        }
        for (; j < end; j += LANES) {       // the last tiles, one at a time
            FloatVector a = FloatVector.zero(SPECIES);
            for (int d = 0, kd = k0 + j * dh; d < dh; d++, kd += LANES) {
                a = FloatVector.fromArray(SPECIES, keys, kd).fma(FloatVector.broadcast(SPECIES, q[q0 + d]), a);
            }
            a.intoArray(scores, j);
        }
        return maskedMax(scores, 0, s);
    }

    /**
     * {@link #scores} of two query heads that share one key/value head (grouped-query attention), each key vector
     * loaded once for both: head a's scores into {@code scores[0, roundUp(s, LANES))}, head b's from
     * {@code scores[b0]}, each rounded and summed as {@link #scores} does, so the bits are the same. Positions
     * past {@code s} are left unmasked: {@link #maskedMax} masks them.
     */
    static void scoresOfPair(float[] q, int qa, int qb, int dh, float[] keys, int k0, int s,
                             float[] scores, int b0) {
        if (dh == LANES) {
            scoresOfPairOneVector(q, qa, qb, keys, k0, s, scores, b0);
        } else {
            scoresOfPairAnyWidth(q, qa, qb, dh, keys, k0, s, scores, b0);
        }
    }

    /** {@link #scoresOfPair} for any head width that is a multiple of {@link #LANES}. */
    static void scoresOfPairAnyWidth(float[] q, int qa, int qb, int dh, float[] keys, int k0, int s,
                                     float[] scores, int b0) {
        int end = roundUp(s, LANES);
        int tile = dh * LANES;
        int j = 0;
        for (; j + BLOCK <= end; j += BLOCK) {
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
            FloatVector b1 = a0, b2 = a0, b3 = a0, b4 = a0;
            for (int d = 0, kd = k0 + j * dh; d < dh; d++, kd += LANES) {
                FloatVector qA = FloatVector.broadcast(SPECIES, q[qa + d]);
                FloatVector qB = FloatVector.broadcast(SPECIES, q[qb + d]);
                FloatVector k1 = FloatVector.fromArray(SPECIES, keys, kd);
                FloatVector k2 = FloatVector.fromArray(SPECIES, keys, kd + tile);
                FloatVector k3 = FloatVector.fromArray(SPECIES, keys, kd + 2 * tile);
                FloatVector k4 = FloatVector.fromArray(SPECIES, keys, kd + 3 * tile);
                a0 = k1.fma(qA, a0);
                a1 = k2.fma(qA, a1);
                a2 = k3.fma(qA, a2);
                a3 = k4.fma(qA, a3);
                b1 = k1.fma(qB, b1);
                b2 = k2.fma(qB, b2);
                b3 = k3.fma(qB, b3);
                b4 = k4.fma(qB, b4);
            }
            a0.intoArray(scores, j);
            a1.intoArray(scores, j + LANES);
            a2.intoArray(scores, j + 2 * LANES);
            a3.intoArray(scores, j + 3 * LANES);
            b1.intoArray(scores, b0 + j);
            b2.intoArray(scores, b0 + j + LANES);
            b3.intoArray(scores, b0 + j + 2 * LANES);
            b4.intoArray(scores, b0 + j + 3 * LANES);
        }
        for (; j < end; j += LANES) {       // the last tiles, one at a time
            FloatVector a = FloatVector.zero(SPECIES), b = a;
            for (int d = 0, kd = k0 + j * dh; d < dh; d++, kd += LANES) {
                FloatVector k = FloatVector.fromArray(SPECIES, keys, kd);
                a = k.fma(FloatVector.broadcast(SPECIES, q[qa + d]), a);
                b = k.fma(FloatVector.broadcast(SPECIES, q[qb + d]), b);
            }
            a.intoArray(scores, j);
            b.intoArray(scores, b0 + j);
        }
    }

    /**
     * {@link #scoresOfPairAnyWidth} for a head width of exactly {@link #LANES}, with the same sums in the same
     * order: the key tiles' offsets are constants, so C2 folds their range checks (see
     * {@link #weightedValuesOfPairOneVector}). A near copy on purpose: C2 does not specialise a method this
     * size for a constant argument, and the general loops with {@code dh} in their offsets ran 1.3-1.5x slower in
     * a probe.
     */
    private static void scoresOfPairOneVector(float[] q, int qa, int qb, float[] keys, int k0, int s, float[] scores,
                                      int b0) {
        int end = roundUp(s, LANES);
        final int tile = LANES * LANES;
        int j = 0;
        for (; j + BLOCK <= end; j += BLOCK) {
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
            FloatVector b1 = a0, b2 = a0, b3 = a0, b4 = a0;
            int kj = k0 + j * LANES;
            for (int d = 0; d < LANES; d++) {
                int kd = kj + d * LANES;
                FloatVector qA = FloatVector.broadcast(SPECIES, q[qa + d]);
                FloatVector qB = FloatVector.broadcast(SPECIES, q[qb + d]);
                FloatVector k1 = FloatVector.fromArray(SPECIES, keys, kd);
                FloatVector k2 = FloatVector.fromArray(SPECIES, keys, kd + tile);
                FloatVector k3 = FloatVector.fromArray(SPECIES, keys, kd + 2 * tile);
                FloatVector k4 = FloatVector.fromArray(SPECIES, keys, kd + 3 * tile);
                a0 = k1.fma(qA, a0);
                a1 = k2.fma(qA, a1);
                a2 = k3.fma(qA, a2);
                a3 = k4.fma(qA, a3);
                b1 = k1.fma(qB, b1);
                b2 = k2.fma(qB, b2);
                b3 = k3.fma(qB, b3);
                b4 = k4.fma(qB, b4);
            }
            a0.intoArray(scores, j);
            a1.intoArray(scores, j + LANES);
            a2.intoArray(scores, j + 2 * LANES);
            a3.intoArray(scores, j + 3 * LANES);
            b1.intoArray(scores, b0 + j);
            b2.intoArray(scores, b0 + j + LANES);
            b3.intoArray(scores, b0 + j + 2 * LANES);
            b4.intoArray(scores, b0 + j + 3 * LANES);
        }
        for (; j < end; j += LANES) {       // the last tiles, one at a time
            FloatVector a = FloatVector.zero(SPECIES), b = a;
            int kj = k0 + j * LANES;
            for (int d = 0; d < LANES; d++) {
                FloatVector k = FloatVector.fromArray(SPECIES, keys, kj + d * LANES);
                a = k.fma(FloatVector.broadcast(SPECIES, q[qa + d]), a);
                b = k.fma(FloatVector.broadcast(SPECIES, q[qb + d]), b);
            }
            a.intoArray(scores, j);
            b.intoArray(scores, b0 + j);
        }
    }

    /**
     * Sets {@code scores[o + j] = −∞} for {@code s <= j < roundUp(s, LANES)}.
     *
     * @return the largest of {@code scores[o, o + roundUp(s, LANES))}
     */
    static float maskedMax(float[] scores, int o, int s) {
        int end = roundUp(s, LANES);
        for (int j = s; j < end; j++) {
            scores[o + j] = Float.NEGATIVE_INFINITY;
        }
        // two running maxima by compare and blend: a chain of Java's lane-wise max (which also orders NaN and
        // −0) cost twice as long. A blend skips a NaN score, whose own exponential makes the sum NaN anyway.
        FloatVector m0 = FloatVector.broadcast(SPECIES, Float.NEGATIVE_INFINITY), m1 = m0;
        int j = 0;
        for (; j + 2 * LANES <= end; j += 2 * LANES) {
            FloatVector a = FloatVector.fromArray(SPECIES, scores, o + j);
            FloatVector b = FloatVector.fromArray(SPECIES, scores, o + j + LANES);
            m0 = m0.blend(a, m0.lt(a));
            m1 = m1.blend(b, m1.lt(b));
        }
        if (j < end) {
            FloatVector a = FloatVector.fromArray(SPECIES, scores, o + j);
            m0 = m0.blend(a, m0.lt(a));
        }
        return maxLanes(m0.max(m1));
    }

    /** The largest lane, by three shuffled maxima (the result does not depend on their order). */
    static float maxLanes(FloatVector v) {
        FloatVector pairs = v.max(v.rearrange(PAIRS));
        FloatVector quads = pairs.max(pairs.rearrange(QUADS));
        return quads.max(quads.rearrange(HALVES)).lane(0);
    }

    /**
     * Turns {@code scores[o, o + roundUp(s, LANES))} into {@code exp(score − max)} in place (masked positions become 0).
     *
     * @return their sum
     */
    static float exponentiate(float[] scores, int o, int s, float max) {
        int end = o + roundUp(s, LANES);
        // one exp per pass: two made the loop too large for C2 to inline the Vector API's calls (the profile
        // showed the multiply's per-lane Java fallback)
        FloatVector sum = FloatVector.zero(SPECIES);
        FloatVector m = FloatVector.broadcast(SPECIES, max);
        for (int j = o; j < end; j += LANES) {
            FloatVector e = expOfNonPositive(FloatVector.fromArray(SPECIES, scores, j).sub(m));
            e.intoArray(scores, j);
            sum = sum.add(e);
        }
        return sumLanes(sum);
    }

    /**
     * {@code out[o0 + d] = Σ_j weights[j]·V[j][d] · scale} over {@code j < roundUp(s, LANES)} (the weights of masked
     * positions are 0), with the values stored {@code [capacity][Dh]} from {@code values[v0]}, for a head width
     * {@code dh} that is a multiple of {@link #LANES}. Four positions at a time, into four sums.
     */
    static void weightedValues(float[] weights, int s, float scale, float[] values, int v0, int dh, float[] out,
                               int o0) {
        int end = roundUp(s, LANES);
        for (int c = 0; c < dh; c += LANES) {
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
            for (int j = 0, vj = v0 + c; j < end; j += 4, vj += 4 * dh) {
                a0 = FloatVector.fromArray(SPECIES, values, vj).fma(FloatVector.broadcast(SPECIES, weights[j]), a0);
                a1 = FloatVector.fromArray(SPECIES, values, vj + dh).fma(FloatVector.broadcast(SPECIES, weights[j + 1]), a1);
                a2 = FloatVector.fromArray(SPECIES, values, vj + 2 * dh)
                        .fma(FloatVector.broadcast(SPECIES, weights[j + 2]), a2);
                a3 = FloatVector.fromArray(SPECIES, values, vj + 3 * dh)
                        .fma(FloatVector.broadcast(SPECIES, weights[j + 3]), a3);
            }
            a0.add(a1).add(a2.add(a3)).mul(scale).intoArray(out, o0 + c);
        }
    }

    /**
     * {@link #weightedValues} of two query heads sharing one value head, each value vector loaded once for both:
     * head a's weights {@code weights[0, …)} into {@code out[oa]}, head b's {@code weights[b0, …)} into
     * {@code out[ob]}, each summed in {@link #weightedValues}'s order, so the bits are the same.
     */
    static void weightedValuesOfPair(float[] weights, int b0, int s, float scaleA, float scaleB, float[] values,
                                     int v0, int dh, float[] out, int oa, int ob) {
        if (dh == LANES) {
            weightedValuesOfPairOneVector(weights, b0, s, scaleA, scaleB, values, v0, out, oa, ob);
        } else {
            weightedValuesOfPairAnyWidth(weights, b0, s, scaleA, scaleB, values, v0, dh, out, oa, ob);
        }
    }

    /** {@link #weightedValuesOfPair} for any head width that is a multiple of {@link #LANES}. */
    static void weightedValuesOfPairAnyWidth(float[] weights, int b0, int s, float scaleA, float scaleB,
                                             float[] values, int v0, int dh, float[] out, int oa, int ob) {
        int end = roundUp(s, LANES);
        for (int c = 0; c < dh; c += LANES) {
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
            FloatVector b1 = a0, b2 = a0, b3 = a0, b4 = a0;
            for (int j = 0, vj = v0 + c; j < end; j += 4, vj += 4 * dh) {
                FloatVector v1 = FloatVector.fromArray(SPECIES, values, vj);
                FloatVector v2 = FloatVector.fromArray(SPECIES, values, vj + dh);
                FloatVector v3 = FloatVector.fromArray(SPECIES, values, vj + 2 * dh);
                FloatVector v4 = FloatVector.fromArray(SPECIES, values, vj + 3 * dh);
                a0 = v1.fma(FloatVector.broadcast(SPECIES, weights[j]), a0);
                a1 = v2.fma(FloatVector.broadcast(SPECIES, weights[j + 1]), a1);
                a2 = v3.fma(FloatVector.broadcast(SPECIES, weights[j + 2]), a2);
                a3 = v4.fma(FloatVector.broadcast(SPECIES, weights[j + 3]), a3);
                b1 = v1.fma(FloatVector.broadcast(SPECIES, weights[b0 + j]), b1);
                b2 = v2.fma(FloatVector.broadcast(SPECIES, weights[b0 + j + 1]), b2);
                b3 = v3.fma(FloatVector.broadcast(SPECIES, weights[b0 + j + 2]), b3);
                b4 = v4.fma(FloatVector.broadcast(SPECIES, weights[b0 + j + 3]), b4);
            }
            a0.add(a1).add(a2.add(a3)).mul(scaleA).intoArray(out, oa + c);
            b1.add(b2).add(b3.add(b4)).mul(scaleB).intoArray(out, ob + c);
        }
    }

    /**
     * {@link #weightedValuesOfPairAnyWidth} for a head width of exactly {@link #LANES} (stories260K's 8), with
     * the same sums in the same order: every index is the loop's plus a constant, so C2 folds the four vector
     * loads' range checks into two and keeps the loop's addresses in registers (the general loop's disassembly
     * showed four checks and three stack reloads per iteration of eight multiply-adds).
     */
    private static void weightedValuesOfPairOneVector(float[] weights, int b0, int s, float scaleA, float scaleB,
                                              float[] values, int v0, float[] out, int oa, int ob) {
        int end = roundUp(s, LANES);
        FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
        FloatVector b1 = a0, b2 = a0, b3 = a0, b4 = a0;
        for (int j = 0; j < end; j += 4) {
            int vj = v0 + j * LANES;
            FloatVector v1 = FloatVector.fromArray(SPECIES, values, vj);
            FloatVector v2 = FloatVector.fromArray(SPECIES, values, vj + LANES);
            FloatVector v3 = FloatVector.fromArray(SPECIES, values, vj + 2 * LANES);
            FloatVector v4 = FloatVector.fromArray(SPECIES, values, vj + 3 * LANES);
            a0 = v1.fma(FloatVector.broadcast(SPECIES, weights[j]), a0);
            a1 = v2.fma(FloatVector.broadcast(SPECIES, weights[j + 1]), a1);
            a2 = v3.fma(FloatVector.broadcast(SPECIES, weights[j + 2]), a2);
            a3 = v4.fma(FloatVector.broadcast(SPECIES, weights[j + 3]), a3);
            b1 = v1.fma(FloatVector.broadcast(SPECIES, weights[b0 + j]), b1);
            b2 = v2.fma(FloatVector.broadcast(SPECIES, weights[b0 + j + 1]), b2);
            b3 = v3.fma(FloatVector.broadcast(SPECIES, weights[b0 + j + 2]), b3);
            b4 = v4.fma(FloatVector.broadcast(SPECIES, weights[b0 + j + 3]), b4);
        }
        a0.add(a1).add(a2.add(a3)).mul(scaleA).intoArray(out, oa);
        b1.add(b2).add(b3.add(b4)).mul(scaleB).intoArray(out, ob);
    }

    /** As {@link #weightedValues} for any head width, one float at a time: the path for {@code dh % LANES != 0}. */
    static void weightedValuesScalar(float[] weights, int s, float scale, float[] values, int v0, int dh,
                                     float[] out, int o0) {
        for (int d = 0; d < dh; d++) {
            float acc = 0;
            for (int j = 0; j < s; j++) {
                acc += weights[j] * values[v0 + j * dh + d];
            }
            out[o0 + d] = acc * scale;
        }
    }

    /** −1 in the low half, 1 in the high: {@code cat(−x2, x1)} from {@code cat(x2, x1)}. */
    private static final FloatVector LOW_HALF_NEGATED = FloatVector.fromArray(SPECIES,
            new float[] {-1f, -1f, -1f, -1f, 1f, 1f, 1f, 1f}, 0);

    /**
     * The rotary embedding ("rotate half") of one head of exactly {@link #LANES} floats at {@code x[o]}, in
     * place: {@code x·cos + cat(−x2, x1)·sin} with {@code cos} and {@code sin} from {@code [t]}. Each lane is the
     * scalar form's two rounded products and one rounded sum ({@code a·c − b·s} is {@code a·c + (−b)·s}
     * exactly), so the bits are {@code VectorDecoder}'s scalar rotation's.
     */
    static void rotateOneVector(float[] x, int o, float[] cos, float[] sin, int t) {
        FloatVector v = FloatVector.fromArray(SPECIES, x, o);
        FloatVector swapped = v.rearrange(HALVES).mul(LOW_HALF_NEGATED);
        v.mul(FloatVector.fromArray(SPECIES, cos, t)).add(swapped.mul(FloatVector.fromArray(SPECIES, sin, t)))
                .intoArray(x, o);
    }

    /**
     * RMSNorm of one row, {@code out[o0 + i] = x[x0 + i] · inv · w[i]} with {@code inv = 1 / sqrt(Σ x² / c + eps)}
     * ({@code out} may be {@code x} at the same offset). The squares are summed in {@link #LANES} fused partial
     * sums (lane l holds the elements l, l + LANES, ...), then {@link #sumLanes}, then the last {@code c % LANES}
     * in order: one float add after another had made the sum a 64-add latency chain (~1 µs of a 21 µs
     * stories260K token at 64 streams, 11 norms a token).
     */
    static void rmsNorm(float[] x, int x0, float[] w, float[] out, int o0, int c, float eps) {
        FloatVector squares = FloatVector.zero(SPECIES);
        int i = 0;
        for (; i + LANES <= c; i += LANES) {
            FloatVector v = FloatVector.fromArray(SPECIES, x, x0 + i);
            squares = v.fma(v, squares);
        }
        float ss = sumLanes(squares);
        for (int j = i; j < c; j++) {
            ss += x[x0 + j] * x[x0 + j];
        }
        float inv = (float) (1.0 / Math.sqrt(ss / c + eps));
        for (i = 0; i + LANES <= c; i += LANES) {
            FloatVector.fromArray(SPECIES, x, x0 + i).mul(inv).mul(FloatVector.fromArray(SPECIES, w, i))
                    .intoArray(out, o0 + i);
        }
        for (; i < c; i++) {
            out[o0 + i] = x[x0 + i] * inv * w[i];
        }
    }

    /** {@code out[i] = silu(gate[i])·up[i]} for {@code i < n} (n a multiple of {@link #LANES}), silu(g) = g / (1 + e^−g). */
    static void swiGlu(float[] gateUp, int gate0, int up0, float[] out, int o0, int n) {
        for (int i = 0; i < n; i += LANES) {
            FloatVector g = FloatVector.fromArray(SPECIES, gateUp, gate0 + i);
            FloatVector u = FloatVector.fromArray(SPECIES, gateUp, up0 + i);
            g.div(exp(g.neg()).add(1f)).mul(u).intoArray(out, o0 + i);
        }
    }

    /** Log-softmax of {@code logits[l0, l0 + v)} into {@code out[o0, o0 + v)}; v a multiple of {@link #LANES}. */
    static void logSoftmax(float[] logits, int l0, int v, float[] out, int o0) {
        // the max in its own loop, not maskedMax: inlining that too put this method past C2's node budget, and
        // the exponential's bit casts then ran as Java calls (a profile showed them at 2% of a step)
        FloatVector running = FloatVector.broadcast(SPECIES, Float.NEGATIVE_INFINITY);
        for (int j = 0; j < v; j += LANES) {
            FloatVector x = FloatVector.fromArray(SPECIES, logits, l0 + j);
            running = running.blend(x, running.lt(x));
        }
        float m = maxLanes(running);
        FloatVector mv = FloatVector.broadcast(SPECIES, m);
        FloatVector sum = FloatVector.zero(SPECIES);
        for (int j = 0; j < v; j += LANES) {
            sum = sum.add(expOfNonPositive(FloatVector.fromArray(SPECIES, logits, l0 + j).sub(mv)));
        }
        float logSum = m + (float) Math.log(sumLanes(sum));
        for (int j = 0; j < v; j += LANES) {
            FloatVector.fromArray(SPECIES, logits, l0 + j).sub(logSum).intoArray(out, o0 + j);
        }
    }
}
