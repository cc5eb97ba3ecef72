package steer.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static steer.checkpoint.CheckpointFixtures.assertFails;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Llama2cCheckpointTest {

    /**
     * The tiny file: C 16, I 6, 2 layers, 2 heads of Dh 8, 1 kv head, V 5, max_seq_len 3. Dh is 8 rather
     * than 4 because for Dh 4 the permutation [0, 2, 1, 3] is its own inverse, so a test could not tell
     * the permutation from its inverse.
     */
    private static final int[] TINY_HEADER = {16, 6, 2, 2, 1, 5, 3};

    /** Within one head of Dh 8: new row j holds old row PERMUTATION[j]. */
    private static final int[] PERMUTATION = {0, 2, 4, 6, 1, 3, 5, 7};

    @TempDir
    Path dir;

    /** Writes a legacy .bin whose k-th body float is k, so every value tells where it was read from. */
    private Path tinyBin(String name, int[] header, int bodyFloats) throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate(28 + 4 * bodyFloats).order(ByteOrder.LITTLE_ENDIAN);
        for (int h : header) {
            bytes.putInt(h);
        }
        for (int k = 0; k < bodyFloats; k++) {
            bytes.putFloat(k);
        }
        return Files.write(dir.resolve(name), bytes.array());
    }

    private static void assertSlice(HostTensor tensor, int start) {
        for (int k = 0; k < tensor.size(); k++) {
            assertEquals(start + k, tensor.data()[k], tensor.name() + " value " + k);
        }
    }

    private static void assertPermutedRows(HostTensor tensor, int start, int heads) {
        int cols = 16;
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < 8; j++) {
                int oldRow = 8 * h + PERMUTATION[j];
                float[] row = Arrays.copyOfRange(tensor.data(), (8 * h + j) * cols, (8 * h + j + 1) * cols);
                assertEquals(start + oldRow * cols, row[0], tensor.name() + " row " + (8 * h + j));
                assertEquals(start + oldRow * cols + cols - 1, row[cols - 1], tensor.name() + " row " + (8 * h + j));
            }
        }
    }

    @Test
    void tinyFileMapsEveryArrayAndPermutesQueryAndKeyRows() throws IOException {
        // Body offsets (in floats), worked out from the README order for the tiny header:
        // embed 0 (80) | attn norms 80, 96 | wq 112, 368 | wk 624, 752 | wv 880, 1008 | wo 1136, 1392
        // | ffn norms 1648, 1664 | w1 1680, 1776 | w2 1872, 1968 | w3 2064, 2160 | final norm 2256
        // | RoPE tables 2272..2295 | classifier 2296 (unshared only). Shared total 2296 floats.
        HfCheckpoint checkpoint = Llama2cCheckpoint.load(tinyBin("tiny.bin", TINY_HEADER, 2296));
        Map<String, HostTensor> t = checkpoint.tensors();

        assertEquals(new DecoderConfig("llama", 5, 16, 6, 2, 2, 1, 1e-5, 10000.0, 3, true, false, 1, 2), checkpoint.config());
        assertFalse(t.containsKey(HfTensorLayout.LM_HEAD));
        HfTensorLayout.validateTensors(checkpoint.config(), t, dir);
        assertSlice(t.get("model.embed_tokens.weight"), 0);
        assertSlice(t.get("model.layers.0.input_layernorm.weight"), 80);
        assertSlice(t.get("model.layers.1.input_layernorm.weight"), 96);
        assertPermutedRows(t.get("model.layers.0.self_attn.q_proj.weight"), 112, 2);
        assertPermutedRows(t.get("model.layers.1.self_attn.q_proj.weight"), 368, 2);
        assertPermutedRows(t.get("model.layers.0.self_attn.k_proj.weight"), 624, 1);
        assertPermutedRows(t.get("model.layers.1.self_attn.k_proj.weight"), 752, 1);
        assertSlice(t.get("model.layers.0.self_attn.v_proj.weight"), 880);
        assertSlice(t.get("model.layers.1.self_attn.v_proj.weight"), 1008);
        assertSlice(t.get("model.layers.0.self_attn.o_proj.weight"), 1136);
        assertSlice(t.get("model.layers.1.self_attn.o_proj.weight"), 1392);
        assertSlice(t.get("model.layers.0.post_attention_layernorm.weight"), 1648);
        assertSlice(t.get("model.layers.1.post_attention_layernorm.weight"), 1664);
        assertSlice(t.get("model.layers.0.mlp.gate_proj.weight"), 1680);
        assertSlice(t.get("model.layers.1.mlp.gate_proj.weight"), 1776);
        assertSlice(t.get("model.layers.0.mlp.down_proj.weight"), 1872);
        assertSlice(t.get("model.layers.1.mlp.down_proj.weight"), 1968);
        assertSlice(t.get("model.layers.0.mlp.up_proj.weight"), 2064);
        assertSlice(t.get("model.layers.1.mlp.up_proj.weight"), 2160);
        assertSlice(t.get("model.norm.weight"), 2256);
    }

    @Test
    void unsharedClassifierIsReadAfterTheRopeTables() throws IOException {
        int[] header = TINY_HEADER.clone();
        header[5] = -5;
        HfCheckpoint checkpoint = Llama2cCheckpoint.load(tinyBin("unshared.bin", header, 2296 + 80));

        assertFalse(checkpoint.config().tieWordEmbeddings());
        assertEquals(5, checkpoint.config().vocabSize());
        assertArrayEquals(new long[] {5, 16}, checkpoint.tensors().get(HfTensorLayout.LM_HEAD).shape());
        assertSlice(checkpoint.tensors().get(HfTensorLayout.LM_HEAD), 2296);
    }

    @Test
    void sizeDisagreeingWithTheHeaderGivesExpectedAndActualBytes() throws IOException {
        Path shared = tinyBin("short.bin", TINY_HEADER, 2295);
        assertFails(() -> Llama2cCheckpoint.load(shared), shared, "file has 9208 bytes", "shared classifier implies 9212 bytes");

        int[] header = TINY_HEADER.clone();
        header[5] = -5;
        Path unshared = tinyBin("unshared-short.bin", header, 2296);
        assertFails(() -> Llama2cCheckpoint.load(unshared), unshared, "file has 9212 bytes", "unshared classifier implies 9532 bytes");
    }

    @Test
    void badHeaders() throws IOException {
        Path tooShort = Files.write(dir.resolve("tiny-header.bin"), new byte[27]);
        assertFails(() -> Llama2cCheckpoint.load(tooShort), tooShort, "27 bytes", "shorter than the 28-byte llama2.c header");

        int[] zero = TINY_HEADER.clone();
        zero[2] = 0;
        Path noLayers = tinyBin("no-layers.bin", zero, 0);
        assertFails(() -> Llama2cCheckpoint.load(noLayers), noLayers, "n_layers=0", "non-positive");

        int[] odd = TINY_HEADER.clone();
        odd[3] = 3;
        Path badHeads = tinyBin("bad-heads.bin", odd, 0);
        assertFails(() -> Llama2cCheckpoint.load(badHeads), badHeads, "n_heads=3", "inconsistent");

        int[] huge = {1 << 30, 1 << 30, 1 << 30, 1, 1, 1 << 30, 1};
        Path impossible = tinyBin("huge.bin", huge, 0);
        assertFails(() -> Llama2cCheckpoint.load(impossible), impossible, "impossibly large");

        Path absent = dir.resolve("absent.bin");
        assertFails(() -> Llama2cCheckpoint.load(absent), absent, "file not found");
    }

    // ---- the real stories260K checkpoint ----

    private static Path stories260k() {
        String dirName = System.getProperty("steer.stories260k.dir");
        Assumptions.assumeTrue(dirName != null, "steer.stories260k.dir not set");
        Path file = Path.of(dirName, "stories260K.bin");
        Assumptions.assumeTrue(Files.isRegularFile(file), "no " + file);
        return file;
    }

    @Test
    void stories260kHasThePublishedDimensions() {
        HfCheckpoint checkpoint = Llama2cCheckpoint.load(stories260k());

        assertEquals(new DecoderConfig("llama", 512, 64, 172, 5, 8, 4, 1e-5, 10000.0, 512, true, false, 1, 2), checkpoint.config());
        assertEquals(1 + 5 * 9 + 1, checkpoint.tensors().size());
        HfTensorLayout.validateTensors(checkpoint.config(), checkpoint.tensors(), stories260k());
        // RMSNorm weights of a trained model sit well away from zero; a misaligned read would not.
        float[] norm = checkpoint.tensors().get(HfTensorLayout.FINAL_NORM).data();
        assertTrue(Arrays.stream(toDoubles(norm)).average().orElseThrow() > 0.5, Arrays.toString(norm));
    }

    @Test
    void stories260kSurvivesTheHuggingFaceRoundTrip() {
        HfCheckpoint converted = Llama2cCheckpoint.load(stories260k());
        Path hf = dir.resolve("stories260K-hf");

        converted.save(hf);
        HfCheckpoint reloaded = HfCheckpoint.load(hf);

        assertEquals(converted.config(), reloaded.config());
        for (String name : converted.tensors().keySet()) {
            assertArrayEquals(converted.tensors().get(name).data(), reloaded.tensors().get(name).data(), name);
        }
    }

    @Test
    void truncatedStories260kFailsWithTheSizeMessage() throws IOException {
        byte[] bytes = Files.readAllBytes(stories260k());
        Path cut = Files.write(dir.resolve("stories260K-cut.bin"), Arrays.copyOf(bytes, bytes.length - 1000));

        assertFails(() -> Llama2cCheckpoint.load(cut), cut, "file has 1055540 bytes", "implies 1056540 bytes", "shared classifier");
    }

    /**
     * The permutation is right exactly when llama2.c's attention scores (adjacent-pair RoPE on the original
     * rows) equal Hugging Face's (half-split RoPE on the permuted rows). Checked on layer 0 of the real
     * weights for random inputs at positions 3 and 17, every query head against its key/value head.
     */
    @Test
    void permutedRowsGiveTheSameAttentionScoresUnderHuggingFaceRope() throws IOException {
        Path file = stories260k();
        HfCheckpoint checkpoint = Llama2cCheckpoint.load(file);
        DecoderConfig c = checkpoint.config();
        int dim = c.hiddenSize();
        int dh = c.headDim();
        int kvDim = c.kvDim();
        // Original rows straight from the file: wq of layer 0 follows the embedding and the attention norms.
        ByteBuffer raw = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        long wqStart = 28 + 4L * (c.vocabSize() * dim + c.numLayers() * dim);
        long wkStart = wqStart + 4L * c.numLayers() * dim * dim;
        float[] wqOld = new float[dim * dim];
        float[] wkOld = new float[kvDim * dim];
        raw.position((int) wqStart);
        raw.asFloatBuffer().get(wqOld);
        raw.position((int) wkStart);
        raw.asFloatBuffer().get(wkOld);
        float[] wqHf = checkpoint.tensors().get(HfTensorLayout.layer(0, HfTensorLayout.Q_PROJ)).data();
        float[] wkHf = checkpoint.tensors().get(HfTensorLayout.layer(0, HfTensorLayout.K_PROJ)).data();

        Random random = new Random(42);
        double[] x = random.doubles(dim, -1, 1).toArray();
        double[] y = random.doubles(dim, -1, 1).toArray();
        int m = 3;
        int n = 17;
        double[] qOld = ropeAdjacentPairs(matVec(wqOld, x, dim), dh, m);
        double[] kOld = ropeAdjacentPairs(matVec(wkOld, y, dim), dh, n);
        double[] qHf = ropeHalves(matVec(wqHf, x, dim), dh, m);
        double[] kHf = ropeHalves(matVec(wkHf, y, dim), dh, n);
        int group = c.numHeads() / c.numKvHeads();
        for (int h = 0; h < c.numHeads(); h++) {
            double expected = headDot(qOld, h, kOld, h / group, dh);
            double actual = headDot(qHf, h, kHf, h / group, dh);
            assertEquals(expected, actual, 1e-9 * (1 + Math.abs(expected)), "head " + h);
        }
        // The check has teeth: the unpermuted rows under Hugging Face's RoPE give different scores.
        double[] qWrong = ropeHalves(matVec(wqOld, x, dim), dh, m);
        double[] kWrong = ropeHalves(matVec(wkOld, y, dim), dh, n);
        assertTrue(Math.abs(headDot(qWrong, 0, kWrong, 0, dh) - headDot(qOld, 0, kOld, 0, dh)) > 1e-6);
    }

    private static double[] matVec(float[] w, double[] x, int cols) {
        double[] out = new double[w.length / cols];
        for (int r = 0; r < out.length; r++) {
            for (int k = 0; k < cols; k++) {
                out[r] += w[r * cols + k] * x[k];
            }
        }
        return out;
    }

    /** llama2.c run.c: rotate (v[2i], v[2i+1]) by pos * theta^(-2i/Dh) within each head. */
    private static double[] ropeAdjacentPairs(double[] v, int dh, int pos) {
        double[] out = v.clone();
        for (int base = 0; base < v.length; base += dh) {
            for (int i = 0; i < dh / 2; i++) {
                double angle = pos * Math.pow(10000.0, -2.0 * i / dh);
                double a = v[base + 2 * i];
                double b = v[base + 2 * i + 1];
                out[base + 2 * i] = a * Math.cos(angle) - b * Math.sin(angle);
                out[base + 2 * i + 1] = a * Math.sin(angle) + b * Math.cos(angle);
            }
        }
        return out;
    }

    /** transformers' Llama apply_rotary_pos_emb: rotate (v[i], v[i + Dh/2]) by pos * theta^(-2i/Dh). */
    private static double[] ropeHalves(double[] v, int dh, int pos) {
        double[] out = v.clone();
        for (int base = 0; base < v.length; base += dh) {
            for (int i = 0; i < dh / 2; i++) {
                double angle = pos * Math.pow(10000.0, -2.0 * i / dh);
                double a = v[base + i];
                double b = v[base + dh / 2 + i];
                out[base + i] = a * Math.cos(angle) - b * Math.sin(angle);
                out[base + dh / 2 + i] = a * Math.sin(angle) + b * Math.cos(angle);
            }
        }
        return out;
    }

    private static double headDot(double[] q, int qHead, double[] k, int kHead, int dh) {
        double sum = 0;
        for (int d = 0; d < dh; d++) {
            sum += q[qHead * dh + d] * k[kHead * dh + d];
        }
        return sum;
    }

    private static double[] toDoubles(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }
}
