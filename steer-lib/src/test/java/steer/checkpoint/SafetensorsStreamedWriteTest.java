package steer.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SafetensorsWriter#write(Path, List, SafetensorsWriter.Values, Map, SafetensorsWriter.StoredType)}: values
 * supplied tensor by tensor, in pieces, give the bytes of the whole-collection write, and a supplier that fails
 * leaves the destination as it was.
 */
class SafetensorsStreamedWriteTest {

    /**
     * SHA-256 of the files the whole-collection writer wrote for {@link #tensors()} before it was rebuilt on the
     * streamed one (commit 5898e12: F32 with PyTorch metadata, BF16 with it, F32 without metadata), so the rebuilt
     * writer is held to the old bytes, not only to itself.
     */
    private static final String F32_SHA = "05e7c0b242978a37e44a5bdb23d718767684acdbeb4849eba2ec99f60a977510";
    private static final String BF16_SHA = "0d4e853e0abf8de2eaf0311a9f7d9f374617c7683e180b63fb226d036f79f1d7";
    private static final String NO_METADATA_SHA = "8a3904190c450f1a6bceb737b0d6b75cb46b6428aff60b36d388481a5e405628";

    @TempDir
    Path dir;

    /** {@code SafetensorsWriterTest}'s samples: odd floats, a scalar, an empty tensor, one over a write chunk. */
    private static List<HostTensor> tensors() {
        return SafetensorsWriterTest.sampleTensors();
    }

    private static List<SafetensorsWriter.Entry> entries(List<HostTensor> tensors) {
        List<SafetensorsWriter.Entry> out = new ArrayList<>();
        for (HostTensor t : tensors) {
            out.add(new SafetensorsWriter.Entry(t.name(), t.shape()));
        }
        return out;
    }

    /** Supplies each tensor in pieces of {@code piece} values, so pieces straddle the writer's buffer. */
    private static SafetensorsWriter.Values inPieces(List<HostTensor> tensors, int piece, List<String> asked) {
        Map<String, HostTensor> byName = new LinkedHashMap<>();
        tensors.forEach(t -> byName.put(t.name(), t));
        return (name, sink) -> {
            asked.add(name);
            float[] d = byName.get(name).data();
            for (int at = 0; at < d.length; at += piece) {
                sink.put(d, at, Math.min(piece, d.length - at));
            }
        };
    }

    private static String sha(Path file) throws IOException, NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    @Test
    void theWholeCollectionWriteKeepsTheBytesItWroteBeforeItWasStreamed() throws Exception {
        SafetensorsWriter.write(dir.resolve("f32"), tensors());
        SafetensorsWriter.write(dir.resolve("bf16"), tensors(), SafetensorsWriter.PYTORCH_METADATA,
                SafetensorsWriter.StoredType.BF16);
        SafetensorsWriter.write(dir.resolve("none"), tensors(), Map.of());
        assertEquals(F32_SHA, sha(dir.resolve("f32")));
        assertEquals(BF16_SHA, sha(dir.resolve("bf16")));
        assertEquals(NO_METADATA_SHA, sha(dir.resolve("none")));
    }

    @Test
    void valuesInPiecesGiveTheSameBytesAndAreAskedForOnceEachInNameOrder() throws Exception {
        List<HostTensor> t = tensors();
        for (int piece : new int[] {1, 7_777, 1 << 18, 1 << 20}) {
            List<String> asked = new ArrayList<>();
            SafetensorsWriter.write(dir.resolve("f32"), entries(t), inPieces(t, piece, asked),
                    SafetensorsWriter.PYTORCH_METADATA, SafetensorsWriter.StoredType.F32);
            assertEquals(List.of("big", "empty", "matrix", "scalar", "vector"), asked, "pieces of " + piece);
            SafetensorsWriter.write(dir.resolve("bf16"), entries(t), inPieces(t, piece, new ArrayList<>()),
                    SafetensorsWriter.PYTORCH_METADATA, SafetensorsWriter.StoredType.BF16);
            SafetensorsWriter.write(dir.resolve("none"), entries(t), inPieces(t, piece, new ArrayList<>()),
                    Map.of(), SafetensorsWriter.StoredType.F32);
            assertEquals(F32_SHA, sha(dir.resolve("f32")), "pieces of " + piece);
            assertEquals(BF16_SHA, sha(dir.resolve("bf16")), "pieces of " + piece);
            assertEquals(NO_METADATA_SHA, sha(dir.resolve("none")), "pieces of " + piece);
        }
    }

    @Test
    void aSupplierThatFailsMidWriteLeavesThePreviousFileAndNoTemporaryFile() throws Exception {
        Path file = dir.resolve("model.safetensors");
        SafetensorsWriter.write(file, List.of(new HostTensor("old", new long[] {2}, new float[] {1f, 2f})));
        byte[] before = Files.readAllBytes(file);
        List<HostTensor> t = tensors();
        SafetensorsWriter.Values all = inPieces(t, 1000, new ArrayList<>());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> SafetensorsWriter.write(file,
                entries(t), (name, sink) -> {
                    if (name.equals("matrix")) {   // after "big" (2.4 MB) and "empty" went to the temporary file
                        throw new IllegalStateException("native array gone");
                    }
                    all.write(name, sink);
                }, SafetensorsWriter.PYTORCH_METADATA, SafetensorsWriter.StoredType.F32));
        assertEquals("native array gone", e.getMessage(), "the supplier's exception propagates as it is");
        assertArrayEquals(before, Files.readAllBytes(file), "the previous file is untouched");
        assertEquals(List.of(file), listing(), "no temporary file is left beside it");
    }

    @Test
    void tooFewOrTooManyValuesFailNamingTheTensorAndLeaveThePreviousFile() throws Exception {
        Path file = dir.resolve("model.safetensors");
        SafetensorsWriter.write(file, List.of(new HostTensor("old", new long[] {1}, new float[] {1f})));
        byte[] before = Files.readAllBytes(file);
        List<SafetensorsWriter.Entry> entries = List.of(new SafetensorsWriter.Entry("w", new long[] {2, 3}));
        CheckpointException few = assertThrows(CheckpointException.class, () -> SafetensorsWriter.write(file, entries,
                (name, sink) -> sink.put(new float[5], 0, 5), Map.of(), SafetensorsWriter.StoredType.F32));
        assertTrue(few.getMessage().contains("tensor w [2, 3] holds 6 values, but 5 were supplied"), few.getMessage());
        CheckpointException many = assertThrows(CheckpointException.class, () -> SafetensorsWriter.write(file,
                entries, (name, sink) -> {
                    sink.put(new float[4], 0, 4);
                    sink.put(new float[4], 0, 4);
                }, Map.of(), SafetensorsWriter.StoredType.BF16));
        assertTrue(many.getMessage().contains("tensor w [2, 3] holds 6 values, but more"), many.getMessage());
        assertEquals(file, many.file());
        assertArrayEquals(before, Files.readAllBytes(file));
        assertEquals(List.of(file), listing());
    }

    @Test
    void aRepeatedNameFailsBeforeAnyValueIsAskedFor() {
        Path file = dir.resolve("x.safetensors");
        List<SafetensorsWriter.Entry> twice = List.of(new SafetensorsWriter.Entry("a", new long[] {1}),
                new SafetensorsWriter.Entry("a", new long[] {1}));
        assertThrows(CheckpointException.class, () -> SafetensorsWriter.write(file, twice,
                (name, sink) -> {
                    throw new AssertionError("asked for " + name);
                }, Map.of(), SafetensorsWriter.StoredType.F32));
        assertTrue(Files.notExists(file));
    }

    private List<Path> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        }
    }
}
