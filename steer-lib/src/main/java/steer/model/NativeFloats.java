package steer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import steer.checkpoint.SafetensorsWriter;

/**
 * Copies a native array's values to a {@link SafetensorsWriter.FloatSink} a bounded piece at a time, so that saving
 * a model's weights or an optimizer's moments never holds more than one piece in the Java heap: each piece is sliced
 * natively on a scratch manager (a child of the array's, closed before the next piece), copied to Java, narrowed to
 * float32 if the array is float64, and handed on.
 */
public final class NativeFloats {

    /** Most values one piece holds (1 MiB of float32). */
    public static final int CHUNK_VALUES = 1 << 18;

    private NativeFloats() {
    }

    /** Puts every value of {@code array}, row-major, into {@code sink}. */
    public static void write(NDArray array, SafetensorsWriter.FloatSink sink) {
        write(array, 0, array.size(), sink);
    }

    /**
     * Puts the values {@code [offset, offset + count)} of {@code array}'s row-major (flattened) values into
     * {@code sink}.
     */
    public static void write(NDArray array, long offset, long count, SafetensorsWriter.FloatSink sink) {
        if (offset < 0 || count < 0 || offset + count > array.size()) {
            throw new IllegalArgumentException("values [" + offset + ", " + (offset + count) + ") of an array of "
                    + array.size());
        }
        for (long done = 0; done < count; done += CHUNK_VALUES) {
            long n = Math.min(CHUNK_VALUES, count - done);
            float[] values;
            try (NDManager scratch = array.getManager().newSubManager()) {
                NDArray flat = Decoder.owned(array.reshape(-1), scratch);
                NDArray piece = flat.get(new NDIndex("{}:{}", offset + done, offset + done + n));
                values = floats(Decoder.owned(piece, scratch));
            }
            sink.put(values, 0, values.length);
        }
    }

    /**
     * Puts columns {@code [column, column + columns)} of a {@code [rows, Σ columns]} matrix into {@code sink}
     * transposed, as a row-major {@code [columns, rows]} matrix: a Hugging Face {@code [out, in]} weight out of a fused
     * {@code [in, out]} one. Each piece is a block of whole output rows, transposed natively.
     */
    public static void writeTransposedColumns(NDArray matrix, long column, int columns,
                                              SafetensorsWriter.FloatSink sink) {
        long rows = matrix.getShape().get(0);
        if (matrix.getShape().dimension() != 2 || column < 0 || column + columns > matrix.getShape().get(1)) {
            throw new IllegalArgumentException("columns [" + column + ", " + (column + columns) + ") of a "
                    + matrix.getShape() + " matrix");
        }
        int block = (int) Math.max(1, CHUNK_VALUES / rows);
        for (int c = 0; c < columns; c += block) {
            int n = Math.min(block, columns - c);
            float[] values;
            try (NDManager scratch = matrix.getManager().newSubManager()) {
                NDArray cols = Decoder.owned(matrix.get(new NDIndex(":, {}:{}", column + c, column + c + n)), scratch);
                values = floats(Decoder.owned(cols.transpose(), scratch));
            }
            sink.put(values, 0, values.length);
        }
    }

    /**
     * An array's values as float32: float64 narrowed in Java, half widened exactly (the one native temporary goes on
     * the array's manager and is closed at once).
     */
    static float[] floats(NDArray a) {
        if (a.getDataType() == DataType.FLOAT32) {
            return a.toFloatArray();
        }
        if (a.getDataType() == DataType.FLOAT16 || a.getDataType() == DataType.BFLOAT16) {
            try (NDArray f = a.toType(DataType.FLOAT32, false)) {   // exact: every half value is a float32
                return f.toFloatArray();
            }
        }
        if (a.getDataType() != DataType.FLOAT64) {
            throw new IllegalArgumentException("float32, float64 or half values only, got " + a.getDataType());
        }
        double[] wide = a.toDoubleArray();
        float[] out = new float[wide.length];
        for (int i = 0; i < wide.length; i++) {
            out[i] = (float) wide[i];
        }
        return out;
    }
}
