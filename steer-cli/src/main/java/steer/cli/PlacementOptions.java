package steer.cli;

import picocli.CommandLine.Option;
import steer.model.Placement;

/** The {@code --device} and {@code --precision} options of every command that runs a model. */
final class PlacementOptions {

    @Option(names = "--device", defaultValue = "cpu",
            description = "cpu, gpu (the first GPU) or gpu:N; default: ${DEFAULT-VALUE}")
    String device;

    @Option(names = "--precision",
            description = "f32, bf16 or f16; default: f32 on the CPU, bf16 on a GPU (bf16 is refused on the CPU, where"
                    + " DJL's engine aborts on it; f16 runs there, slowly)")
    String precision;

    /** The options, checked against this machine (a GPU the engine does not see is an error here). */
    Placement placement() {
        return Placement.parse(device, precision);
    }
}
