package steer.checkpoint;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * One tensor as described by a safetensors header, before its data is read.
 *
 * @param file      the safetensors file holding the tensor
 * @param name      the tensor name
 * @param dtype     the stored dtype as written in the header, e.g. {@code F32}, {@code BF16}, {@code I64}
 * @param shape     the shape, outermost first
 * @param dataBegin absolute byte position of the first data byte in {@code file}
 * @param dataEnd   absolute byte position one past the last data byte
 */
public record SafetensorsEntry(Path file, String name, String dtype, long[] shape, long dataBegin, long dataEnd) {

    /** The shape as text, e.g. {@code [64, 512]}, for error messages. */
    public String shapeText() {
        return Arrays.toString(shape);
    }
}
