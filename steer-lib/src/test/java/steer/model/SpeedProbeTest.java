package steer.model;

import ai.djl.pytorch.jni.JniUtils;
import java.nio.file.Path;
import java.util.*;
import org.junit.jupiter.api.Test;

class SpeedProbeTest {
    @Test
    void probe() {
        try (LanguageModel lm = LanguageModel.load(Path.of("/work/main/build-out/s260k"))) {
            Decoder d = lm.decoder();
            for (int threads : new int[] {2, 1, 2, 1}) {
                JniUtils.setNumThreads(threads);
                for (int streams : new int[] {1, 64}) {
                    List<int[]> prompts = new ArrayList<>();
                    for (int i = 0; i < streams; i++) prompts.add(new int[] {1, 403, 407, 261, 378});
                    double[] r = new double[3];
                    for (int rep = 0; rep < 3; rep++) {
                        long t0 = System.nanoTime();
                        Generation.generate(d, prompts, SamplingParams.greedy(256), Set.of(), Generation.StopCheck.NEVER);
                        r[rep] = Math.round(streams * 256 / ((System.nanoTime() - t0) / 1e9));
                    }
                    System.out.printf("PROBE threads=%d streams=%d %s%n", threads, streams, Arrays.toString(r));
                }
            }
        }
    }
}
