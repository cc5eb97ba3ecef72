package steer.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;
import org.junit.jupiter.api.Test;

class GradientClippingTest {

    @Test
    void scalesToExactlyMaxNorm() {
        try (NDManager m = NDManager.newBaseManager()) {
            // ‖(3, 4)‖² + ‖(12)‖² = 9 + 16 + 144 = 169: norm 13, scaled by 1/13
            NDArray a = m.create(new double[] {3, 4});
            NDArray b = m.create(new double[] {12});
            int before = m.getManagedArrays().size();
            assertEquals(13, GradientClipping.clipGlobalNorm(List.of(a, b), 1.0), 1e-12);
            assertArrayEquals(new double[] {3.0 / 13, 4.0 / 13}, a.toDoubleArray(), 1e-15);
            assertArrayEquals(new double[] {12.0 / 13}, b.toDoubleArray(), 1e-15);
            assertEquals(1.0, GradientClipping.clipGlobalNorm(List.of(a, b), 1.0), 1e-12);
            assertEquals(before, m.getManagedArrays().size());
            // float32 gradients: the same, to float precision
            NDArray c = m.create(new float[] {30f, -40f});
            assertEquals(50, GradientClipping.clipGlobalNorm(List.of(c), 2.5), 1e-9);
            assertArrayEquals(new float[] {1.5f, -2f}, c.toFloatArray(), 1e-6f);
        }
    }

    @Test
    void leavesSmallGradientsAlone() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.create(new float[] {0.3f, -0.4f});
            assertEquals(0.5, GradientClipping.clipGlobalNorm(List.of(a), 1.0), 1e-7);
            assertArrayEquals(new float[] {0.3f, -0.4f}, a.toFloatArray(), 0f);
            assertEquals(0, GradientClipping.clipGlobalNorm(List.of(), 1.0));
        }
    }
}
