package steer.judge.api;

import java.nio.file.Path;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.model.DecoderInit;
import steer.tokenizer.Tokenizer;
import steer.world.WorldModelSize;
import steer.world.WorldVocabulary;

/** Random-weight world-language models (about 50k parameters), written in milliseconds. */
final class TinyModels {

    private TinyModels() {
    }

    static Path write(Path dir, long seed) {
        WorldVocabulary.writeTokenizer(dir);
        int vocab;
        try (Tokenizer t = Tokenizer.load(dir)) {
            vocab = t.vocabSize();
        }
        DecoderConfig c = new WorldModelSize(32, 2, 2, 1, 64, 1e-3, 1).config(vocab);
        HfCheckpoint.save(dir, c, new DecoderInit(0.5, false).tensors(c, seed));
        return dir;
    }
}
