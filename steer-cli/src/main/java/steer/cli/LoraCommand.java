package steer.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HostTensor;
import steer.checkpoint.LoraCheckpoint;

/** LoRA adapters in PEFT's layout: what `sft` and `train --lora-rank R` write. */
@Command(name = "lora", description = "LoRA adapters in PEFT's layout (adapter_config.json, adapter_model.safetensors).",
        subcommands = {LoraCommand.Merge.class}, mixinStandardHelpOptions = true)
final class LoraCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    /** Folds an adapter into its base: W' = W + (alpha / r)·B·A on every targeted projection. */
    @Command(name = "merge", mixinStandardHelpOptions = true,
            description = "Writes the base model with an adapter merged in (W + alpha/r * B A), in the Hugging Face layout.")
    static final class Merge implements Runnable {

        @Option(names = "--base", required = true, description = "the base model directory (Hugging Face layout)")
        Path base;

        @Option(names = "--adapter", required = true, description = "the adapter directory (PEFT layout)")
        Path adapter;

        @Option(names = "--out", required = true, description = "output directory for the merged model; new or empty")
        Path out;

        @Override
        public void run() {
            if (Files.isDirectory(out) && !isEmpty(out)) {
                throw new IllegalArgumentException("--out " + out + " must be new or empty");
            }
            HfCheckpoint model = HfCheckpoint.load(base);
            LoraCheckpoint lora = LoraCheckpoint.load(adapter, model.config());
            Map<String, HostTensor> merged = lora.merge(model.config(), model.tensors());
            HfCheckpoint.save(out, model.config(), merged);
            try {
                for (String name : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
                    Path from = Files.exists(base.resolve(name)) ? base.resolve(name) : adapter.resolve(name);
                    if (Files.exists(from)) {
                        Files.copy(from, out.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException("copying the tokenizer into " + out + ": " + e.getMessage(), e);
            }
            System.out.printf("merged %s (r %d, alpha %s, %s) into %s -> %s%n", adapter, lora.config().rank(),
                    lora.config().alpha(), String.join(", ", lora.config().orderedTargets().stream()
                    .map(t -> t.module()).toList()), base, out);
            System.out.println(ProcessMemory.peakLine());
        }

        private static boolean isEmpty(Path dir) {
            try (var s = Files.list(dir)) {
                return s.findAny().isEmpty();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }
}
