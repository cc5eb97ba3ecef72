package steer.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import steer.data.RecordKind;
import steer.objective.Sft;

/** Supervised fine-tuning on demonstrations. */
@Command(name = "sft", mixinStandardHelpOptions = true,
        description = "Supervised fine-tuning on {\"prompt\", \"response\"} records (loss on response tokens only).")
final class SftCommand implements Runnable {

    @Mixin
    TrainingOptions training;

    @Override
    public void run() {
        // 1e-3: the peak rate nanoGPT uses for its small character models; small Steer models train from scratch
        training.run("sft", new Sft(), RecordKind.SFT, 1e-3, new ObjectMapper().createObjectNode());
    }
}
