package steer.checkpoint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A test fixture: a random-weight checkpoint of Qwen2.5-0.5B-Instruct's exact shape, as a user's real one would sit
 * on disk: the published {@code config.json}, the real Qwen tokenizer and chat template
 * ({@code ../shared/models/qwen3-tokenizer}), and {@code model.safetensors} in BF16 (about 1 GB).
 *
 * <p>Weights are Hugging Face's initialisation (uniform with std 0.02 for the matrices, RMSNorm weights 1, q/k/v
 * biases 0), except that the embedding (tied, so also the output layer) gives {@code <|im_end|>} a lead: every row
 * has {@link #SHARED} on coordinate 0 and {@code <|im_end|>}'s has {@link #IM_END_LEAD}, so that after any token
 * the end of the turn is likely but not certain (the test measures its probability), and a sampled response ends
 * after a few tokens, as a chat model's does. The residual branches' output projections are scaled as GPT-2's
 * (std 0.02/√48), so that the layers' sum does not drown the embedding.
 */
public final class QwenHalfBillionCheckpoint {

    /** The shared real tokenizer. */
    public static final Path QWEN_TOKENIZER = Path.of(System.getProperty("steer.qwen.tokenizer",
            "../../shared/models/qwen3-tokenizer"));
    /** Qwen2.5-0.5B-Instruct's {@code config.json}, as published (the shared tokenizer's README quotes it). */
    public static final String CONFIG_JSON = """
            {
              "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
              "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
              "num_attention_heads": 14, "num_key_value_heads": 2, "hidden_act": "silu",
              "max_position_embeddings": 32768, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
              "sliding_window": 32768, "use_sliding_window": false, "max_window_layers": 21,
              "tie_word_embeddings": true, "vocab_size": 151936,
              "bos_token_id": 151643, "eos_token_id": 151645, "torch_dtype": "bfloat16"
            }
            """;
    /** {@code <|im_end|>}, the chat models' end of turn. */
    public static final int IM_END = 151645;
    /**
     * Coordinate 0 of every embedding row: large, so that it dominates the residual stream and the final RMSNorm
     * gives every position a large h_0.
     */
    public static final float SHARED = 20f;
    /** Coordinate 0 of {@code <|im_end|>}'s row (exact in BF16): its logit leads every other id's by 0.5 · h_0. */
    public static final float IM_END_LEAD = 20.5f;

    private QwenHalfBillionCheckpoint() {
    }

    /** Writes the checkpoint into {@code dir} (created) and returns it. */
    public static Path write(Path dir, long seed) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(HfConfigJson.FILE_NAME), CONFIG_JSON);
            Files.copy(QWEN_TOKENIZER.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
            Files.copy(QWEN_TOKENIZER.resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        DecoderConfig config = HfConfigJson.read(dir.resolve(HfConfigJson.FILE_NAME));
        SplittableRandom random = new SplittableRandom(seed);
        double halfWidth = 0.02 * Math.sqrt(3); // uniform(-a, a) has std a / √3
        List<HostTensor> tensors = new ArrayList<>();
        for (HfTensorLayout.TensorSpec spec : HfTensorLayout.expected(config)) {
            long size = Arrays.stream(spec.shape()).reduce(1, (a, b) -> a * b);
            float[] values = new float[Math.toIntExact(size)];
            if (spec.name().endsWith("norm.weight")) {
                Arrays.fill(values, 1f);
            } else if (!spec.name().endsWith(".bias")) {
                // the residual branches' output projections scaled by 1/√(2·layers), as DecoderInit's default (GPT-2)
                double scale = spec.name().endsWith(HfTensorLayout.O_PROJ) || spec.name().endsWith(HfTensorLayout.DOWN_PROJ)
                        ? 1 / Math.sqrt(2.0 * config.numLayers()) : 1;
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) ((2 * random.nextDouble() - 1) * halfWidth * scale);
                }
            }
            if (spec.name().equals("model.embed_tokens.weight")) {
                int width = (int) spec.shape()[1];
                for (int row = 0; row < spec.shape()[0]; row++) {
                    values[row * width] = row == IM_END ? IM_END_LEAD : SHARED;
                }
            }
            tensors.add(new HostTensor(spec.name(), spec.shape(), values));
        }
        SafetensorsWriter.write(dir.resolve("model.safetensors"), tensors, SafetensorsWriter.PYTORCH_METADATA,
                SafetensorsWriter.StoredType.BF16);
        return dir;
    }
}
