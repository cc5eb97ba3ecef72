package steer.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import picocli.CommandLine.Option;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HfConfigJson;
import steer.checkpoint.HostTensor;
import steer.checkpoint.LoraConfig;
import steer.model.DecoderInit;
import steer.train.TrainingBenchmark;

/**
 * {@code bench train --objective dpo}: DPO steps with a LoRA adapter and, beside them, with full fine-tuning,
 * each with the process's peak resident memory (VmHWM, reset through {@code /proc/self/clear_refs} before each
 * configuration, so each peak is its own; the Java heap holding the host copy of the weights is included) and
 * tokens/s.
 */
final class PreferenceBench {

    @Option(names = "--objective", defaultValue = "sft",
            description = "sft (SFT steps, MFU) or dpo (DPO steps: LoRA and/or full fine-tuning, peak memory, tokens/s) (default: ${DEFAULT-VALUE})")
    String objective;

    @Option(names = "--config", description = "with dpo: random weights (DecoderInit, seed 0) of this config.json's shape instead of --model")
    Path config;

    @Option(names = "--lora-rank", defaultValue = "0", description = "with dpo: train a LoRA adapter of this rank (0: full fine-tuning only)")
    int loraRank;

    @Option(names = "--lora-alpha", defaultValue = "8", description = "with dpo: LoRA alpha (default: ${DEFAULT-VALUE})")
    double loraAlpha;

    @Option(names = "--lora-targets", defaultValue = "q,k,v,o,gate,up,down",
            description = "with dpo: projections with an adapter (default: ${DEFAULT-VALUE})")
    String loraTargets;

    @Option(names = "--full-too", description = "with dpo and --lora-rank: measure full fine-tuning after LoRA, in the same process")
    boolean fullToo;

    @Option(names = "--micro-batch", description = "with dpo: pairs per forward/backward pass (default: the batch)")
    Integer microBatch;

    @picocli.CommandLine.Mixin
    PlacementOptions placement = new PlacementOptions();

    @Option(names = "--warmup", defaultValue = "1", description = "with dpo: untimed steps first (default: ${DEFAULT-VALUE})")
    int warmup;

    boolean requested() {
        return objective.equals("dpo");
    }

    /** Runs the DPO configurations; {@code batch} is pairs per step, {@code seqLen} tokens per sequence. */
    void run(Path model, int batch, int seqLen, int steps) {
        if (model == null && config == null) {
            throw new IllegalArgumentException("bench train --objective dpo needs --model DIR or --config config.json");
        }
        DecoderConfig c = model != null ? HfConfigJson.read(model.resolve(HfConfigJson.FILE_NAME)) : HfConfigJson.read(config);
        // read (or drawn, seed 0) once per decoder built, so no host copy outlives the loading
        Supplier<Map<String, HostTensor>> weights = model != null ? () -> HfCheckpoint.load(model).tensors()
                : () -> DecoderInit.defaults().tensors(c, 0);
        String source = model != null ? model.toString() : "random weights of " + config;
        steer.model.Placement at = placement.placement();
        System.out.println("placement: " + at);
        System.out.printf("%s: %s, width %d, %d layers, vocabulary %,d; DPO, %d pairs x 2 x %d tokens, micro-batch %d,"
                        + " median of %d steps after %d%n", source, c.modelType(), c.hiddenSize(), c.numLayers(),
                c.vocabSize(), batch, seqLen, microBatch == null ? batch : microBatch, steps, warmup);
        List<LoraConfig> runs = new ArrayList<>();
        if (loraRank > 0) {
            runs.add(new LoraConfig(loraRank, loraAlpha, LoraConfig.parseTargets(loraTargets), 0, null));
        }
        if (loraRank == 0 || fullToo) {
            runs.add(null);
        }
        for (LoraConfig lora : runs) {
            resetPeak();
            String name = lora == null ? "full fine-tuning" : String.format("LoRA r %d alpha %s on %s", lora.rank(),
                    lora.alpha(), loraTargets);
            TrainingBenchmark.PreferenceResult r = TrainingBenchmark.measurePreference(c, weights, lora, batch, seqLen,
                    microBatch == null ? batch : microBatch, warmup, steps, at);
            System.out.printf("  %-40s trainable %,13d of %,d: step %8.1f s, %,8.1f tokens/s, peak resident %,d MB%n",
                    name, r.trainable(), r.parameters(), r.stepSeconds(), r.tokensPerSecond(),
                    ProcessMemory.peakResidentKb() / 1024);
            DeviceMemory.print(at);
        }
    }

    /** Resets VmHWM to the current resident set (Linux ≥ 4.0); elsewhere the peak stays the process's. */
    private static void resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | UnsupportedOperationException e) {
            System.out.println("  (could not reset the peak resident memory: " + e.getMessage() + ")");
        }
    }
}
