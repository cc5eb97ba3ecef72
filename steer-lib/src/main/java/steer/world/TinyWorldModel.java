package steer.world;

import java.nio.file.Path;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.model.DecoderInit;
import steer.tokenizer.Tokenizer;

/**
 * An untrained world-language model of about 22k parameters, written in milliseconds: random weights with the
 * world's tokenizer, in the Hugging Face layout. For tests and smoke runs that need a real checkpoint directory
 * (loading, serving, hot swaps, evaluation plumbing) but not a model that has learned anything.
 */
public final class TinyWorldModel {

    /** Width 32, 2 layers, 2 query heads, 1 key/value head, SwiGLU width 64. */
    public static final WorldModelSize SIZE = new WorldModelSize(32, 2, 2, 1, 64, 1e-3, 1);

    private TinyWorldModel() {
    }

    /**
     * Writes {@code tokenizer.json}, {@code config.json} and {@code model.safetensors} into {@code dir} (created if
     * needed).
     *
     * @param seed the weights' seed: the same seed writes the same weights
     * @return {@code dir}
     */
    public static Path write(Path dir, long seed) {
        WorldVocabulary.writeTokenizer(dir);
        int vocab;
        try (Tokenizer t = Tokenizer.load(dir)) {
            vocab = t.vocabSize();
        }
        DecoderConfig c = SIZE.config(vocab);
        HfCheckpoint.save(dir, c, new DecoderInit(0.5, false).tensors(c, seed));
        return dir;
    }
}
