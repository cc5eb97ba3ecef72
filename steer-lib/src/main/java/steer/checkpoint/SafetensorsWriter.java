package steer.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
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
        List<Entry> entries = new ArrayList<>();
        Map<String, HostTensor> byName = new HashMap<>();
        for (HostTensor t : tensors) {
            entries.add(new Entry(t.name(), t.shape()));
            byName.putIfAbsent(t.name(), t);
        }
        write(file, entries, (name, sink) -> {
            float[] data = byName.get(name).data();
            sink.put(data, 0, data.length);
        }, metadata, type);
    }

    /**
     * One tensor of a streamed write: its name and shape, known before any value is, so that the header with every
     * tensor's offsets can be written first.
     *
     * @param name  the tensor name; unique within a file and not {@code __metadata__}
     * @param shape the shape, outermost first
     */
    public record Entry(String name, long[] shape) {

        public Entry {
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("tensor " + name + ": negative dimension in "
                            + Arrays.toString(shape));
                }
            }
            shape = shape.clone();
        }

        /** The number of values, the product of the shape. */
        public long size() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    /** Takes one tensor's float32 values, row-major, in as many pieces as the supplier likes. */
    @FunctionalInterface
    public interface FloatSink {
        /** Appends {@code values[from, from + count)} to the tensor being written. */
        void put(float[] values, int from, int count);
    }

    /**
     * Supplies the values of the tensors of a streamed write, one tensor per call, in the order the file stores them
     * (sorted by name), each asked for once.
     */
    @FunctionalInterface
    public interface Values {
        /**
         * Puts every value of tensor {@code name} into {@code sink}, row-major, exactly as many as its shape holds.
         * An exception here aborts the write and leaves the destination as it was.
         */
        void write(String name, FloatSink sink);
    }

    /**
     * Writes a safetensors file whose values are asked for one tensor at a time, so that a caller whose tensors live
     * natively (a model's weights, an optimizer's moments) never holds more than a piece of one in the Java heap.
     * The header, with every tensor's offsets, is written from {@code entries} before any value is asked for; then
     * {@code values} is called once per tensor in name order, and what it puts goes out through one bounded buffer.
     * The bytes are those {@link #write(Path, Collection, Map, StoredType)} writes for the same tensors.
     *
     * <p>Atomic as the other writes: everything goes to a temporary file in the same directory, renamed over
     * {@code file} only once every tensor is complete; if {@code values} throws, or puts more or fewer values than a
     * shape holds, the temporary file is deleted and {@code file} is left as it was.
     *
     * @param file     the file to create or replace
     * @param entries  the tensors' names and shapes; names must be unique and not {@code __metadata__}
     * @param values   the tensors' values, asked for by name
     * @param metadata the {@code __metadata__} strings; empty to write none
     * @param type     how the values are stored
     * @throws CheckpointException if names repeat, a tensor gets the wrong number of values, or the file cannot be
     *                             written; an exception of {@code values} propagates as it is
     */
    public static void write(Path file, List<Entry> entries, Values values, Map<String, String> metadata,
                             StoredType type) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparing(Entry::name));
        byte[] header = header(file, sorted, metadata, type);
        AtomicFiles.write(file, channel -> {
            ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length);
            writeFully(channel, prefix.flip());
            writeFully(channel, ByteBuffer.wrap(header));
            Sink sink = new Sink(file, channel, type);
            try {
                for (Entry entry : sorted) {
                    sink.start(entry);
                    values.write(entry.name(), sink);
                    sink.finish();
                }
            } catch (ChannelFailure e) {
                throw e.getCause();
            }
        });
    }

    /** The file channel failed inside a {@link FloatSink#put}: carried out of the supplier, then rethrown. */
    private static final class ChannelFailure extends UncheckedIOException {
        ChannelFailure(IOException cause) {
            super(cause);
        }
    }

    /** Converts values to the stored type into one direct buffer and writes it out whenever it is full. */
    private static final class Sink implements FloatSink {
        private final Path file;
        private final FileChannel channel;
        private final StoredType type;
        private final ByteBuffer chunk;
        private Entry entry;
        private long expected;
        private long received;

        Sink(Path file, FileChannel channel, StoredType type) {
            this.file = file;
            this.channel = channel;
            this.type = type;
            this.chunk = ByteBuffer.allocateDirect(CHUNK_VALUES * type.bytes).order(ByteOrder.LITTLE_ENDIAN);
        }

        void start(Entry e) {
            entry = e;
            expected = e.size();
            received = 0;
        }

        @Override
        public void put(float[] values, int from, int count) {
            java.util.Objects.checkFromIndexSize(from, count, values.length);
            if (received + count > expected) {
                throw new CheckpointException(file, "tensor " + entry.name() + " " + Arrays.toString(entry.shape())
                        + " holds " + expected + " values, but more than that were supplied");
            }
            received += count;
            int done = 0;
            while (done < count) {
                int n = Math.min(count - done, chunk.remaining() / type.bytes);
                if (type == StoredType.F32) {
                    chunk.asFloatBuffer().put(values, from + done, n);
                    chunk.position(chunk.position() + n * 4);
                } else {
                    for (int i = 0; i < n; i++) {
                        chunk.putShort(toBfloat16(values[from + done + i]));
                    }
                }
                done += n;
                if (!chunk.hasRemaining()) {
                    flush();
                }
            }
        }

        void finish() throws IOException {
            if (received != expected) {
                throw new CheckpointException(file, "tensor " + entry.name() + " " + Arrays.toString(entry.shape())
                        + " holds " + expected + " values, but " + received + " were supplied");
            }
            if (chunk.position() > 0) {
                writeOut();
            }
        }

        private void flush() {
            try {
                writeOut();
            } catch (IOException e) {
                throw new ChannelFailure(e);
            }
        }

        private void writeOut() throws IOException {
            chunk.flip();
            writeFully(channel, chunk);
            chunk.clear();
        }
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
    private static byte[] header(Path file, List<Entry> sorted, Map<String, String> metadata,
                                 StoredType type) {
        ObjectNode root = JsonFiles.MAPPER.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject("__metadata__");
            metadata.entrySet().stream().sorted(Map.Entry.comparingByKey())
                    .forEach(e -> meta.put(e.getKey(), e.getValue()));
        }
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (Entry tensor : sorted) {
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
