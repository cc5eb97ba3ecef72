package steer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * The two kernels that replace the Vector API's EXP and ADD reduction, whose bits differ between compiled and
 * interpreted code: they are a fixed formula, bit for bit, and the formula is e^x to a few ulp. And the packed
 * matmul: each output is the in-order sum of fused multiply-adds, whatever the rows and widths.
 */
class VectorKernelsTest {

    @Test
    void expIsCephesFormulaBitForBitAndCloseToMathExp() {
        Random random = new Random(1);
        float[] x = new float[VectorKernels.LANES];
        double worst = 0;
        for (int trial = 0; trial < 20_000; trial++) {
            for (int i = 0; i < x.length; i++) {
                x[i] = (random.nextFloat() * 2 - 1) * (trial % 2 == 0 ? 87f : 10f);
            }
            float[] y = VectorKernels.exp(FloatVector.fromArray(VectorKernels.SPECIES, x, 0)).toArray();
            for (int i = 0; i < x.length; i++) {
                assertEquals(Float.floatToRawIntBits(scalarExp(x[i])), Float.floatToRawIntBits(y[i]), "e^" + x[i]);
                worst = Math.max(worst, Math.abs(y[i] - Math.exp(x[i])) / Math.ulp((float) Math.exp(x[i])));
            }
        }
        assertTrue(worst <= 2, "within 2 ulp of Math.exp, worst " + worst);
        float[] edges = {0f, Float.NEGATIVE_INFINITY, -87.7f, -1000f, 88.5f, Float.POSITIVE_INFINITY, Float.NaN, -0f};
        float[] y = VectorKernels.exp(FloatVector.fromArray(VectorKernels.SPECIES, edges, 0)).toArray();
        assertEquals(1f, y[0]);
        assertEquals(0f, y[1], "e^-inf, a masked score's weight");
        assertEquals(0f, y[2]);
        assertEquals(0f, y[3]);
        assertEquals(Float.POSITIVE_INFINITY, y[4]);
        assertEquals(Float.POSITIVE_INFINITY, y[5]);
        assertTrue(Float.isNaN(y[6]));
        assertEquals(1f, y[7]);
        float[] small = {-87.3f, -87.5f, -87.6f, 88.3f, 88.37f, -20f, 20f, -0.5f};
        float[] z = VectorKernels.exp(FloatVector.fromArray(VectorKernels.SPECIES, small, 0)).toArray();
        for (int i = 0; i < small.length; i++) {
            // the smallest keep 2^-126·e^r, rounded once to a subnormal: within a subnormal's ulp (1.4e-45) of e^x
            double ulps = Math.abs(z[i] - Math.exp(small[i])) / Math.ulp((float) Math.exp(small[i]));
            assertTrue(ulps <= 2, "e^" + small[i] + " = " + z[i] + ", " + ulps + " ulp from " + Math.exp(small[i]));
        }
    }

    @Test
    void expOfNonPositiveHasExpsBitsAtAndBelowZero() {
        Random random = new Random(3);
        float[] x = new float[VectorKernels.LANES];
        for (int trial = 0; trial < 20_000; trial++) {
            for (int i = 0; i < x.length; i++) {
                x[i] = -random.nextFloat() * (trial % 3 == 0 ? 200f : trial % 3 == 1 ? 90f : 5f);
            }
            assertSameBits(VectorKernels.exp(FloatVector.fromArray(VectorKernels.SPECIES, x, 0)).toArray(),
                    VectorKernels.expOfNonPositive(FloatVector.fromArray(VectorKernels.SPECIES, x, 0)).toArray(), x);
        }
        float[] edges = {0f, -0f, Float.NEGATIVE_INFINITY, Float.NaN, -88f, -87.99999f, -88.00001f, -Float.MIN_VALUE};
        FloatVector edgeVector = FloatVector.fromArray(VectorKernels.SPECIES, edges, 0);
        assertSameBits(VectorKernels.exp(edgeVector).toArray(), VectorKernels.expOfNonPositive(edgeVector).toArray(),
                edges);
    }

    @Test
    void maskedMaxMasksTheLastTileAndFindsTheLargestScore() {
        Random random = new Random(4);
        for (int s = 1; s <= 70; s++) {
            float[] scores = new float[3 + VectorKernels.roundUp(s, VectorKernels.LANES) + 5];
            for (int i = 0; i < scores.length; i++) {
                scores[i] = random.nextFloat() * 20 - 10;
            }
            scores[3 + random.nextInt(s)] = 50f;      // the largest, at a random real position
            for (int j = s; j < scores.length - 3; j++) {
                scores[3 + j] = 99f;                   // stale scores past s (masked) and past the last tile (unread)
            }
            float max = VectorKernels.maskedMax(scores, 3, s);
            assertEquals(50f, max, "s " + s);
            for (int j = s; j < VectorKernels.roundUp(s, VectorKernels.LANES); j++) {
                assertEquals(Float.NEGATIVE_INFINITY, scores[3 + j], "s " + s + ", masked position " + j);
            }
        }
        float[] negative = new float[2 * VectorKernels.LANES];
        System.arraycopy(new float[] {-3f, -0f, -7f, -1e30f, -2f, -5f, -9f, -1f, -4f}, 0, negative, 0, 9);
        assertEquals(-0f, VectorKernels.maskedMax(negative, 0, 9), 0f);
    }

    @Test
    void logSoftmaxIsTheLogOfNormalisedExponentials() {
        Random random = new Random(5);
        float[] logits = new float[64];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = random.nextFloat() * 30 - 15;
        }
        logits[60] = Float.NEGATIVE_INFINITY;          // a padded column
        float[] out = new float[64];
        VectorKernels.logSoftmax(logits, 0, 64, out, 0);
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        for (float l : logits) {
            sum += Math.exp(l - max);
        }
        for (int i = 0; i < logits.length; i++) {
            double expected = logits[i] - max - Math.log(sum);
            if (i == 60) {
                assertEquals(Float.NEGATIVE_INFINITY, out[i]);
            } else {
                assertEquals(expected, out[i], 2e-5, "log-prob " + i);
            }
        }
    }

    @Test
    void oneVectorHeadKernelsGiveTheGeneralKernelsBits() {
        Random random = new Random(6);
        int lanes = VectorKernels.LANES, capacity = 160;
        float[] keys = new float[3 * capacity * lanes], values = new float[3 * capacity * lanes];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = random.nextFloat() * 2 - 1;
            values[i] = random.nextFloat() * 2 - 1;
        }
        float[] q = new float[4 * lanes];
        for (int i = 0; i < q.length; i++) {
            q[i] = random.nextFloat() * 2 - 1;
        }
        int k0 = capacity * lanes;                     // the second of three heads' runs
        for (int s = 1; s <= capacity; s += s < 40 ? 1 : 7) {
            float[] general = new float[2 * capacity], special = new float[2 * capacity];
            VectorKernels.scoresOfPairAnyWidth(q, lanes, 2 * lanes, lanes, keys, k0, s, general, capacity);
            VectorKernels.scoresOfPair(q, lanes, 2 * lanes, lanes, keys, k0, s, special, capacity);
            for (int j = 0; j < VectorKernels.roundUp(s, lanes); j++) {
                assertEquals(Float.floatToRawIntBits(general[j]), Float.floatToRawIntBits(special[j]),
                        "s " + s + ", a " + j);
                assertEquals(Float.floatToRawIntBits(general[capacity + j]),
                        Float.floatToRawIntBits(special[capacity + j]), "s " + s + ", b " + j);
            }
            float sumA = VectorKernels.exponentiate(general, 0, s, VectorKernels.maskedMax(general, 0, s));
            float sumB = VectorKernels.exponentiate(general, capacity, s,
                    VectorKernels.maskedMax(general, capacity, s));
            float[] outGeneral = new float[4 * lanes], outSpecial = new float[4 * lanes];
            VectorKernels.weightedValuesOfPairAnyWidth(general, capacity, s, 1 / sumA, 1 / sumB, values, k0, lanes,
                    outGeneral, lanes, 3 * lanes);
            VectorKernels.weightedValuesOfPair(general, capacity, s, 1 / sumA, 1 / sumB, values, k0, lanes,
                    outSpecial, lanes, 3 * lanes);
            for (int d = 0; d < outGeneral.length; d++) {
                assertEquals(Float.floatToRawIntBits(outGeneral[d]), Float.floatToRawIntBits(outSpecial[d]),
                        "s " + s + ", out " + d);
            }
            assertTrue(outSpecial[lanes] != 0 && outSpecial[3 * lanes] != 0, "both heads were written");
        }
    }

    @Test
    void oneVectorRotationIsTheScalarRotationBitForBit() {
        int dh = VectorKernels.LANES, half = dh / 2;
        float[][] tables = Decoder.rotaryTables(512, dh, 10000, null);
        Random random = new Random(7);
        float[] x = new float[3 * dh];
        for (int pos = 0; pos < 512; pos += 3) {
            for (int i = 0; i < x.length; i++) {
                x[i] = random.nextFloat() * 4 - 2;
            }
            x[dh + 1] = pos % 2 == 0 ? -0f : 0f;
            float[] expected = x.clone();
            int t = pos * dh;
            for (int i = 0; i < half; i++) {            // VectorDecoder's scalar rotation of the head at dh
                float a = expected[dh + i], b = expected[dh + i + half];
                expected[dh + i] = a * tables[0][t + i] - b * tables[1][t + i];
                expected[dh + i + half] = b * tables[0][t + i + half] + a * tables[1][t + i + half];
            }
            VectorKernels.rotateOneVector(x, dh, tables[0], tables[1], t);
            for (int i = 0; i < x.length; i++) {
                assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(x[i]),
                        "position " + pos + ", lane " + i);
            }
        }
    }

    private static void assertSameBits(float[] expected, float[] actual, float[] x) {
        for (int i = 0; i < x.length; i++) {
            assertTrue(Float.floatToRawIntBits(expected[i]) == Float.floatToRawIntBits(actual[i])
                    || Float.isNaN(expected[i]) && Float.isNaN(actual[i]), "e^" + x[i] + ": " + expected[i]
                    + " against " + actual[i]);
        }
    }

    @Test
    void sumLanesAddsInAFixedPairwiseOrder() {
        float[] v = {1e8f, 1f, -1e8f, 1f, 3f, 1e-8f, 0.1f, 0.2f};
        float expected = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
        assertEquals(expected, VectorKernels.sumLanes(FloatVector.fromArray(VectorKernels.SPECIES, v, 0)));
        float sequential = 0;
        for (float f : v) {
            sequential += f;
        }
        assertTrue(expected != sequential, "the order matters for these numbers: " + expected + " " + sequential);
    }

    @Test
    void rmsNormIsTheNormOfADoubleReferenceWithItsSumOrderFixed() {
        Random random = new Random(4);
        float eps = 1e-5f;
        for (int c : new int[] {1, 7, 8, 13, 64, 70, 896}) {
            float[] x = new float[3 + c], w = new float[c];
            for (int i = 0; i < c; i++) {
                x[3 + i] = (random.nextFloat() * 2 - 1) * 4;
                w[i] = random.nextFloat() + 0.5f;
            }
            double ss = 0;
            for (int i = 0; i < c; i++) {
                ss += (double) x[3 + i] * x[3 + i];
            }
            double inv = 1 / Math.sqrt(ss / c + eps);
            float[] out = new float[2 + c];
            VectorKernels.rmsNorm(x, 3, w, out, 2, c, eps);
            // the partial sums as documented: lane l of LANES fused sums, then sumLanes, then the tail in order
            float[] lanes = new float[VectorKernels.LANES];
            int whole = c / VectorKernels.LANES * VectorKernels.LANES;
            for (int i = 0; i < whole; i++) {
                lanes[i % VectorKernels.LANES] = Math.fma(x[3 + i], x[3 + i], lanes[i % VectorKernels.LANES]);
            }
            float sum = VectorKernels.sumLanes(FloatVector.fromArray(VectorKernels.SPECIES, lanes, 0));
            for (int i = whole; i < c; i++) {
                sum += x[3 + i] * x[3 + i];
            }
            float invF = (float) (1.0 / Math.sqrt(sum / c + eps));
            for (int i = 0; i < c; i++) {
                assertEquals(Float.floatToRawIntBits(x[3 + i] * invF * w[i]), Float.floatToRawIntBits(out[2 + i]),
                        "c " + c + ", element " + i);
                assertEquals(x[3 + i] * inv * w[i], out[2 + i], 1e-5 * Math.abs(x[3 + i] * inv * w[i]) + 1e-7,
                        "c " + c + ", element " + i + " against double precision");
            }
            float[] inPlace = x.clone();
            VectorKernels.rmsNorm(inPlace, 3, w, inPlace, 3, c, eps);
            assertEquals(Arrays.toString(Arrays.copyOfRange(out, 2, 2 + c)),
                    Arrays.toString(Arrays.copyOfRange(inPlace, 3, 3 + c)), "in place, c " + c);
        }
    }

    @Test
    void packedMatmulIsTheInOrderFusedSumForAnyRowsAndWidth() {
        Random random = new Random(2);
        for (int n : new int[] {8, 24, 32, 40, 64, 88, 512}) {
            for (int k : new int[] {1, 7, 64}) {
                float[] w = new float[k * n];
                for (int i = 0; i < w.length; i++) {
                    w[i] = random.nextFloat() * 2 - 1;
                }
                float[] packed = VectorKernels.pack(w, k, n);
                for (int rows : new int[] {1, 2, 3, 4, 5, 6, 7, 9, 10}) {
                    int padded = VectorKernels.roundUp(rows, 4);
                    float[] x = new float[padded * k];
                    for (int i = 0; i < rows * k; i++) {
                        x[i] = random.nextFloat() * 2 - 1;
                    }
                    float[] out = new float[padded * n];
                    VectorKernels.matmul(x, k, packed, n, out, rows);
                    for (int r = 0; r < rows; r++) {
                        for (int c = 0; c < n; c++) {
                            float expected = 0;
                            for (int i = 0; i < k; i++) {
                                expected = Math.fma(w[i * n + c], x[r * k + i], expected);
                            }
                            assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(out[r * n + c]),
                                    "k " + k + ", n " + n + ", rows " + rows + ": out[" + r + ", " + c + "]");
                        }
                    }
                }
            }
        }
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> VectorKernels.pack(new float[12], 2, 6));
    }

    /** The same formula in scalar Java, whose float operations are exact IEEE in any tier. */
    private static float scalarExp(float x) {
        if (Float.isNaN(x)) {
            return x;
        }
        x = Math.min(Math.max(x, -88f), 88.7f);
        float t = Math.fma(x, 1.44269504088896341f, 12582912f);
        float n = t - 12582912f;
        float r = Math.fma(n, 2.12194440e-4f, Math.fma(n, -0.693359375f, x));
        float p = Math.fma(1.9875691500e-4f, r, 1.3981999507e-3f);
        p = Math.fma(p, r, 8.3334519073e-3f);
        p = Math.fma(p, r, 4.1665795894e-2f);
        p = Math.fma(p, r, 1.6666665459e-1f);
        p = Math.fma(p, r, 5.0000001201e-1f);
        float er = Math.fma(p, r * r, r) + 1f;
        int bits = (Float.floatToRawIntBits(t) - Float.floatToRawIntBits(12582912f) + 127) << 23;
        return er * Float.intBitsToFloat(bits);
    }
}
