package steer.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes float32 tensors as a safetensors file that Hugging Face {@code safetensors} and
 * {@code transformers} can load, stored as F32 or as BF16 (the dtype real checkpoints ship in).
 *
 * <p>Tensors are written sorted by name, so the same tensors always give the same bytes whatever the
 * order of the input collection. The JSON header is padded with spaces to a multiple of 8 bytes, as the
 * reference implementation does, so that the data starts aligned.
 */
public final class SafetensorsWriter {

    /** The metadata {@code transformers} writes and expects in PyTorch checkpoints. */
    public static final Map<String, String> PYTORCH_METADATA = Map.of("format", "pt");

    private static final int CHUNK_VALUES = 1 << 18;

    /** How the values are stored. */
    public enum StoredType {
        /** float32, exactly. */
        F32("F32", 4),
        /** bfloat16: float32's top 16 bits, rounded to nearest even (as PyTorch's {@code .to(torch.bfloat16)}). */
        BF16("BF16", 2);

        final String header;
        final int bytes;

        StoredType(String header, int bytes) {
            this.header = header;
            this.bytes = bytes;
        }
    }

    private SafetensorsWriter() {
    }

    /**
     * Writes tensors as F32 with the metadata {@code {"format": "pt"}}, atomically.
     *
     * @param file    the file to create or replace
     * @param tensors the tensors; names must be unique
     * @throws CheckpointException if names repeat or the file cannot be written
     */
    public static void write(Path file, Collection<HostTensor> tensors) {
        write(file, tensors, PYTORCH_METADATA);
    }

    /**
     * Writes tensors as F32 with the given metadata, atomically: the data goes to a temporary file in the
     * same directory, which is then renamed over {@code file}, so a crash never leaves half a file under
     * the final name.
     *
     * @param file     the file to create or replace
     * @param tensors  the tensors; names must be unique and not {@code __metadata__}
     * @param metadata the {@code __metadata__} strings; empty to write none
     * @throws CheckpointException if names repeat or the file cannot be written
     */
    public static void write(Path file, Collection<HostTensor> tensors, Map<String, String> metadata) {
        write(file, tensors, metadata, StoredType.F32);
    }

    /**
     * Writes tensors stored as {@code type} with the given metadata, atomically (as {@link #write(Path, Collection,
     * Map)}).
     */
    public static void write(Path file, Collection<HostTensor> tensors, Map<String, String> metadata,
                             StoredType type) {
        List<HostTensor> sorted = new ArrayList<>(tensors);
        sorted.sort(Comparator.comparing(HostTensor::name));
        byte[] header = header(file, sorted, metadata, type);
        AtomicFiles.write(file, channel -> {
            ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length);
            writeFully(channel, prefix.flip());
            writeFully(channel, ByteBuffer.wrap(header));
            ByteBuffer chunk = ByteBuffer.allocate(CHUNK_VALUES * type.bytes).order(ByteOrder.LITTLE_ENDIAN);
            for (HostTensor tensor : sorted) {
                float[] data = tensor.data();
                for (int done = 0; done < data.length; done += CHUNK_VALUES) {
                    int count = Math.min(CHUNK_VALUES, data.length - done);
                    chunk.clear();
                    if (type == StoredType.F32) {
                        chunk.asFloatBuffer().put(data, done, count);
                    } else {
                        for (int i = 0; i < count; i++) {
                            chunk.putShort(i * 2, toBfloat16(data[done + i]));
                        }
                    }
                    chunk.limit(count * type.bytes);
                    writeFully(channel, chunk);
                }
            }
        });
    }

    /**
     * float32 → bfloat16 bits, rounding to nearest, ties to even: add 0x7FFF plus the lowest kept bit, then keep the
     * top 16 bits. NaN stays a quiet NaN (the addition could carry it into infinity).
     */
    public static short toBfloat16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int lsb = (bits >>> 16) & 1;
        return (short) ((bits + 0x7FFF + lsb) >>> 16);
    }

    /** The JSON header, padded with spaces to a multiple of 8 bytes. */
    private static byte[] header(Path file, List<HostTensor> sorted, Map<String, String> metadata,
                                 StoredType type) {
        ObjectNode root = JsonFiles.MAPPER.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject("__metadata__");
            metadata.entrySet().stream().sorted(Map.Entry.comparingByKey())
                    .forEach(e -> meta.put(e.getKey(), e.getValue()));
        }
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (HostTensor tensor : sorted) {
            if (tensor.name().equals("__metadata__") || !seen.add(tensor.name())) {
                throw new CheckpointException(file, "cannot write tensor name " + tensor.name()
                        + ": it is reserved or repeated");
            }
            ObjectNode entry = root.putObject(tensor.name());
            entry.put("dtype", type.header);
            ArrayNode shape = entry.putArray("shape");
            for (long d : tensor.shape()) {
                shape.add(d);
            }
            long end = offset + (long) type.bytes * tensor.size();
            entry.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json;
        try {
            json = JsonFiles.MAPPER.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new CheckpointException(file, "could not encode the header: " + e, e);
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] header = new byte[padded];
        System.arraycopy(json, 0, header, 0, json.length);
        Arrays.fill(header, json.length, padded, (byte) ' ');
        return header;
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }
}
