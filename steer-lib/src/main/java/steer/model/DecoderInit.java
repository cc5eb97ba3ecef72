package steer.model;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfTensorLayout;
import steer.checkpoint.HostTensor;

/**
 * Random initial weights for training a decoder from scratch, in the Hugging Face layout, so they load through
 * {@link Decoder#fromHostTensors} and save like any checkpoint.
 *
 * <pre>
 *   matrices (embedding, q/k/v/gate/up, untied lm_head)   N(0, std²)
 *   o_proj, down_proj                                      N(0, (std / √(2·layers))²) when scaled, else N(0, std²)
 *   RMSNorm weights                                        1
 *   q/k/v biases (Qwen2)                                   0
 * </pre>
 *
 * <p>Sources: std = 0.02 is {@code initializer_range} of Hugging Face {@code LlamaConfig} and
 * {@code Qwen2Config}; their {@code _init_weights} draws every linear and embedding weight from N(0, 0.02²),
 * zeroes biases and leaves RMSNorm weights at 1 (GPT-2 used the same 0.02). The scaled residual projections
 * follow GPT-2 (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners", Sec. 2.3: residual
 * layer weights scaled by 1/√N, N the number of residual layers), as nanoGPT's {@code model.py} does with
 * std 0.02/√(2·n_layer) on each block's two output projections ("per GPT-2 paper"): each layer adds two
 * residual branches, so the residual stream's variance at initialisation no longer grows with depth. Hugging
 * Face's Llama does not scale them; {@link #huggingFace()} gives that variant.
 *
 * <p>Names and shapes come from {@link HfTensorLayout#expected}, the one table of both. The values are drawn
 * from one {@link Random} stream seeded with the seed, tensor after tensor in the layout's order, so a seed
 * always gives the same weights ({@code Random}'s algorithms are fixed by its specification).
 *
 * @param std                std &gt; 0 of the weight matrices; default 0.02
 * @param scaledResiduals    whether o_proj and down_proj use std/√(2·layers); default true (GPT-2, nanoGPT)
 */
public record DecoderInit(double std, boolean scaledResiduals) {

    public DecoderInit {
        if (!(std > 0 && Double.isFinite(std))) {
            throw new IllegalArgumentException("initial weight std must be finite and > 0, got " + std
                    + "; Hugging Face Llama and GPT-2 use 0.02");
        }
    }

    /** std 0.02 with GPT-2's scaled residual projections. */
    public static DecoderInit defaults() {
        return new DecoderInit(0.02, true);
    }

    /** std 0.02 everywhere, as Hugging Face's {@code LlamaPreTrainedModel._init_weights}. */
    public static DecoderInit huggingFace() {
        return new DecoderInit(0.02, false);
    }

    /**
     * Draws every tensor of a decoder with this configuration.
     *
     * @param config the decoder's hyperparameters
     * @param seed   the random seed; the same seed gives the same tensors
     * @return tensors by Hugging Face name, in the layout's order, float32
     */
    public Map<String, HostTensor> tensors(DecoderConfig config, long seed) {
        Random random = new Random(seed);
        double residualStd = scaledResiduals ? std / Math.sqrt(2.0 * config.numLayers()) : std;
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (HfTensorLayout.TensorSpec spec : HfTensorLayout.expected(config)) {
            String name = spec.name();
            long size = 1;
            for (long d : spec.shape()) {
                size *= d;
            }
            float[] values = new float[Math.toIntExact(size)];
            if (name.endsWith("norm.weight")) {
                Arrays.fill(values, 1f);
            } else if (!name.endsWith(".bias")) {
                boolean residual = name.endsWith(HfTensorLayout.O_PROJ) || name.endsWith(HfTensorLayout.DOWN_PROJ);
                double s = residual ? residualStd : std;
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) (random.nextGaussian() * s);
                }
            }
            out.put(name, new HostTensor(name, spec.shape(), values));
        }
        return out;
    }
}
