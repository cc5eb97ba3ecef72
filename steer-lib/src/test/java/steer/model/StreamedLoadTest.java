package steer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.CheckpointException;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HostTensor;
import steer.checkpoint.SafetensorsReader;

/** {@link Decoder#load}: a checkpoint read tensor by tensor builds the same decoder as one read whole. */
class StreamedLoadTest {

    @TempDir
    Path dir;

    /** Qwen2-like: attention biases, untied head, GQA; every kind of tensor the loader fuses. */
    private static final DecoderConfig CONFIG = new DecoderConfig("qwen2", 40, 32, 48, 2, 4, 2, 1e-6, 1_000_000.0, 64,
            false, true, 1, 2);

    @Test
    void aStreamedLoadHasTheWholeLoadsWeightsBitForBit() {
        Path model = dir.resolve("m");
        HfCheckpoint.save(model, CONFIG, new DecoderInit(0.5, false).tensors(CONFIG, 3));
        try (Decoder whole = Decoder.fromHostTensors(CONFIG, HfCheckpoint.load(model).tensors(),
                NDManager.newBaseManager());
             Decoder streamed = Decoder.load(model, NDManager.newBaseManager())) {
            List<Map.Entry<String, NDArray>> a = whole.parameters();
            List<Map.Entry<String, NDArray>> b = streamed.parameters();
            assertEquals(a.size(), b.size());
            for (int i = 0; i < a.size(); i++) {
                assertEquals(a.get(i).getKey(), b.get(i).getKey());
                assertArrayEquals(a.get(i).getValue().toFloatArray(), b.get(i).getValue().toFloatArray(),
                        a.get(i).getKey());
            }
            Map<String, HostTensor> back = streamed.toHostTensors();
            Map<String, HostTensor> original = HfCheckpoint.load(model).tensors();
            assertEquals(original.keySet(), back.keySet());
            original.forEach((name, t) -> assertArrayEquals(t.data(), back.get(name).data(), name));
        }
    }

    @Test
    void aTruncatedFileFailsNamingItAndLeavesNothingAllocated() throws Exception {
        Path model = dir.resolve("m");
        HfCheckpoint.save(model, CONFIG, new DecoderInit(0.5, false).tensors(CONFIG, 3));
        Path weights = model.resolve(SafetensorsReader.SINGLE_FILE);
        try (FileChannel c = FileChannel.open(weights, StandardOpenOption.WRITE)) {
            c.truncate(c.size() - 100);
        }
        NDManager manager = NDManager.newBaseManager();
        CheckpointException e = assertThrows(CheckpointException.class, () -> Decoder.load(model, manager));
        assertTrue(e.getMessage().contains(weights.toString()), e.getMessage());
        assertTrue(!manager.isOpen(), "the manager of a failed load is closed, freeing what was read before the fault");
    }
}
