package steer.train;

import java.util.ArrayList;
import java.util.List;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HfTensorLayout;
import steer.checkpoint.HostTensor;
import steer.tokenizer.WordLevelTokenizerWriter;

/** Small randomly initialised models written as checkpoint directories, for training tests. */
final class TinyModels {

    private TinyModels() {
    }

    /** Vocabulary 24 (BOS 1, EOS 2), width 32, 2 layers, 4 heads, 2 key/value heads, 32 positions. */
    static DecoderConfig config() {
        return new DecoderConfig("llama", 24, 32, 64, 2, 4, 2, 1e-5, 10000, 32, true, false, 1, 2);
    }

    static Map<String, HostTensor> randomTensors(DecoderConfig c, long seed) {
        Random r = new Random(seed);
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (HfTensorLayout.TensorSpec spec : HfTensorLayout.expected(c)) {
            long n = 1;
            for (long d : spec.shape()) {
                n *= d;
            }
            float[] data = new float[(int) n];
            boolean norm = spec.name().endsWith("norm.weight");
            for (int i = 0; i < data.length; i++) {
                data[i] = norm ? 1f : (float) (r.nextGaussian() * 0.05);
            }
            out.put(spec.name(), new HostTensor(spec.name(), spec.shape(), data));
        }
        return out;
    }

    /** Writes a random model with a minimal word-level tokenizer ("t0".."t23") into {@code dir}. */
    static Path write(Path dir, long seed) {
        DecoderConfig c = config();
        HfCheckpoint.save(dir, c, randomTensors(c, seed));
        List<String> words = new ArrayList<>();
        for (int i = 3; i < c.vocabSize(); i++) {
            words.add("t" + i);
        }
        WordLevelTokenizerWriter.write(words, dir.resolve("tokenizer.json"));
        return dir;
    }
}
