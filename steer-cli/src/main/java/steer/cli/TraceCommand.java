package steer.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import steer.cli.demo.PhaseShares;

/** Reading a run's traces: where its wall time went. */
@Command(name = "trace", mixinStandardHelpOptions = true, description = "Read the traces a demo or compare wrote.",
        subcommands = {TraceCommand.Phases.class})
public final class TraceCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** {@code ./steer trace phases FILE}: the share of each run's wall time spent generating, judging, training. */
    @Command(name = "phases", mixinStandardHelpOptions = true,
            description = "Per run in a traces.jsonl: the share of its wall time in which a generator generated, a"
                    + " judge judged or the trainer stepped, and the seconds of each orchestrator phase.")
    static final class Phases implements Callable<Integer> {

        @Parameters(paramLabel = "TRACES", description = "traces.jsonl (build-out/demo/RUN/traces.jsonl)")
        Path traces;

        @Override
        public Integer call() {
            if (!Files.isRegularFile(traces)) {
                throw new IllegalArgumentException(traces + " is not a file");
            }
            var runs = PhaseShares.of(PhaseShares.read(traces));
            if (runs.isEmpty()) {
                throw new IllegalArgumentException(traces + " holds no span of a run (no steer.run_id attribute)");
            }
            System.out.print(PhaseShares.table(runs));
            return 0;
        }
    }
}
