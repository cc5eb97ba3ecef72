package steer.model;

import java.util.*;
import org.junit.jupiter.api.Test;
import steer.checkpoint.DecoderConfig;

class SpeedProbeTest {
    @Test
    void probe() {
        DecoderConfig c = new DecoderConfig("llama", 512, 64, 172, 5, 8, 4, 1e-5, 10000, 512, true, false, 1, 2);
        try (Decoder d = TinyDecoders.create(c, 1)) {
            for (int streams : new int[] {1, 64}) {
                List<int[]> prompts = new ArrayList<>();
                for (int i = 0; i < streams; i++) prompts.add(new int[] {1, 403, 407, 261, 378});
                for (int rep = 0; rep < 4; rep++) {
                    long t0 = System.nanoTime();
                    List<GeneratedSequence> out = Generation.generate(d, prompts, SamplingParams.greedy(200), Set.of(), Generation.StopCheck.NEVER);
                    double s = (System.nanoTime() - t0) / 1e9;
                    int n = 0; for (GeneratedSequence g : out) n += g.tokenIds().length;
                    System.out.printf("PROBE streams=%d tokens=%d %.1f tok/s%n", streams, n, n / s);
                }
            }
        }
    }
}
