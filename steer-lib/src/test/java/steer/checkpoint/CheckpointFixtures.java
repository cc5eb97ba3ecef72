package steer.checkpoint;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/** Hand-built bytes, configs and tensors shared by the checkpoint tests. */
final class CheckpointFixtures {

    private CheckpointFixtures() {
    }

    /** Writes a safetensors file byte by byte: the length prefix, the header text as given, the data. */
    static Path safetensors(Path file, String header, byte[] data) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(json.length).put(json).put(data);
        return Files.write(file, buffer.array());
    }

    /** Little-endian 16-bit values, e.g. raw F16 or BF16 bits. */
    static byte[] shorts(int... values) {
        ByteBuffer buffer = ByteBuffer.allocate(2 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) {
            buffer.putShort((short) v);
        }
        return buffer.array();
    }

    /** Little-endian float32 values. */
    static byte[] floats(float... values) {
        ByteBuffer buffer = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            buffer.putFloat(v);
        }
        return buffer.array();
    }

    /** A tensor of uniform random values in [-1, 1). */
    static HostTensor random(String name, long[] shape, Random random) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        float[] data = new float[(int) n];
        for (int i = 0; i < data.length; i++) {
            data[i] = random.nextFloat() * 2 - 1;
        }
        return new HostTensor(name, shape, data);
    }

    /** A small Llama: V 32, C 16, I 24, 2 layers, 4 heads (Dh 4), 2 key/value heads. */
    static DecoderConfig tinyLlama(boolean tied) {
        return new DecoderConfig("llama", 32, 16, 24, 2, 4, 2, 1e-5, 10000.0, 64, tied, false, 1, 2);
    }

    /** A small Qwen2 with attention biases and tied embeddings. */
    static DecoderConfig tinyQwen2() {
        return new DecoderConfig("qwen2", 40, 16, 20, 2, 4, 1, 1e-6, 1_000_000.0, 128, true, true, 0, 3);
    }

    /** Random weights for every tensor of the layout, in layout order. */
    static Map<String, HostTensor> randomWeights(DecoderConfig config, long seed) {
        Random random = new Random(seed);
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        for (HfTensorLayout.TensorSpec spec : HfTensorLayout.expected(config)) {
            tensors.put(spec.name(), random(spec.name(), spec.shape(), random));
        }
        return tensors;
    }

    /** Raw bits of the values, so that NaN payloads and -0.0 compare exactly. */
    static int[] bits(float[] values) {
        int[] bits = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Float.floatToRawIntBits(values[i]);
        }
        return bits;
    }

    /** Runs {@code action} and checks it fails with a CheckpointException naming {@code file} and each fragment. */
    static void assertFails(Runnable action, Path file, String... fragments) {
        CheckpointException e = assertThrows(CheckpointException.class, action::run);
        String message = e.getMessage();
        assertTrue(message.contains(file.toString()), "message should name " + file + ": " + message);
        for (String fragment : fragments) {
            assertTrue(message.contains(fragment), "message should contain '" + fragment + "': " + message);
        }
    }
}
