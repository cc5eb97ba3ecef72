package steer.serving;

import java.nio.file.Files;
import java.nio.file.Path;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.model.DecoderInit;
import steer.tokenizer.Tokenizer;
import steer.world.WorldModelSize;
import steer.world.WorldVocabulary;

/** Random-weight world-language models, written in milliseconds, for serving tests. */
public final class TinyWorldModels {

    private TinyWorldModels() {
    }

    /** Writes a model directory whose weights depend on {@code seed}. */
    public static Path write(Path dir, long seed) {
        WorldVocabulary.writeTokenizer(dir);
        int vocab;
        try (Tokenizer t = Tokenizer.load(dir)) {
            vocab = t.vocabSize();
        }
        DecoderConfig c = new WorldModelSize(32, 2, 2, 1, 64, 1e-3, 1).config(vocab);
        HfCheckpoint.save(dir, c, new DecoderInit(0.5, false).tensors(c, seed));
        return dir;
    }

    /** Writes a model, then truncates its weights file so that loading it fails. */
    public static Path writeTruncated(Path dir) throws java.io.IOException {
        write(dir, 1);
        Path weights = dir.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(weights);
        Files.write(weights, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        return dir;
    }
}
