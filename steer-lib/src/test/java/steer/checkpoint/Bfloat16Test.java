package steer.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** float32 → bfloat16 rounds to nearest, ties to even, as PyTorch does; BF16 files read back as those values. */
class Bfloat16Test {

    private static short bf16(float f) {
        return SafetensorsWriter.toBfloat16(f);
    }

    @Test
    void roundsToNearestTiesToEven() {
        assertEquals((short) 0x3F80, bf16(1.0f));
        assertEquals((short) 0xBF80, bf16(-1.0f));
        assertEquals((short) 0x3F00, bf16(0.5f));
        // 1 + 2^-8 is halfway between 0x3F80 and 0x3F81: to the even 0x3F80
        assertEquals((short) 0x3F80, bf16(Float.intBitsToFloat(0x3F808000)));
        // 1 + 3·2^-8 is halfway between 0x3F81 and 0x3F82: to the even 0x3F82
        assertEquals((short) 0x3F82, bf16(Float.intBitsToFloat(0x3F818000)));
        // just above halfway rounds up, just below rounds down
        assertEquals((short) 0x3F81, bf16(Float.intBitsToFloat(0x3F808001)));
        assertEquals((short) 0x3F80, bf16(Float.intBitsToFloat(0x3F807FFF)));
        // 1.1f = 0x3F8CCCCD → 0x3F8D (1.1015625)
        assertEquals((short) 0x3F8D, bf16(1.1f));
        assertEquals((short) 0x7F80, bf16(Float.POSITIVE_INFINITY));
        assertEquals(0x7FC0, bf16(Float.NaN) & 0xFFC0, "NaN stays NaN");
    }

    @Test
    void aBf16FileReadsBackAsTheRoundedValues(@TempDir Path dir) {
        Path file = dir.resolve("t.safetensors");
        SafetensorsWriter.write(file, List.of(new HostTensor("w", new long[] {2, 2},
                new float[] {1.1f, -0.5f, 3.0e-3f, 65504f})), Map.of(), SafetensorsWriter.StoredType.BF16);
        assertEquals("BF16", SafetensorsReader.readHeader(file).tensors().get("w").dtype());
        float[] back = SafetensorsReader.read(file).get("w").data();
        assertEquals(1.1015625f, back[0]);
        assertEquals(-0.5f, back[1]);
        assertEquals(Float.intBitsToFloat(bf16(3.0e-3f) << 16), back[2]);
        assertEquals(65536f, back[3], "65504 rounds to 2^16 in BF16");
    }
}
