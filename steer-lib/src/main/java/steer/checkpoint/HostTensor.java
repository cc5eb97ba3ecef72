package steer.checkpoint;

import java.util.Arrays;

/**
 * A tensor held in Java memory as float32, row-major, before it becomes an NDArray.
 *
 * <p>Every dtype read from a checkpoint (F32, F16, BF16) is widened to float32 here, in Java, so that no
 * BF16 array ever reaches DJL's PyTorch engine (which aborts the JVM on BF16).
 *
 * @param name  the Hugging Face tensor name, e.g. {@code model.layers.0.self_attn.q_proj.weight}
 * @param shape the shape, outermost first
 * @param data  the values, row-major; {@code data.length} equals the product of {@code shape}
 */
public record HostTensor(String name, long[] shape, float[] data) {

    public HostTensor {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor " + name + ": negative dimension in " + Arrays.toString(shape));
            }
            n *= d;
        }
        if (n != data.length) {
            throw new IllegalArgumentException("tensor " + name + ": shape " + Arrays.toString(shape)
                    + " holds " + n + " values but " + data.length + " were given");
        }
    }

    /** The number of values, the product of the shape. */
    public int size() {
        return data.length;
    }

    /** The shape as text, e.g. {@code [64, 512]}, for error messages. */
    public String shapeText() {
        return Arrays.toString(shape);
    }
}
