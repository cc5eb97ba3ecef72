package steer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * Keys and values of past positions, one pair of preallocated {@code [B, KV, capacity, Dh]} arrays per
 * layer, written in place so that a decode step copies only the new position instead of re-concatenating
 * the whole history.
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
            keys[i] = manager.zeros(new Shape(batch, kvHeads, capacity, headDim));
            values[i] = manager.zeros(new Shape(batch, kvHeads, capacity, headDim));
        }
    }

    /**
     * Writes this step's keys and values {@code [B, KV, T, Dh]} of one layer after the cached positions.
     *
     * @return the keys and values of all positions so far, {@code [B, KV, length + T, Dh]}, as views of the cache
     */
    NDArray[] append(int layer, NDArray k, NDArray v) {
        long t = k.getShape().get(2);
        if (length + t > capacity) {
            throw new IllegalStateException("KV cache holds " + capacity + " positions; " + (length + t) + " needed");
        }
        NDIndex slot = new NDIndex(":, :, {}:{}", length, length + t);
        keys[layer].set(slot, k);
        values[layer].set(slot, v);
        // the views belong to the step (k's manager), not to the cache, so they die with the step
        NDIndex upTo = new NDIndex(":, :, :{}", length + t);
        return new NDArray[] {Decoder.owned(keys[layer].get(upTo), k.getManager()),
            Decoder.owned(values[layer].get(upTo), k.getManager())};
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
