package steer.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {

    @TempDir
    Path dir;

    /** Odd floats, a scalar, an empty tensor and one larger than a write chunk; also the streamed writer's samples. */
    static List<HostTensor> sampleTensors() {
        Random random = new Random(7);
        return List.of(
                new HostTensor("matrix", new long[] {2, 3}, new float[] {
                        1f, -0f, Float.NaN, Float.intBitsToFloat(0x7fc01234), Float.MIN_VALUE, Float.NEGATIVE_INFINITY}),
                new HostTensor("scalar", new long[] {}, new float[] {3.25f}),
                new HostTensor("vector", new long[] {3}, new float[] {Float.MAX_VALUE, -1e-30f, 0.1f}),
                new HostTensor("empty", new long[] {0, 4}, new float[0]),
                // Larger than one write/read chunk (2^18 values), so the chunk loops are exercised.
                CheckpointFixtures.random("big", new long[] {600, 1000}, random));
    }

    @Test
    void roundTripIsBitExactWithShapesInNameOrder() {
        Path file = dir.resolve("model.safetensors");
        List<HostTensor> written = sampleTensors();
        SafetensorsWriter.write(file, written);

        Map<String, HostTensor> read = SafetensorsReader.read(file);

        assertEquals(List.of("big", "empty", "matrix", "scalar", "vector"), new ArrayList<>(read.keySet()));
        for (HostTensor expected : written) {
            HostTensor actual = read.get(expected.name());
            assertArrayEquals(expected.shape(), actual.shape(), expected.name());
            assertArrayEquals(CheckpointFixtures.bits(expected.data()), CheckpointFixtures.bits(actual.data()), expected.name());
        }
    }

    @Test
    void headerIsPaddedToEightBytesAndCarriesPytorchMetadata() throws IOException {
        Path file = dir.resolve("m.safetensors");
        SafetensorsWriter.write(file, List.of(new HostTensor("abc", new long[] {1}, new float[] {1f})));

        byte[] bytes = Files.readAllBytes(file);
        long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerLength % 8);
        String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{"), header);
        assertTrue(header.strip().endsWith("}"), header);
        assertEquals(8 + headerLength + 4, bytes.length);
        assertEquals(Map.of("format", "pt"), SafetensorsReader.readHeader(file).metadata());
        assertEquals("F32", SafetensorsReader.readHeader(file).tensors().get("abc").dtype());
    }

    @Test
    void sameTensorsInAnyOrderGiveIdenticalBytes() throws IOException {
        List<HostTensor> tensors = new ArrayList<>(sampleTensors());
        SafetensorsWriter.write(dir.resolve("a.safetensors"), tensors);
        Collections.reverse(tensors);
        SafetensorsWriter.write(dir.resolve("b.safetensors"), tensors);

        assertArrayEquals(Files.readAllBytes(dir.resolve("a.safetensors")), Files.readAllBytes(dir.resolve("b.safetensors")));
    }

    @Test
    void overwriteReplacesTheFileAndLeavesNoTemporaryFiles() throws IOException {
        Path file = dir.resolve("model.safetensors");
        SafetensorsWriter.write(file, List.of(new HostTensor("x", new long[] {1}, new float[] {1f})));
        SafetensorsWriter.write(file, List.of(new HostTensor("y", new long[] {2}, new float[] {2f, 3f})));

        assertEquals(List.of("y"), new ArrayList<>(SafetensorsReader.read(file).keySet()));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList());
        }
    }

    @Test
    void emptyMetadataWritesNoMetadataBlock() throws IOException {
        Path file = dir.resolve("plain.safetensors");
        SafetensorsWriter.write(file, List.of(new HostTensor("x", new long[] {1}, new float[] {1f})), Map.of());

        assertTrue(SafetensorsReader.readHeader(file).metadata().isEmpty());
        assertTrue(!new String(Files.readAllBytes(file), StandardCharsets.UTF_8).contains("__metadata__"));
    }

    @Test
    void repeatedNameIsRejectedAndNothingIsWritten() {
        Path file = dir.resolve("dup.safetensors");
        List<HostTensor> tensors = List.of(
                new HostTensor("w", new long[] {1}, new float[] {1f}), new HostTensor("w", new long[] {1}, new float[] {2f}));

        CheckpointException e = assertThrows(CheckpointException.class, () -> SafetensorsWriter.write(file, tensors));

        assertTrue(e.getMessage().contains("dup.safetensors") && e.getMessage().contains("w"), e.getMessage());
        assertTrue(Files.notExists(file));
    }
}
