package steer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;

/**
 * Data type casts that autograd can see through, for half precision with float32 master weights, norms and
 * softmax.
 *
 * <p>DJL 0.32's {@code NDArray.toType} cuts the autograd graph (its result has no gradient function, checked in
 * {@code HalfPrecisionTest}), so a gradient would never reach a float32 weight cast to half, nor pass back through
 * a float32 softmax. Adding the array in place to zeros of the target type is the same cast to PyTorch, and
 * differentiable: the add's backward passes the gradient on, and the autograd engine casts it to the source's type.
 * Without gradient recording (generation, reference scoring) the plain cast is used: one op instead of two.
 */
final class Casts {

    private Casts() {
    }

    /**
     * {@code x} in {@code type}, owned by {@code owner}: {@code x} itself when it already has that type.
     *
     * @param owner the manager of the result: a step's, never the model's, when {@code x} is a weight
     */
    static NDArray to(NDArray x, DataType type, NDManager owner) {
        if (x.getDataType() == type) {
            return x;
        }
        if (!JniUtils.isGradMode()) {
            NDArray cast = x.toType(type, false);
            cast.attach(owner);
            return cast;
        }
        return owner.zeros(x.getShape(), type).addi(x);
    }
}
