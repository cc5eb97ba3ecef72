package steer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link Scalars}: the same values as DJL's number overloads, and a backward pass that reads the scalar it was
 * given even when the garbage collector ran and direct memory was reused between forward and backward (what breaks
 * DJL's own {@code mul(Number)}, whose scalar buffer is dropped as soon as the product exists).
 */
class ScalarsTest {

    @Test
    void theValuesAreDjlsAndTheGradientsSurviveACollectionBeforeTheBackwardPass() {
        try (NDManager m = NDManager.newBaseManager()) {
            for (DataType type : List.of(DataType.FLOAT32, DataType.FLOAT64)) {
                NDArray x = m.create(new double[] {0.5, -1.25, 3.0, 1e-3}).toType(type, false);
                assertArrayEquals(x.mul(0.34).toType(DataType.FLOAT64, false).toDoubleArray(),
                        Scalars.mul(x, 0.34).toType(DataType.FLOAT64, false).toDoubleArray(), 0, type + " mul");
                assertArrayEquals(x.div(0.34).toType(DataType.FLOAT64, false).toDoubleArray(),
                        Scalars.div(x, 0.34).toType(DataType.FLOAT64, false).toDoubleArray(), 0, type + " div");
                x.setRequiresGradient(true);
                for (int round = 0; round < 20; round++) {
                    try (GradientCollector g = Engine.getInstance().newGradientCollector()) {
                        NDArray y = Scalars.mul(x, 3.0).add(Scalars.div(x, 4.0)).sum();
                        churnDirectMemory();
                        g.backward(y);
                    }
                    double expected = 3.0 + 0.25;
                    double[] grad = x.getGradient().toType(DataType.FLOAT64, false).toDoubleArray();
                    assertArrayEquals(new double[] {expected, expected, expected, expected}, grad, 1e-6,
                            type + " round " + round);
                    x.getGradient().subi(x.getGradient());
                }
            }
        }
    }

    /** Frees what the collector can and refills small direct buffers with nines, as other threads' I/O would. */
    private static void churnDirectMemory() {
        System.gc();
        List<ByteBuffer> keep = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
            b.putDouble(0, 9.0);
            if (i % 2 == 0) {
                keep.add(b);
            }
        }
        System.gc();
        keep.clear();
    }
}
