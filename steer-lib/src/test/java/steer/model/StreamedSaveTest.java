package steer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import steer.checkpoint.CheckpointException;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HfConfigJson;
import steer.checkpoint.HostTensor;
import steer.checkpoint.SafetensorsReader;
import steer.checkpoint.SafetensorsWriter;

/**
 * {@link Decoder#hfWeights}: a decoder saved tensor by tensor from native memory writes the files that saving
 * {@link Decoder#toHostTensors} whole writes, byte for byte, and a save that fails midway leaves the checkpoint that
 * was there.
 */
class StreamedSaveTest {

    @TempDir
    Path dir;

    /**
     * Wider than one save piece ({@link NativeFloats#CHUNK_VALUES} = 262,144 values): the embedding (3,000 × 128) and
     * the untied head (3,000 output rows of 128) take two pieces each, gate|up's 640 columns of 128 one, so both the
     * plain and the transposed loops run more than once; attention biases and GQA as Qwen2.
     */
    private static final DecoderConfig WIDE = new DecoderConfig("qwen2", 3000, 128, 320, 1, 4, 2, 1e-6, 1_000_000, 64,
            false, true, 1, 2);

    private static DecoderConfig config(String name) {
        return name.equals("wide") ? WIDE : TinyDecoders.byKind(name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3", "wide"})
    void aStreamedSaveWritesTheWholeMapSavesBytesInF32AndBf16(String name) throws IOException {
        DecoderConfig c = config(name);
        Map<String, HostTensor> init = new DecoderInit(0.5, false).tensors(c, 11);
        try (Decoder d = Decoder.fromHostTensors(c, init, NDManager.newBaseManager())) {
            Path whole = dir.resolve("whole");
            Path streamed = dir.resolve("streamed");
            HfCheckpoint.save(whole, c, d.toHostTensors());
            d.hfWeights().save(streamed);
            assertSameFiles(whole, streamed, SafetensorsReader.SINGLE_FILE, HfConfigJson.FILE_NAME);

            SafetensorsWriter.write(whole.resolve(SafetensorsReader.SINGLE_FILE), d.toHostTensors().values(),
                    SafetensorsWriter.PYTORCH_METADATA, SafetensorsWriter.StoredType.BF16);
            d.hfWeights().save(streamed, SafetensorsWriter.StoredType.BF16);
            assertSameFiles(whole, streamed, SafetensorsReader.SINGLE_FILE, HfConfigJson.FILE_NAME);

            for (Map.Entry<String, HostTensor> e : d.toHostTensors().entrySet()) {
                HostTensor one = d.hfTensor(e.getKey());
                assertArrayEquals(e.getValue().shape(), one.shape(), e.getKey());
                assertArrayEquals(e.getValue().data(), one.data(), 0f, e.getKey());
            }
        }
    }

    @Test
    void aFloat64DecoderIsNarrowedAsToHostTensorsNarrowsIt() throws IOException {
        Map<String, HostTensor> init = new DecoderInit(0.5, false).tensors(WIDE, 5);
        try (Decoder d = Decoder.fromHostTensors(WIDE, init, NDManager.newBaseManager(), DataType.FLOAT64)) {
            HfCheckpoint.save(dir.resolve("whole"), WIDE, d.toHostTensors());
            d.hfWeights().save(dir.resolve("streamed"));
            assertSameFiles(dir.resolve("whole"), dir.resolve("streamed"), SafetensorsReader.SINGLE_FILE,
                    HfConfigJson.FILE_NAME);
        }
    }

    @Test
    void aSupplyThatFailsMidSaveLeavesThePreviousCheckpointWhole() throws IOException {
        DecoderConfig c = TinyDecoders.qwen2();
        Path ckpt = dir.resolve("ckpt");
        try (Decoder before = Decoder.fromHostTensors(c, new DecoderInit(0.5, false).tensors(c, 1),
                NDManager.newBaseManager());
             Decoder after = Decoder.fromHostTensors(c, new DecoderInit(0.5, false).tensors(c, 2),
                     NDManager.newBaseManager())) {
            before.hfWeights().save(ckpt);
            byte[] weights = Files.readAllBytes(ckpt.resolve(SafetensorsReader.SINGLE_FILE));
            byte[] config = Files.readAllBytes(ckpt.resolve(HfConfigJson.FILE_NAME));
            SafetensorsWriter.Values next = after.hfWeights().values();
            int[] asked = {0};
            HfCheckpoint.Source failing = new HfCheckpoint.Source(c, (name, sink) -> {
                if (++asked[0] == 6) {   // five tensors are in the temporary file by now
                    throw new IllegalStateException("the trainer was stopped");
                }
                next.write(name, sink);
            });
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> failing.save(ckpt));
            assertEquals("the trainer was stopped", e.getMessage());
            HfCheckpoint.Source shortOne = new HfCheckpoint.Source(c, (name, sink) -> sink.put(new float[1], 0, 1));
            assertThrows(CheckpointException.class, () -> shortOne.save(ckpt, SafetensorsWriter.StoredType.BF16));

            assertArrayEquals(weights, Files.readAllBytes(ckpt.resolve(SafetensorsReader.SINGLE_FILE)),
                    "model.safetensors is the previous checkpoint's");
            assertArrayEquals(config, Files.readAllBytes(ckpt.resolve(HfConfigJson.FILE_NAME)));
            try (Stream<Path> files = Files.list(ckpt)) {
                assertEquals(List.of(HfConfigJson.FILE_NAME, SafetensorsReader.SINGLE_FILE),
                        files.map(p -> p.getFileName().toString()).sorted().toList(), "no temporary file is left");
            }
            try (Decoder loaded = Decoder.load(ckpt, NDManager.newBaseManager())) {
                Map<String, HostTensor> expected = before.toHostTensors();
                loaded.toHostTensors().forEach((name, t) -> assertArrayEquals(expected.get(name).data(), t.data(), 0f,
                        name));
            }
        }
    }

    @Test
    void anUnknownTensorNameIsRefused() {
        try (Decoder d = Decoder.fromHostTensors(TinyDecoders.llama(),
                new DecoderInit(0.5, false).tensors(TinyDecoders.llama(), 1), NDManager.newBaseManager())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.hfTensor("lm_head.weight"));
            assertTrue(e.getMessage().contains("lm_head.weight"), e.getMessage());   // tied: there is no head
        }
    }

    private static void assertSameFiles(Path a, Path b, String... names) throws IOException {
        for (String name : names) {
            assertArrayEquals(Files.readAllBytes(a.resolve(name)), Files.readAllBytes(b.resolve(name)), name);
        }
    }
}
