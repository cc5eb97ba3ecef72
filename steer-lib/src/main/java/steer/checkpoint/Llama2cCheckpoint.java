package steer.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads a llama2.c "legacy" checkpoint ({@code .bin}, as written by llama2.c's {@code export.py
 * --version 0}) and converts it to the Hugging Face layout.
 *
 * <p>Format: seven little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 * max_seq_len; a negative vocab_size means the classifier is not shared with the embedding), then
 * float32 arrays: token embedding [V, C]; attention norms [L, C]; wq [L, C, C]; wk [L, KV*Dh, C];
 * wv [L, KV*Dh, C]; wo [L, C, C]; FFN norms [L, C]; w1 [L, I, C]; w2 [L, C, I]; w3 [L, I, C]; final
 * norm [C]; two RoPE tables [max_seq_len, Dh/2] (skipped); the classifier [V, C] only if unshared.
 *
 * <p>Rotary convention: llama2.c rotates adjacent pairs (x[2i], x[2i+1]) of each head, Hugging Face Llama
 * rotates the first half of each head against the second half. So the rows of wq (per query head) and
 * wk (per key/value head) are permuted so that, within a head, new row j is old row 2j and new row
 * Dh/2 + j is old row 2j + 1. This is the permutation of {@code transformers}'
 * {@code convert_llama_weights_to_hf.py}: {@code view(heads, Dh/2, 2, C).transpose(1, 2)}. Attention
 * scores are unchanged by it, because q and k are permuted alike.
 *
 * <p>llama2.c fixes the remaining hyperparameters: RMSNorm epsilon 1e-5, RoPE theta 10000, BOS 1, EOS 2.
 */
public final class Llama2cCheckpoint {

    private static final int HEADER_BYTES = 7 * 4;

    private Llama2cCheckpoint() {
    }

    /**
     * Reads a llama2.c legacy checkpoint.
     *
     * @param binFile the {@code .bin} file
     * @return a Llama configuration and the tensors under their Hugging Face names, in
     *         {@link HfTensorLayout#expected} order
     * @throws CheckpointException if the file is missing, shorter than its header, its header dimensions
     *                             are non-positive or inconsistent, or its size differs from what the
     *                             header implies
     */
    public static HfCheckpoint load(Path binFile) {
        try (FileChannel channel = FileChannel.open(binFile, StandardOpenOption.READ)) {
            return load(channel, binFile);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(binFile, "file not found");
        } catch (IOException e) {
            throw new CheckpointException(binFile, "could not read: " + e, e);
        }
    }

    private static HfCheckpoint load(FileChannel channel, Path file) throws IOException {
        long fileBytes = channel.size();
        if (fileBytes < HEADER_BYTES) {
            throw new CheckpointException(file, "file has " + fileBytes + " bytes, shorter than the "
                    + HEADER_BYTES + "-byte llama2.c header");
        }
        ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        FloatReads.readFully(channel, 0, header, file);
        header.flip();
        int dim = header.getInt();
        int hiddenDim = header.getInt();
        int nLayers = header.getInt();
        int nHeads = header.getInt();
        int nKvHeads = header.getInt();
        int vocabField = header.getInt();
        int maxSeqLen = header.getInt();
        String headerText = "header (dim=" + dim + ", hidden_dim=" + hiddenDim + ", n_layers=" + nLayers
                + ", n_heads=" + nHeads + ", n_kv_heads=" + nKvHeads + ", vocab_size=" + vocabField
                + ", max_seq_len=" + maxSeqLen + ")";
        if (dim <= 0 || hiddenDim <= 0 || nLayers <= 0 || nHeads <= 0 || nKvHeads <= 0 || maxSeqLen <= 0
                || vocabField == 0 || vocabField == Integer.MIN_VALUE) {
            throw new CheckpointException(file, headerText + " has a non-positive dimension");
        }
        if (dim % nHeads != 0 || nHeads % nKvHeads != 0 || (dim / nHeads) % 2 != 0) {
            throw new CheckpointException(file, headerText + " is inconsistent: dim must be a multiple of n_heads, "
                    + "n_heads a multiple of n_kv_heads, and the head dimension even");
        }
        boolean shared = vocabField > 0;
        int vocab = Math.abs(vocabField);
        long c = dim;
        long headDim = dim / nHeads;
        long kvDim = nKvHeads * headDim;
        long expectedBytes;
        try {
            // Two norms, wq and wo, wk and wv, w1 w2 w3.
            long perLayer = Math.addExact(Math.addExact(2 * c, Math.multiplyExact(2, Math.multiplyExact(c, c))),
                    Math.addExact(Math.multiplyExact(2, Math.multiplyExact(kvDim, c)),
                            Math.multiplyExact(3, Math.multiplyExact(hiddenDim, c))));
            long floats = Math.addExact(Math.multiplyExact(vocab, c), Math.multiplyExact(nLayers, perLayer));
            floats = Math.addExact(floats, c + maxSeqLen * headDim);  // final norm, cos and sin tables
            if (!shared) {
                floats = Math.addExact(floats, vocab * c);
            }
            expectedBytes = Math.addExact(HEADER_BYTES, Math.multiplyExact(floats, 4));
        } catch (ArithmeticException e) {
            throw new CheckpointException(file, headerText + " implies an impossibly large file");
        }
        if (fileBytes != expectedBytes) {
            throw new CheckpointException(file, "file has " + fileBytes + " bytes but its " + headerText + " with a "
                    + (shared ? "shared" : "unshared") + " classifier implies " + expectedBytes
                    + " bytes (truncated, or not a llama2.c legacy checkpoint?)");
        }
        DecoderConfig config;
        try {
            config = new DecoderConfig("llama", vocab, dim, hiddenDim, nLayers, nHeads, nKvHeads,
                    1e-5, 10000.0, maxSeqLen, shared, false, 1, 2);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file, headerText + " is not a valid decoder: " + e.getMessage(), e);
        }

        Cursor in = new Cursor(channel, file, HEADER_BYTES);
        Map<String, HostTensor> byName = new HashMap<>();
        in.put(byName, HfTensorLayout.EMBED_TOKENS, vocab, c);
        in.putPerLayer(byName, nLayers, HfTensorLayout.INPUT_NORM, c);
        for (int l = 0; l < nLayers; l++) {
            String name = HfTensorLayout.layer(l, HfTensorLayout.Q_PROJ);
            byName.put(name, pairsToHalves(in.tensor(name, c, c), nHeads, (int) headDim));
        }
        for (int l = 0; l < nLayers; l++) {
            String name = HfTensorLayout.layer(l, HfTensorLayout.K_PROJ);
            byName.put(name, pairsToHalves(in.tensor(name, kvDim, c), nKvHeads, (int) headDim));
        }
        in.putPerLayer(byName, nLayers, HfTensorLayout.V_PROJ, kvDim, c);
        in.putPerLayer(byName, nLayers, HfTensorLayout.O_PROJ, c, c);
        in.putPerLayer(byName, nLayers, HfTensorLayout.POST_ATTENTION_NORM, c);
        in.putPerLayer(byName, nLayers, HfTensorLayout.GATE_PROJ, hiddenDim, c);   // w1
        in.putPerLayer(byName, nLayers, HfTensorLayout.DOWN_PROJ, c, hiddenDim);   // w2
        in.putPerLayer(byName, nLayers, HfTensorLayout.UP_PROJ, hiddenDim, c);     // w3
        in.put(byName, HfTensorLayout.FINAL_NORM, c);
        in.skipFloats(maxSeqLen * headDim);  // legacy RoPE cos/sin tables, recomputed by the model
        if (!shared) {
            in.put(byName, HfTensorLayout.LM_HEAD, vocab, c);
        }

        Map<String, HostTensor> ordered = new LinkedHashMap<>();
        for (HfTensorLayout.TensorSpec spec : HfTensorLayout.expected(config)) {
            ordered.put(spec.name(), byName.get(spec.name()));
        }
        return new HfCheckpoint(config, ordered);
    }

    /**
     * Reorders the rows of a [heads*Dh, C] projection from llama2.c's interleaved rotary pairs to Hugging
     * Face's halves: within each head, new row j = old row 2j and new row Dh/2 + j = old row 2j + 1.
     */
    static HostTensor pairsToHalves(HostTensor w, int heads, int headDim) {
        int cols = (int) w.shape()[1];
        int half = headDim / 2;
        float[] out = new float[w.size()];
        for (int h = 0; h < heads; h++) {
            int base = h * headDim;
            for (int j = 0; j < half; j++) {
                System.arraycopy(w.data(), (base + 2 * j) * cols, out, (base + j) * cols, cols);
                System.arraycopy(w.data(), (base + 2 * j + 1) * cols, out, (base + half + j) * cols, cols);
            }
        }
        return new HostTensor(w.name(), w.shape().clone(), out);
    }

    /** Reads consecutive float32 arrays; the file size was checked up front, so a short read is a race. */
    private static final class Cursor {
        private final FileChannel channel;
        private final Path file;
        private long position;

        Cursor(FileChannel channel, Path file, long position) {
            this.channel = channel;
            this.file = file;
            this.position = position;
        }

        HostTensor tensor(String name, long... shape) throws IOException {
            long count = 1;
            for (long d : shape) {
                count *= d;
            }
            if (count > Integer.MAX_VALUE - 8) {
                throw new CheckpointException(file, "tensor " + name + " has " + count + " values, more than one Java array can hold");
            }
            float[] data = new float[(int) count];
            FloatReads.readFloats(channel, position, FloatReads.Encoding.F32, data, file);
            position += 4 * count;
            return new HostTensor(name, shape, data);
        }

        void put(Map<String, HostTensor> byName, String name, long... shape) throws IOException {
            byName.put(name, tensor(name, shape));
        }

        /** llama2.c stores each weight kind for all layers as one [L, ...] array, layer 0 first. */
        void putPerLayer(Map<String, HostTensor> byName, int nLayers, String suffix, long... shape) throws IOException {
            for (int l = 0; l < nLayers; l++) {
                put(byName, HfTensorLayout.layer(l, suffix), shape);
            }
        }

        void skipFloats(long count) {
            position += 4 * count;
        }
    }
}
