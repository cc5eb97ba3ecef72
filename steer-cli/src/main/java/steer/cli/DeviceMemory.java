package steer.cli;

import ai.djl.util.cuda.CudaUtils;
import java.lang.management.MemoryUsage;
import steer.model.Placement;

/** GPU memory figures for the benchmarks, printed beside the process's peak resident memory. */
final class DeviceMemory {

    private DeviceMemory() {
    }

    /**
     * The memory in use on the placement's GPU (CUDA's free/total count, so it includes what PyTorch's caching
     * allocator keeps after a peak, and any other process on the device); nothing on the CPU.
     */
    static void print(Placement placement) {
        if (!placement.device().isGpu()) {
            return;
        }
        MemoryUsage m = CudaUtils.getGpuMemory(placement.device());
        System.out.printf("device memory on %s: %,d MB in use of %,d MB (CUDA's count, PyTorch's cache included)%n",
                placement.device(), m.getUsed() >> 20, m.getMax() >> 20);
    }
}
