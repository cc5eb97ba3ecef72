package steer.world;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HfTensorLayout;
import steer.checkpoint.HostTensor;
import steer.checkpoint.LoraCheckpoint;
import steer.checkpoint.LoraConfig;
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

    /**
     * Writes a LoRA adapter for the model in {@code base} in PEFT's layout ({@code adapter_config.json},
     * {@code adapter_model.safetensors}) into {@code dir}: A and B both drawn from N(0, std²), as if trained, so
     * that the adapted model differs from the base (a fresh adapter's B = 0 would leave it equal).
     *
     * @param seed the matrices' seed: the same seed writes the same adapter
     * @return {@code dir}
     */
    public static Path writeAdapter(Path dir, Path base, LoraConfig lora, long seed, double std) {
        DecoderConfig c = HfCheckpoint.load(base).config();
        Random random = new Random(seed);
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        for (HfTensorLayout.TensorSpec spec : LoraCheckpoint.expected(lora, c)) {
            float[] d = new float[(int) (spec.shape()[0] * spec.shape()[1])];
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) (random.nextGaussian() * std);
            }
            tensors.put(spec.name(), new HostTensor(spec.name(), spec.shape(), d));
        }
        new LoraCheckpoint(lora.withBaseModel(base.toString()), tensors).save(dir);
        return dir;
    }
}
