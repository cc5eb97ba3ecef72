package steer.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HfTensorLayout;
import steer.checkpoint.HostTensor;

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
        StringBuilder vocab = new StringBuilder();
        for (int i = 0; i < c.vocabSize(); i++) {
            String token = i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : "t" + i;
            vocab.append(i == 0 ? "" : ",").append('"').append(token).append("\":").append(i);
        }
        String json = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":["
                + "{\"id\":0,\"content\":\"<unk>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
                + "{\"id\":1,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
                + "{\"id\":2,\"content\":\"</s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],"
                + "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
                + "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
                + "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
                + "{\"Sequence\":{\"id\":\"B\",\"type_id\":1}}],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}},"
                + "\"decoder\":{\"type\":\"WordPiece\",\"prefix\":\"##\",\"cleanup\":false},"
                + "\"model\":{\"type\":\"WordLevel\",\"vocab\":{" + vocab + "},\"unk_token\":\"<unk>\"}}";
        try {
            Files.writeString(dir.resolve("tokenizer.json"), json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }
}
