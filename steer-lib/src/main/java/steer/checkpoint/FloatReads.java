package steer.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * Reads little-endian float arrays from a file channel in bounded chunks and widens them to float32.
 *
 * <p>Positional channel reads rather than memory mapping: a single mapping is limited to 2 GB, and a
 * mapped file cannot be deleted on some platforms until the mapping is garbage-collected.
 */
final class FloatReads {

    /** The stored encodings that widen to float32. */
    enum Encoding {
        F32(4), F16(2), BF16(2);

        final int bytes;

        Encoding(int bytes) {
            this.bytes = bytes;
        }
    }

    private static final int CHUNK_BYTES = 1 << 20;

    private FloatReads() {
    }

    /** Fills {@code dst} from {@code position}, failing with a message naming the file on a short file. */
    static void readFully(FileChannel channel, long position, ByteBuffer dst, Path file) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                throw new CheckpointException(file, "unexpected end of file at byte " + pos + " (the file has "
                        + channel.size() + " bytes; truncated?)");
            }
            pos += n;
        }
    }

    /** Reads {@code dst.length} values of {@code encoding} starting at byte {@code position}. */
    static void readFloats(FileChannel channel, long position, Encoding encoding, float[] dst, Path file)
            throws IOException {
        int perChunk = CHUNK_BYTES / encoding.bytes;
        ByteBuffer buffer = ByteBuffer.allocate(Math.min(perChunk, Math.max(dst.length, 1)) * encoding.bytes)
                .order(ByteOrder.LITTLE_ENDIAN);
        long pos = position;
        for (int done = 0; done < dst.length; ) {
            int count = Math.min(perChunk, dst.length - done);
            buffer.clear().limit(count * encoding.bytes);
            readFully(channel, pos, buffer, file);
            buffer.flip();
            switch (encoding) {
                case F32 -> buffer.asFloatBuffer().get(dst, done, count);
                case F16 -> {
                    for (int i = 0; i < count; i++) {
                        dst[done + i] = halfToFloat(buffer.getShort());
                    }
                }
                case BF16 -> {
                    for (int i = 0; i < count; i++) {
                        dst[done + i] = bfloat16ToFloat(buffer.getShort());
                    }
                }
            }
            pos += (long) count * encoding.bytes;
            done += count;
        }
    }

    /**
     * Widens an IEEE 754 binary16 value (1 sign, 5 exponent, 10 mantissa bits); exact for every input,
     * including subnormals, infinities and NaN payloads. Java 17 has no {@code Float.float16ToFloat}.
     */
    static float halfToFloat(short half) {
        int sign = (half & 0x8000) << 16;
        int exponent = (half >>> 10) & 0x1f;
        int mantissa = half & 0x3ff;
        if (exponent == 0) {
            // Subnormal (or zero): mantissa * 2^-24, exactly representable as a float32.
            float magnitude = Math.scalb((float) mantissa, -24);
            return sign == 0 ? magnitude : -magnitude;
        }
        if (exponent == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
        }
        return Float.intBitsToFloat(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
    }

    /** Widens a bfloat16 value, which is exactly the high 16 bits of a float32. */
    static float bfloat16ToFloat(short bfloat16) {
        return Float.intBitsToFloat((bfloat16 & 0xffff) << 16);
    }
}
