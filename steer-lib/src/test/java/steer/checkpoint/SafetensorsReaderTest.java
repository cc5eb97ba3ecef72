package steer.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static steer.checkpoint.CheckpointFixtures.assertFails;
import static steer.checkpoint.CheckpointFixtures.floats;
import static steer.checkpoint.CheckpointFixtures.safetensors;
import static steer.checkpoint.CheckpointFixtures.shorts;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsReaderTest {

    @TempDir
    Path dir;

    @Test
    void halfAndBfloat16WidenToTheRightFloats() throws IOException {
        String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"half\":{\"dtype\":\"F16\",\"shape\":[2,6],\"data_offsets\":[0,24]},"
                + "\"brain\":{\"dtype\":\"BF16\",\"shape\":[5],\"data_offsets\":[24,34]}}";
        byte[] data = ByteBuffer.allocate(34)
                .put(shorts(0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0xFC00,
                        0x8000, 0x03FF, 0x0400, 0x3555, 0x7E00, 0x0000))
                .put(shorts(0x3F80, 0x4049, 0xC2F7, 0x7F80, 0x0001))
                .array();
        Path file = safetensors(dir.resolve("mixed.safetensors"), header, data);

        Map<String, HostTensor> read = SafetensorsReader.read(file);

        assertEquals(List.of("half", "brain"), new ArrayList<>(read.keySet()));
        assertArrayEquals(new long[] {2, 6}, read.get("half").shape());
        float[] half = read.get("half").data();
        assertEquals(1.0f, half[0]);
        assertEquals(-2.0f, half[1]);
        assertEquals(65504.0f, half[2]);
        assertEquals(5.9604645e-8f, half[3]);                 // 2^-24, smallest subnormal
        assertEquals(Float.POSITIVE_INFINITY, half[4]);
        assertEquals(Float.NEGATIVE_INFINITY, half[5]);
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(half[6]));
        assertEquals(1023 * 5.9604645e-8f, half[7]);           // largest subnormal
        assertEquals(6.1035156e-5f, half[8]);                  // 2^-14, smallest normal
        assertEquals(0.33325195f, half[9]);                    // 0x3555, nearest half to 1/3
        assertTrue(Float.isNaN(half[10]));
        assertEquals(0.0f, half[11]);
        assertArrayEquals(new float[] {1.0f, 3.140625f, -123.5f, Float.POSITIVE_INFINITY, Float.intBitsToFloat(0x00010000)},
                read.get("brain").data());
        assertEquals(Map.of("format", "pt"), SafetensorsReader.readHeader(file).metadata());
    }

    @Test
    void halfToFloatIsOddAndStrictlyIncreasingOverAllFiniteHalves() {
        float previous = -1;
        for (int h = 0; h < 0x7C00; h++) {
            float value = FloatReads.halfToFloat((short) h);
            assertTrue(value > previous || h == 0, "half 0x" + Integer.toHexString(h));
            assertEquals(-value, FloatReads.halfToFloat((short) (h | 0x8000)));
            previous = value;
        }
        assertEquals(65504.0f, previous);
    }

    @Test
    void readsOnlySelectedTensorsInRequestedOrder() throws IOException {
        Path file = dir.resolve("three.safetensors");
        SafetensorsWriter.write(file, List.of(
                new HostTensor("a", new long[] {1}, new float[] {1}),
                new HostTensor("b", new long[] {2}, new float[] {2, 3}),
                new HostTensor("c", new long[] {1}, new float[] {4})));

        Map<String, HostTensor> read = SafetensorsReader.read(file, List.of("c", "a"));

        assertEquals(List.of("c", "a"), new ArrayList<>(read.keySet()));
        assertArrayEquals(new float[] {4}, read.get("c").data());
        assertFails(() -> SafetensorsReader.read(file, List.of("zzz")), file, "no tensor named zzz");
    }

    @Test
    void headerOnlyReadGivesAbsoluteDataPositions() throws IOException {
        String header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}    ";
        Path file = safetensors(dir.resolve("h.safetensors"), header, floats(1, 2));

        SafetensorsEntry entry = SafetensorsReader.readHeader(file).tensors().get("t");

        assertEquals(8 + header.length(), entry.dataBegin());
        assertEquals(8 + header.length() + 8, entry.dataEnd());
        assertEquals("F32", entry.dtype());
        assertEquals(file, entry.file());
    }

    // ---- malformed files: each must fail with a CheckpointException naming the file and the problem ----

    @Test
    void missingFile() {
        Path file = dir.resolve("absent.safetensors");
        assertFails(() -> SafetensorsReader.read(file), file, "file not found");
    }

    @Test
    void fileShorterThanTheLengthPrefix() throws IOException {
        Path file = Files.write(dir.resolve("short.safetensors"), new byte[5]);
        assertFails(() -> SafetensorsReader.read(file), file, "5 bytes", "shorter than the 8-byte header length");
    }

    @Test
    void headerLengthLargerThanTheFile() throws IOException {
        Path file = dir.resolve("long-header.safetensors");
        byte[] bytes = ByteBuffer.allocate(10).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).put((byte) '{').put((byte) '}').array();
        Files.write(file, bytes);
        assertFails(() -> SafetensorsReader.read(file), file, "header length 1000", "larger than the 2 bytes");

        bytes = ByteBuffer.allocate(10).order(ByteOrder.LITTLE_ENDIAN).putLong(-1).array();
        Files.write(file, bytes);
        assertFails(() -> SafetensorsReader.read(file), file, "header length 18446744073709551615");
    }

    @Test
    void headerNotJson() throws IOException {
        Path file = safetensors(dir.resolve("garbage.safetensors"), "{\"t\": nope", new byte[0]);
        assertFails(() -> SafetensorsReader.read(file), file, "header is not valid JSON");
    }

    @Test
    void headerWithDuplicateKeys() throws IOException {
        String header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        Path file = safetensors(dir.resolve("dup.safetensors"), header, floats(1));
        assertFails(() -> SafetensorsReader.read(file), file, "not valid JSON", "Duplicate field 't'");
    }

    @Test
    void headerNotAnObject() throws IOException {
        Path file = safetensors(dir.resolve("array.safetensors"), "[1, 2]", new byte[0]);
        assertFails(() -> SafetensorsReader.read(file), file, "header is not a JSON object", "array");
    }

    @Test
    void entryMissingDtypeShapeOrOffsets() throws IOException {
        Path noDtype = safetensors(dir.resolve("a.safetensors"), "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", floats(1));
        assertFails(() -> SafetensorsReader.read(noDtype), noDtype, "tensor w", "no \"dtype\"");
        Path noShape = safetensors(dir.resolve("b.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", floats(1));
        assertFails(() -> SafetensorsReader.read(noShape), noShape, "tensor w", "no \"shape\"");
        Path noOffsets = safetensors(dir.resolve("c.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", floats(1));
        assertFails(() -> SafetensorsReader.read(noOffsets), noOffsets, "tensor w", "no \"data_offsets\"");
    }

    @Test
    void entryFieldsOfTheWrongType() throws IOException {
        Path dtype = safetensors(dir.resolve("a.safetensors"), "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", floats(1));
        assertFails(() -> SafetensorsReader.read(dtype), dtype, "tensor w", "dtype must be a string");
        Path shape = safetensors(dir.resolve("b.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", floats(1));
        assertFails(() -> SafetensorsReader.read(shape), shape, "tensor w", "shape must hold non-negative integers");
        Path offsets = safetensors(dir.resolve("c.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", floats(1));
        assertFails(() -> SafetensorsReader.read(offsets), offsets, "tensor w", "data_offsets must be [begin, end]");
        Path entry = safetensors(dir.resolve("d.safetensors"), "{\"w\":[1]}", floats(1));
        assertFails(() -> SafetensorsReader.read(entry), entry, "tensor w", "must be a JSON object");
        Path metadata = safetensors(dir.resolve("e.safetensors"), "{\"__metadata__\":{\"format\":1}}", new byte[0]);
        assertFails(() -> SafetensorsReader.read(metadata), metadata, "__metadata__", "format", "must be a string");
    }

    @Test
    void unknownDtype() throws IOException {
        Path file = safetensors(dir.resolve("f128.safetensors"), "{\"w\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", new byte[16]);
        assertFails(() -> SafetensorsReader.read(file), file, "tensor w", "unknown dtype \"F128\"");
    }

    @Test
    void formatDtypesWeDoNotReadAreNamed() throws IOException {
        String header = "{\"ok\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"ids\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[4,8]},"
                + "\"wide\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[8,16]}}";
        Path file = safetensors(dir.resolve("ints.safetensors"), header, new byte[16]);

        assertEquals(3, SafetensorsReader.readHeader(file).tensors().size());
        assertEquals(1, SafetensorsReader.read(file, List.of("ok")).size());
        assertFails(() -> SafetensorsReader.read(file), file, "tensor ids has dtype I8", "not supported", "F32, F16, BF16");
        assertFails(() -> SafetensorsReader.read(file, List.of("wide")), file, "tensor wide has dtype F64", "not supported");
    }

    @Test
    void dataOffsetsBeyondTheFile() throws IOException {
        Path file = safetensors(dir.resolve("beyond.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", floats(1, 2));
        int dataStart = 8 + "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}".length();
        assertFails(() -> SafetensorsReader.read(file), file, "tensor w", "data_offsets [0, 16]",
                "end at file byte " + (dataStart + 16), "only " + (dataStart + 8) + " bytes");
    }

    @Test
    void dataOffsetsDisagreeWithShapeAndDtype() throws IOException {
        Path file = safetensors(dir.resolve("span.safetensors"), "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,8]}}", new byte[8]);
        assertFails(() -> SafetensorsReader.read(file), file, "tensor w", "data_offsets [0, 8] span 8 bytes",
                "shape [2, 3] of BF16 needs 12");
    }

    @Test
    void truncatedFile() throws IOException {
        Path file = dir.resolve("cut.safetensors");
        SafetensorsWriter.write(file, List.of(
                new HostTensor("first", new long[] {3}, new float[] {1, 2, 3}),
                new HostTensor("second", new long[] {2, 2}, new float[] {4, 5, 6, 7})));
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(raf.length() - 5);
        }
        assertFails(() -> SafetensorsReader.read(file), file, "tensor second", "truncated");
    }
}
