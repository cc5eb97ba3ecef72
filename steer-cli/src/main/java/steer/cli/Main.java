package steer.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code ./steer} command line: one subcommand per job. */
@Command(name = "steer", mixinStandardHelpOptions = true, version = "steer 0.1.0",
        description = "Align language models without human labels: SSO, TSO and OSP.",
        subcommands = {ConvertLlama2cCommand.class, GenerateCommand.class, SftCommand.class, TrainCommand.class,
            WorldCommand.class, JudgeCommand.class, TsoCommand.class, BenchCommand.class, DemoCommand.class, CompareCommand.class,
            TraceCommand.class, LoraCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Sets PyTorch's intra-op thread count for this process, loading the engine first (it must be loaded). */
    static void setTorchThreads(int threads) {
        ai.djl.engine.Engine.getInstance();
        ai.djl.pytorch.jni.JniUtils.setNumThreads(threads);
    }

    /** Runs the command line and returns its exit code (tests call this instead of {@link #main}). */
    public static int run(String... args) {
        // DJL must never reach for its download server; the launcher sets this too, tests call run() directly
        System.setProperty("ai.djl.offline", "true");
        // demo and compare draw their reports' plots without a display
        System.setProperty("java.awt.headless", "true");
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            // bad input (files, values) is reported as one clear line, not a stack trace
            if (e instanceof IllegalArgumentException || e instanceof java.io.UncheckedIOException
                    || e instanceof java.io.IOException || e.getClass().getSimpleName().endsWith("Exception")
                    && e.getClass().getPackageName().startsWith("steer")) {
                commandLine.getErr().println("steer " + commandLine.getCommandName() + ": " + e.getMessage());
                return 2;
            }
            throw e;
        });
        return cli.execute(args);
    }
}
