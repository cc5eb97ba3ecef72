package steer.model;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfConfigJson;
import steer.checkpoint.HfTensorLayout;
import steer.checkpoint.HostTensor;
import steer.checkpoint.QwenHalfBillionCheckpoint;
import steer.checkpoint.SafetensorsReader;
import steer.checkpoint.SafetensorsWriter;
import steer.train.AdamW;
import steer.train.AdamWConfig;
import steer.train.TrainerCheckpoint;

/**
 * What saving a decoder of Qwen2.5-0.5B-Instruct's shape (random weights, 494,032,768 parameters, F32: a 1.98 GB
 * {@code model.safetensors}) costs in time and memory, streamed ({@link Decoder#hfWeights}, the default) or through
 * a whole copy in the Java heap ({@code -Dsteer.bench.save=whole}: {@code HfCheckpoint.save(dir, config,
 * toHostTensors())}, as saves were before). One save per run, so the two paths never share a JVM's heap; the decoder
 * is built natively a tensor at a time and the heap collected before the save. Printed: the save's wall time, the
 * Java heap in use before it and its peak during it (sampled every 5 ms, and the sum of the heap pools' peaks), and
 * the process's resident memory before it and its peak during it (VmHWM, reset through /proc/self/clear_refs).
 * {@code -Dsteer.bench.dtype=bf16} writes BF16; {@code -Dsteer.bench.optimizer=true} also saves AdamW's two moments of
 * every weight ({@code optimizer.safetensors}, 3.95 GB more), streamed ({@link TrainerCheckpoint#saveOptimizer}) or
 * through {@link AdamW#exportState}, as a full fine-tuning state save does.
 *
 * <p>Run: {@code ./mvnw -o -B -q -pl steer-lib test -Dtest=SaveMemoryBenchmark -Dsteer.bench=true
 * -Dsurefire.failIfNoSpecifiedTests=false [-Dsteer.bench.save=whole]}.
 */
@EnabledIfSystemProperty(named = "steer.bench", matches = "true")
class SaveMemoryBenchmark {

    @TempDir
    Path dir;

    @Test
    void saveAHalfBillionParameterDecoder() throws Exception {
        Files.writeString(dir.resolve(HfConfigJson.FILE_NAME), QwenHalfBillionCheckpoint.CONFIG_JSON);
        DecoderConfig config = HfConfigJson.read(dir.resolve(HfConfigJson.FILE_NAME));
        boolean whole = System.getProperty("steer.bench.save", "streamed").equals("whole");
        boolean withOptimizer = Boolean.getBoolean("steer.bench.optimizer");
        SafetensorsWriter.StoredType type = System.getProperty("steer.bench.dtype", "f32").equalsIgnoreCase("bf16")
                ? SafetensorsWriter.StoredType.BF16 : SafetensorsWriter.StoredType.F32;
        long parameters = HfTensorLayout.expected(config).stream()
                .mapToLong(s -> Arrays.stream(s.shape()).reduce(1, (a, b) -> a * b)).sum();
        Map<String, long[]> shapes = new HashMap<>();
        HfTensorLayout.expected(config).forEach(s -> shapes.put(s.name(), s.shape()));
        try (Decoder d = Decoder.fromTensors(config, name -> random(name, shapes.get(name)), NDManager.newBaseManager(),
                DataType.FLOAT32)) {
            AdamW optimizer = null;
            if (withOptimizer) {
                // one update at learning rate 0 with gradients never computed (zeros): both moments of every
                // weight exist natively, as after a full fine-tuning step, and the weights are unchanged
                d.parameters().forEach(e -> e.getValue().setRequiresGradient(true));
                optimizer = new AdamW(AdamWConfig.defaults(), d.parameters());
                optimizer.step(0);
            }
            MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
            for (int i = 0; i < 3; i++) {
                System.gc();
            }
            long heapBefore = memory.getHeapMemoryUsage().getUsed();
            long rssBefore = status("VmRSS:");
            ManagementFactory.getMemoryPoolMXBeans().forEach(MemoryPoolMXBean::resetPeakUsage);
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            AtomicLong heapPeak = new AtomicLong(heapBefore);
            AtomicBoolean done = new AtomicBoolean();
            Thread sampler = new Thread(() -> {
                while (!done.get()) {
                    heapPeak.accumulateAndGet(memory.getHeapMemoryUsage().getUsed(), Math::max);
                    try {
                        Thread.sleep(5);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            sampler.setDaemon(true);
            sampler.start();
            Path out = dir.resolve("saved");
            long start = System.nanoTime();
            if (whole) {
                Files.createDirectories(out);
                SafetensorsWriter.write(out.resolve(SafetensorsReader.SINGLE_FILE), d.toHostTensors().values(),
                        SafetensorsWriter.PYTORCH_METADATA, type);
                HfConfigJson.write(config, out.resolve(HfConfigJson.FILE_NAME));
                if (optimizer != null) {
                    steer.train.WholeMomentFile.write(out.resolve(TrainerCheckpoint.OPTIMIZER_FILE), optimizer);
                }
            } else {
                d.hfWeights().save(out, type);
                if (optimizer != null) {
                    TrainerCheckpoint.saveOptimizer(out.resolve(TrainerCheckpoint.OPTIMIZER_FILE), optimizer);
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            done.set(true);
            sampler.join();
            long poolPeaks = ManagementFactory.getMemoryPoolMXBeans().stream()
                    .filter(p -> p.getType() == MemoryType.HEAP)
                    .mapToLong(p -> p.getPeakUsage().getUsed()).sum();
            long hwm = status("VmHWM:");
            long bytes = Files.size(out.resolve(SafetensorsReader.SINGLE_FILE));
            if (optimizer != null) {
                bytes += Files.size(out.resolve(TrainerCheckpoint.OPTIMIZER_FILE));
            }
            System.out.printf("save %s%s, %s, %,d parameters, %,d bytes written%n", whole ? "whole (toHostTensors)"
                    : "streamed (hfWeights)", optimizer == null ? "" : " with AdamW's moments", type, parameters, bytes);
            System.out.printf("save time %.1f s; Java heap used %,d MB before, peak %,d MB sampled (heap pools' peaks"
                    + " %,d MB), max heap %,d MB; resident %,d MB before, peak %,d MB (VmHWM), +%,d MB%n", seconds,
                    heapBefore >> 20, heapPeak.get() >> 20, poolPeaks >> 20, memory.getHeapMemoryUsage().getMax() >> 20,
                    rssBefore >> 10, hwm >> 10, (hwm - rssBefore) >> 10);
        }
    }

    /** A tensor of the layout, made on demand: HF's initialisation (uniform, std 0.02), norms 1, biases 0. */
    private static HostTensor random(String name, long[] shape) {
        float[] values = new float[Math.toIntExact(Arrays.stream(shape).reduce(1, (a, b) -> a * b))];
        if (name.endsWith("norm.weight")) {
            Arrays.fill(values, 1f);
        } else if (!name.endsWith(".bias")) {
            SplittableRandom r = new SplittableRandom(name.hashCode());
            double halfWidth = 0.02 * Math.sqrt(3);
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) ((2 * r.nextDouble() - 1) * halfWidth);
            }
        }
        return new HostTensor(name, shape, values);
    }

    /** A /proc/self/status field in kB. */
    private static long status(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field)) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        return -1;
    }
}
