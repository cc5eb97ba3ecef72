package steer.cli;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import steer.cli.compare.CompareReport;
import steer.cli.compare.RunConfigOverrides;
import steer.cli.compare.RunFigures;
import steer.cli.compare.RunOutcome;
import steer.cli.demo.LocalStack;
import steer.cli.demo.TsoMatrix;
import steer.proto.v1.GetRunRequest;
import steer.proto.v1.IterationResult;
import steer.proto.v1.OrchestratorGrpc;
import steer.proto.v1.Run;
import steer.proto.v1.RunConfig;
import steer.proto.v1.RunEvent;
import steer.proto.v1.StartRunRequest;
import steer.proto.v1.WatchRunRequest;

/**
 * Several methods over several seeds through one embedded stack (one broker, one set of services), one run at a
 * time; then per method mean ± sd over the seeds, the named pairs' paired differences, {@code compare.html} and
 * {@code compare.json}. A method is only the name the orchestrator is given as {@code RunConfig.algorithm}.
 */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = "Run several methods over several seeds through one local stack and compare them.")
final class CompareCommand implements Callable<Integer> {

    @Option(names = "--methods", required = true, split = ",",
            description = "methods, each the orchestrator's algorithm name, e.g. sso,sso-no-w,sso-no-g,pbaa,osp,self-rewarding,"
                    + "osp-dpo,osp-ipo,osp-random")
    List<String> methods;

    @Option(names = "--seeds", defaultValue = "0,1,2,3,4", split = ",", description = "seeds, one run per method and seed "
            + "(default: ${DEFAULT-VALUE})")
    List<Long> seeds;

    @Option(names = "--iterations", defaultValue = "3", description = "iteration splits per run (default: ${DEFAULT-VALUE})")
    int iterations;

    @Option(names = "--prompts", defaultValue = "0", description = "prompts per iteration (default: the whole split, 500)")
    int prompts;

    @picocli.CommandLine.Mixin
    PlacementOptions placement = new PlacementOptions();

    @Option(names = "--model", defaultValue = "models/world/medium",
            description = "the SFT model every run starts from (default: ${DEFAULT-VALUE})")
    Path model;

    @Option(names = "--evaluation-split", defaultValue = "held-out",
            description = "held-out (the world's held-out queries) or validation (queries held back from every iteration "
                    + "split, for tuning a method's settings) (default: ${DEFAULT-VALUE})")
    String evaluationSplit;

    @Option(names = "--set", paramLabel = "METHOD.KEY=VALUE",
            description = "a setting of one method's runs ('*' for all): a RunConfig field or path (batch_size, "
                    + "sampling.temperature, osp.samples_per_prompt), objective_params.NAME, or a bare objective parameter "
                    + "(alpha); repeatable")
    List<String> set = new ArrayList<>();

    @Option(names = "--out", description = "working directory: logs, checkpoints, state, compare.html/json "
            + "(default: build-out/compare/TIMESTAMP)")
    Path out;

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        List<String> methodList = List.copyOf(new LinkedHashSet<>(methods.stream().map(String::trim).toList()));
        List<Long> seedList = List.copyOf(new LinkedHashSet<>(seeds));
        if (methodList.isEmpty() || methodList.stream().anyMatch(String::isEmpty)) {
            throw new IllegalArgumentException("--methods: give at least one method name, e.g. sso,pbaa");
        }
        if (methodList.stream().anyMatch(m -> m.contains(".") || m.equals(RunConfigOverrides.ALL))) {
            throw new IllegalArgumentException("--methods: a method name has no '.' and is not '*': " + methodList);
        }
        if (iterations < 1) {
            throw new IllegalArgumentException("--iterations must be at least 1, got " + iterations);
        }
        if (prompts < 0) {
            throw new IllegalArgumentException("--prompts must be 0 (the whole split) or more, got " + prompts);
        }
        if (!evaluationSplit.equals("held-out") && !evaluationSplit.equals("validation")) {
            throw new IllegalArgumentException("--evaluation-split is held-out or validation, got " + evaluationSplit);
        }
        List<RunConfigOverrides.Setting> settings = set.stream().map(s -> RunConfigOverrides.parse(s, methodList)).toList();

        steer.model.Placement at = placement.placement();   // checked before anything is copied or started
        Path root = Path.of(System.getProperty("steer.home", ".")).toAbsolutePath().normalize();
        String stamp = String.format(Locale.ROOT, "%tY%<tm%<td-%<tH%<tM%<tS", new java.util.Date());
        Path work = out != null ? out.toAbsolutePath() : root.resolve("build-out/compare").resolve(stamp);
        Path base = model.isAbsolute() ? model : root.resolve(model);
        int total = methodList.size() * seedList.size();
        System.out.printf(Locale.ROOT, "steer compare: %d method%s × %d seed%s = %d runs of %d iteration%s from %s; working "
                + "directory %s%n", methodList.size(), methodList.size() == 1 ? "" : "s", seedList.size(),
                seedList.size() == 1 ? "" : "s", total, iterations, iterations == 1 ? "" : "s", base, work);

        // every run after the first has the generator and judge load the SFT model back by its location, which they
        // accept only under their allowed root: the working directory, with the checkpoint store and this copy
        Path sft = copyModel(base, work.resolve("sft-model"));
        List<RunOutcome> outcomes = new ArrayList<>();
        try (LocalStack stack = LocalStack.start(new LocalStack.Options(root, work, sft, 1, work).on(at),
                line -> System.out.println("  " + line))) {
            ManagedChannel channel = NettyChannelBuilder.forTarget(stack.orchestrator().address()).usePlaintext()
                    .maxInboundMessageSize(64 << 20).build();
            try {
                OrchestratorGrpc.OrchestratorBlockingStub orchestrator = OrchestratorGrpc.newBlockingStub(channel);
                // the world's other sizes and the committed evaluator, copied once under the allowed root
                steer.proto.v1.TsoSettings tsoMatrix = methodList.stream().anyMatch(m -> m.startsWith("tso"))
                        ? TsoMatrix.settings(root, work, null, null, null).build() : null;
                int k = 0;
                for (String method : methodList) {
                    for (long seed : seedList) {
                        k++;
                        RunConfig.Builder b = RunConfig.newBuilder()
                                .setRunId(String.format(Locale.ROOT, "%s-seed%d-%s", method, seed, stamp))
                                .setAlgorithm(method).setSeed(seed).setIterations(iterations)
                                .setPromptsPerIteration(prompts).setEvaluationSplit(evaluationSplit);
                        if (method.startsWith("tso")) {
                            b.setTso(tsoMatrix);
                        }
                        RunConfig config = RunConfigOverrides.apply(b.build(), settings, method);
                        System.out.printf(Locale.ROOT, "  %5.1f min  [%d/%d] %-16s seed %-3d ", minutes(start), k, total,
                                method, seed);
                        System.out.flush();
                        RunOutcome outcome = runOne(orchestrator, method, seed, config);
                        outcomes.add(outcome);
                        System.out.println(progress(outcome));
                    }
                }
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            System.out.print("stopping the services and Kafka ... ");
        }
        System.out.println("done");

        CompareReport report = CompareReport.of(new CompareReport.Setup(methodList, seedList, iterations, prompts,
                evaluationSplit, base.toString(), settings), outcomes);
        System.out.println();
        System.out.print(report.table());
        Path html = report.write(work);
        System.out.printf(Locale.ROOT, "%nreport: %s%ndata: %s%nlogs: %s%n", html, work.resolve("compare.json"),
                work.resolve("logs"));
        List<RunOutcome> failed = report.failures();
        if (!failed.isEmpty()) {
            System.err.printf(Locale.ROOT, "steer compare: %d of %d runs failed:%n", failed.size(), outcomes.size());
            failed.forEach(f -> System.err.printf(Locale.ROOT, "  %s seed %d (%s): %s%n", f.method(), f.seed(), f.runId(),
                    f.error()));
        }
        System.out.printf(Locale.ROOT, "done in %.1f min%n", minutes(start));
        return failed.isEmpty() ? 0 : 1;
    }

    /** Copies a model directory (its files and folders) to {@code target}; returns {@code target}. */
    static Path copyModel(Path model, Path target) throws java.io.IOException {
        if (!java.nio.file.Files.isRegularFile(model.resolve("config.json"))) {
            throw new IllegalArgumentException("--model " + model + ": no config.json there (a model in the Hugging Face layout)");
        }
        try (var files = java.nio.file.Files.walk(model)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path to = target.resolve(model.relativize(p).toString());
                if (java.nio.file.Files.isDirectory(p)) {
                    java.nio.file.Files.createDirectories(to);
                } else {
                    java.nio.file.Files.copy(p, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        return target;
    }

    /** Starts one run, follows it until it ends and reads it back; a failure of any step is the run's error. */
    static RunOutcome runOne(OrchestratorGrpc.OrchestratorBlockingStub orchestrator, String method, long seed,
                             RunConfig config) {
        long t0 = System.nanoTime();
        try {
            orchestrator.startRun(StartRunRequest.newBuilder().setConfig(config).build());
        } catch (StatusRuntimeException e) {
            return RunOutcome.failed(method, seed, config, seconds(t0), "refused to start: " + describe(e));
        }
        try {
            follow(orchestrator, config.getRunId(), e -> { });
        } catch (StatusRuntimeException e) {
            // the stream broke: what the orchestrator says of the run below decides
            System.err.printf(Locale.ROOT, "%nsteer compare: watching %s: %s%n", config.getRunId(), describe(e));
        }
        double wall = seconds(t0);
        try {
            Run run = orchestrator.getRun(GetRunRequest.newBuilder().setRunId(config.getRunId()).build());
            return RunOutcome.of(method, seed, config, run, wall);
        } catch (StatusRuntimeException e) {
            return RunOutcome.failed(method, seed, config, wall, "could not be read back: " + describe(e));
        }
    }

    /** Reads the run's events until the orchestrator ends the stream, which it does when the run ends. */
    static void follow(OrchestratorGrpc.OrchestratorBlockingStub orchestrator, String runId, Consumer<RunEvent> each) {
        Iterator<RunEvent> events = orchestrator.watchRun(WatchRunRequest.newBuilder().setRunId(runId).build());
        while (events.hasNext()) {
            each.accept(events.next());
        }
    }

    /** The rest of a run's progress line: its outcome, wall time and last evaluated figures. */
    static String progress(RunOutcome o) {
        if (!o.succeeded()) {
            return String.format(Locale.ROOT, "FAILED after %.0f s: %s", o.wallSeconds(), o.error());
        }
        return String.format(Locale.ROOT, "succeeded in %.0f s, %d round%s", o.wallSeconds(), o.run().getIterationsCount(),
                o.run().getIterationsCount() == 1 ? "" : "s")
                + RunFigures.lastEvaluated(o.run()).map(CompareCommand::figures).orElse(", no evaluated round");
    }

    private static String figures(IterationResult r) {
        return String.format(Locale.ROOT, ", win rate %.3f, mean score %.3f, signal accuracy %.3f",
                RunFigures.eval(r, "win_rate"), RunFigures.eval(r, "mean_score"), RunFigures.eval(r, "signal_accuracy"));
    }

    private static String describe(StatusRuntimeException e) {
        return e.getStatus().getCode() + (e.getStatus().getDescription() == null ? "" : " " + e.getStatus().getDescription());
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    private static double minutes(long t0) {
        return (System.nanoTime() - t0) / 6e10;
    }
}
