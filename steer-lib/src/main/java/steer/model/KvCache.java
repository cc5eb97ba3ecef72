package steer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Keys and values of past positions, preallocated per layer and written in place so that a decode step
 * copies only the new position instead of re-concatenating the whole history. Keys are stored transposed,
 * {@code [B, KV, Dh, capacity]}, so attention multiplies by them without a transpose; values are
 * {@code [B, KV, capacity, Dh]}.
 *
 * <p>Every row writes its next position at the same column, {@link #length()}; rows of different lengths are
 * told apart by the attention bias, which hides the columns a row does not own. A continuous batch
 * ({@link DecodeBatch}) relies on that: a joining sequence's prefill is copied into the columns that end at
 * {@code length}, and since every live row's columns end there too, dropping the oldest columns
 * ({@link #keepLast}) compacts all rows at once.
 *
 * <p>The arrays live on the request manager given at construction; closing that manager frees them.
 */
public final class KvCache {

    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;
    private int capacity;
    private int length;

    KvCache(NDManager manager, int layers, int batch, int kvHeads, int capacity, int headDim, DataType dtype) {
        this.manager = manager;
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
        this.capacity = capacity;
        for (int i = 0; i < layers; i++) {
            keys[i] = manager.zeros(new Shape(batch, kvHeads, headDim, capacity), dtype);
            values[i] = manager.zeros(new Shape(batch, kvHeads, capacity, headDim), dtype);
        }
    }

    private KvCache(NDManager manager, NDArray[] keys, NDArray[] values, int capacity, int length) {
        this.manager = manager;
        this.keys = keys;
        this.values = values;
        this.capacity = capacity;
        this.length = length;
    }

    /**
     * Writes this step's keys {@code [B, KV, Dh, T]} and values {@code [B, KV, T, Dh]} of one layer after the
     * cached positions.
     *
     * @return keys {@code [B, KV, Dh, S]} and values {@code [B, KV, S, Dh]} of all S = length + T positions,
     *     as views of the cache owned by the step's manager (k's), so they are freed with the step
     */
    NDArray[] append(int layer, NDArray kT, NDArray v) {
        long t = v.getShape().get(2);
        if (length + t > capacity) {
            throw new IllegalStateException("KV cache holds " + capacity + " positions; " + (length + t) + " needed");
        }
        // programmatic indices: parsing an index string costs more than the copy itself
        keys[layer].set(keyColumns(length, length + t), kT);
        values[layer].set(valueColumns(length, length + t), v);
        NDManager step = kT.getManager();
        return new NDArray[] {
            Decoder.owned(keys[layer].get(keyColumns(0, length + t)), step),
            Decoder.owned(values[layer].get(valueColumns(0, length + t)), step)};
    }

    /** Marks {@code t} more positions as cached, after every layer has appended them. */
    void advance(long t) {
        length += (int) t;
    }

    /** Positions cached so far. */
    public int length() {
        return length;
    }

    /** Positions this cache can hold. */
    public int capacity() {
        return capacity;
    }

    /** Rows (sequences) of this cache. */
    int rows() {
        return (int) keys[0].getShape().get(0);
    }

    /**
     * A new cache on {@code target} whose row b is a copy of this cache's row {@code rows[b]}: n samples of one
     * prompt share its prefill instead of computing it n times.
     */
    KvCache fork(int[] rows, NDManager target) {
        NDArray[] k = new NDArray[keys.length];
        NDArray[] v = new NDArray[values.length];
        try (NDManager tmp = manager.newSubManager()) {
            long[] index = new long[rows.length];
            for (int b = 0; b < rows.length; b++) {
                index[b] = rows[b];
            }
            NDArray ix = tmp.create(index);
            for (int i = 0; i < keys.length; i++) {
                k[i] = keys[i].get(new NDIndex("{}", ix));
                v[i] = values[i].get(new NDIndex("{}", ix));
                k[i].attach(target);
                v[i].attach(target);
            }
        }
        return new KvCache(target, k, v, capacity, length);
    }

    /** Sets the number of cached positions; columns from {@code length} on are free to be overwritten. */
    void length(int length) {
        if (length < 0 || length > capacity) {
            throw new IllegalArgumentException("length " + length + " outside [0, " + capacity + "]");
        }
        this.length = length;
    }

    /** Keeps only the last {@code m} cached columns, moved to {@code [0, m)}: compacts every row whose columns end at length. */
    void keepLast(int m) {
        if (m >= length) {
            return;
        }
        try (NDManager tmp = manager.newSubManager()) {
            for (int i = 0; i < keys.length; i++) {
                NDArray k = Decoder.owned(keys[i].get(keyColumns(length - m, length)), tmp).duplicate();
                NDArray v = Decoder.owned(values[i].get(valueColumns(length - m, length)), tmp).duplicate();
                keys[i].set(keyColumns(0, m), k);
                values[i].set(valueColumns(0, m), v);
            }
        }
        length = m;
    }

    /** Moves every column {@code d} places right, so that a prefill longer than {@link #length()} fits before it. */
    void shiftRight(int d) {
        if (d <= 0) {
            return;
        }
        reserve(length + d);
        try (NDManager tmp = manager.newSubManager()) {
            for (int i = 0; i < keys.length; i++) {
                NDArray k = Decoder.owned(keys[i].get(keyColumns(0, length)), tmp).duplicate();
                NDArray v = Decoder.owned(values[i].get(valueColumns(0, length)), tmp).duplicate();
                keys[i].set(keyColumns(d, d + length), k);
                values[i].set(valueColumns(d, d + length), v);
            }
        }
        length += d;
    }

    /** Grows the capacity to at least {@code columns}, keeping the cached columns. */
    void reserve(int columns) {
        if (columns <= capacity) {
            return;
        }
        int grown = Math.max(columns, capacity * 2);
        for (int i = 0; i < keys.length; i++) {
            Shape ks = keys[i].getShape();
            Shape vs = values[i].getShape();
            keys[i] = grow(keys[i], manager.zeros(new Shape(ks.get(0), ks.get(1), ks.get(2), grown - capacity), keys[i].getDataType()), 3);
            values[i] = grow(values[i], manager.zeros(new Shape(vs.get(0), vs.get(1), grown - capacity, vs.get(3)), values[i].getDataType()), 2);
        }
        capacity = grown;
    }

    /** Grows the rows to {@code rows}; new rows are zeros. */
    void reserveRows(int rows) {
        int have = rows();
        if (rows <= have) {
            return;
        }
        for (int i = 0; i < keys.length; i++) {
            Shape ks = keys[i].getShape();
            Shape vs = values[i].getShape();
            keys[i] = grow(keys[i], manager.zeros(new Shape(rows - have, ks.get(1), ks.get(2), ks.get(3)), keys[i].getDataType()), 0);
            values[i] = grow(values[i], manager.zeros(new Shape(rows - have, vs.get(1), vs.get(2), vs.get(3)), values[i].getDataType()), 0);
        }
    }

    /** Concatenates {@code extra} to {@code a} along {@code axis}, freeing both inputs. */
    private NDArray grow(NDArray a, NDArray extra, int axis) {
        NDArray out = NDArrays.concat(new NDList(a, extra), axis);
        out.attach(manager);
        a.close();
        extra.close();
        return out;
    }

    /**
     * Copies row {@code srcRow} of {@code src}'s columns {@code [0, width)} into row {@code row} of this cache at
     * columns {@code [at, at + width)}.
     */
    void copyRow(int row, KvCache src, int srcRow, int width, int at) {
        if (at + width > capacity) {
            throw new IllegalStateException("KV cache holds " + capacity + " positions; " + (at + width) + " needed");
        }
        try (NDManager tmp = manager.newSubManager()) {
            for (int i = 0; i < keys.length; i++) {
                NDArray k = Decoder.owned(src.keys[i].get(new NDIndex().addIndices(srcRow).addAllDim(2)
                        .addSliceDim(0, width)), tmp);                                           // [KV, Dh, width]
                NDArray v = Decoder.owned(src.values[i].get(new NDIndex().addIndices(srcRow).addAllDim()
                        .addSliceDim(0, width)), tmp);                                           // [KV, width, Dh]
                keys[i].set(new NDIndex().addIndices(row).addAllDim(2).addSliceDim(at, at + width), k);
                values[i].set(new NDIndex().addIndices(row).addAllDim().addSliceDim(at, at + width), v);
            }
        }
    }

    private static NDIndex keyColumns(long from, long to) {
        return new NDIndex().addAllDim(3).addSliceDim(from, to);
    }

    private static NDIndex valueColumns(long from, long to) {
        return new NDIndex().addAllDim(2).addSliceDim(from, to);
    }
}
