package steer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * Keys and values of past positions, preallocated per layer and written in place so that a decode step
 * copies only the new position instead of re-concatenating the whole history. Keys are stored transposed,
 * {@code [B, KV, Dh, capacity]}, so attention multiplies by them without a transpose; values are
 * {@code [B, KV, capacity, Dh]}.
 *
 * <p>The arrays live on the request manager given at construction; closing that manager frees them.
 */
public final class KvCache {

    private final NDArray[] keys;
    private final NDArray[] values;
    private final int capacity;
    private int length;

    KvCache(NDManager manager, int layers, int batch, int kvHeads, int capacity, int headDim) {
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
        this.capacity = capacity;
        for (int i = 0; i < layers; i++) {
            keys[i] = manager.zeros(new Shape(batch, kvHeads, headDim, capacity));
            values[i] = manager.zeros(new Shape(batch, kvHeads, capacity, headDim));
        }
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
        keys[layer].set(new NDIndex().addAllDim(3).addSliceDim(length, length + t), kT);
        values[layer].set(new NDIndex().addAllDim(2).addSliceDim(length, length + t), v);
        NDManager step = kT.getManager();
        return new NDArray[] {
            Decoder.owned(keys[layer].get(new NDIndex().addAllDim(3).addSliceDim(0, length + t)), step),
            Decoder.owned(values[layer].get(new NDIndex().addAllDim(2).addSliceDim(0, length + t)), step)};
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
}
