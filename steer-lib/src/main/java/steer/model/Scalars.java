package steer.model;

import ai.djl.ndarray.NDArray;

/**
 * Products and quotients of an array and a number whose backward pass is safe.
 *
 * <p>DJL's {@code NDArray.mul(Number)} and {@code div(Number)} make the number a 0-dimensional array over a Java
 * direct buffer (PyTorch's {@code from_blob}, which does not copy), multiply, and close that array at once, which
 * drops the buffer. Autograd keeps the scalar's tensor for the backward pass ({@code d(x·c)/dx = c}), so by then
 * the backward may read memory that the garbage collector freed and a later allocation reused: a gradient scaled
 * by garbage, now and then, under load. That was the trainer's rare irreproducibility (a restarted run differing
 * from an uninterrupted one that had met it). Here the number is copied into memory PyTorch owns, which its
 * reference counting keeps alive for as long as the graph needs it.
 *
 * <p>Use these on every path that gradients flow through; in-place updates outside recording (the optimizer) and
 * {@code add}/{@code sub} (whose backward never reads the scalar) are safe with DJL's own overloads.
 */
public final class Scalars {

    private Scalars() {
    }

    /** {@code x · c}, computed as {@code x.mul(c)} would (c in x's data type), with a scalar PyTorch owns. */
    public static NDArray mul(NDArray x, double c) {
        try (NDArray scalar = owned(x, c)) {
            return x.mul(scalar);
        }
    }

    /** {@code x / c}, with a scalar PyTorch owns. */
    public static NDArray div(NDArray x, double c) {
        try (NDArray scalar = owned(x, c)) {
            return x.div(scalar);
        }
    }

    /** {@code c} as a 0-dimensional array of {@code x}'s data type in PyTorch's own memory (a copy, not a view). */
    private static NDArray owned(NDArray x, double c) {
        try (NDArray java = x.getManager().create(c)) {
            // a new tensor from PyTorch's allocator either way (DJL's toType returns the same tensor when the type
            // already matches, copy or not); closing ours later only drops a reference the graph does not need
            return java.getDataType() == x.getDataType() ? java.duplicate() : java.toType(x.getDataType(), false);
        }
    }
}
