package steer.model;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.Locale;

/**
 * Where a model's weights live and in what precision: the {@code device} setting ({@code cpu}, {@code gpu},
 * {@code gpu:N}) and the {@code precision} setting ({@code f32}, {@code bf16}, {@code f16}) of every command and
 * service, parsed and checked in one place.
 *
 * <p>Defaults: float32 on the CPU, bfloat16 on a GPU. Half precision means half-precision weights and activations
 * with RMSNorm, attention's softmax, logits, log-probs and losses in float32 (as Hugging Face's eager Llama does);
 * where full parameters train, the trained weights and AdamW's moments stay float32 (master weights) and each
 * forward pass casts them ({@link Decoder#load(java.nio.file.Path, NDManager, Placement.Precision, boolean)}).
 * bfloat16 is refused on the CPU because DJL's PyTorch engine aborts the JVM on it there; float16 runs on the CPU
 * (slowly: it is how the half-precision path is tested on machines without a GPU).
 *
 * @param device    where the weights and every activation live
 * @param precision the weights' and activations' precision
 */
public record Placement(Device device, Precision precision) {

    /** The precisions a model can run in. */
    public enum Precision {
        F32(DataType.FLOAT32), F16(DataType.FLOAT16), BF16(DataType.BFLOAT16);

        private final DataType dataType;

        Precision(DataType dataType) {
            this.dataType = dataType;
        }

        /** DJL's data type of this precision. */
        public DataType dataType() {
            return dataType;
        }

        /** True for F16 and BF16. */
        public boolean isHalf() {
            return this != F32;
        }

        /** The setting's spelling: {@code f32}, {@code f16}, {@code bf16}. */
        public String spelling() {
            return name().toLowerCase(Locale.ROOT);
        }

        /**
         * Parses {@code f32}/{@code fp32}/{@code float32}, {@code f16}/{@code fp16}/{@code float16},
         * {@code bf16}/{@code bfloat16} (any case).
         *
         * @throws IllegalArgumentException naming the value and the accepted ones
         */
        public static Precision parse(String text) {
            switch (text.trim().toLowerCase(Locale.ROOT)) {
                case "f32": case "fp32": case "float32":
                    return F32;
                case "f16": case "fp16": case "float16":
                    return F16;
                case "bf16": case "bfloat16":
                    return BF16;
                default:
                    throw new IllegalArgumentException("unknown precision '" + text + "': use f32, bf16 or f16");
            }
        }
    }

    /** Float32 on the CPU: every model and test of this project unless told otherwise. */
    public static final Placement CPU_F32 = new Placement(Device.cpu(), Precision.F32);

    /**
     * Parses the two settings and checks them against this machine.
     *
     * @param device    {@code cpu}, {@code gpu} (the first GPU) or {@code gpu:N}; null or blank means cpu
     * @param precision {@code f32}, {@code bf16} or {@code f16}; null or blank means the device's default (f32 on
     *                  the CPU, bf16 on a GPU)
     * @throws IllegalArgumentException if a value is malformed, names a GPU the PyTorch engine does not see, or
     *                                  asks for bf16 on the CPU
     */
    public static Placement parse(String device, String precision) {
        Device d = parseDevice(device, Engine.getInstance().getGpuCount());
        Precision p = precision == null || precision.isBlank() ? (d.isGpu() ? Precision.BF16 : Precision.F32)
                : Precision.parse(precision);
        if (!d.isGpu() && p == Precision.BF16) {
            throw new IllegalArgumentException("precision bf16 needs a GPU (device gpu or gpu:N): DJL's PyTorch"
                    + " engine aborts the JVM on bfloat16 on the CPU; use f32 there (or f16, slowly)");
        }
        return new Placement(d, p);
    }

    /**
     * Parses a device setting against the number of CUDA devices the engine sees.
     *
     * @throws IllegalArgumentException naming the value and what this machine has
     */
    static Device parseDevice(String text, int gpuCount) {
        String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        if (t.isEmpty() || t.equals("cpu")) {
            return Device.cpu();
        }
        int index;
        if (t.equals("gpu") || t.equals("cuda")) {
            index = 0;
        } else if (t.startsWith("gpu:") || t.startsWith("cuda:")) {
            String n = t.substring(t.indexOf(':') + 1);
            try {
                index = Integer.parseInt(n);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("device '" + text + "': the GPU index '" + n + "' is not a number");
            }
            if (index < 0) {
                throw new IllegalArgumentException("device '" + text + "': the GPU index must be 0 or more");
            }
        } else {
            throw new IllegalArgumentException("unknown device '" + text + "': use cpu, gpu or gpu:N");
        }
        if (index >= gpuCount) {
            throw new IllegalArgumentException("device '" + text + "' asks for GPU " + index + " but the PyTorch engine"
                    + " sees " + (gpuCount == 0 ? "no CUDA device (CPU natives, or no driver)" : gpuCount + " GPU(s)")
                    + "; use device cpu" + (gpuCount > 0 ? " or gpu:0 to gpu:" + (gpuCount - 1) : ""));
        }
        return Device.gpu(index);
    }

    /** A new root manager on this placement's device, for a model's weights. */
    public NDManager newManager() {
        return NDManager.newBaseManager(device);
    }

    /** The device setting that parses back to this device: {@code cpu} or {@code gpu:N}. */
    public String deviceSetting() {
        return device.isGpu() ? "gpu:" + device.getDeviceId() : "cpu";
    }

    /** How the settings read back, e.g. {@code gpu:0 bf16}. */
    @Override
    public String toString() {
        return deviceSetting() + " " + precision.spelling();
    }
}
