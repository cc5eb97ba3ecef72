package steer.cli;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.Map;
import java.util.Iterator;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import steer.cli.demo.DemoReport;
import steer.cli.demo.LocalStack;
import steer.cli.demo.TsoMatrix;
import steer.proto.v1.GetRunRequest;
import steer.proto.v1.OrchestratorGrpc;
import steer.proto.v1.Run;
import steer.proto.v1.RunConfig;
import steer.proto.v1.RunEvent;
import steer.proto.v1.RunState;
import steer.proto.v1.StartRunRequest;
import steer.proto.v1.WatchRunRequest;

/**
 * The embedded default: a real Kafka broker and the four services on loopback, one alignment run through them,
 * a table per iteration and an HTML report; everything started is stopped at the end.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run one alignment method (SSO, OSP, TSO, Self-Rewarding or a baseline) for a few iterations through all"
                + " services and a local Kafka broker.")
final class DemoCommand implements java.util.concurrent.Callable<Integer> {

    @Option(names = "--algorithm", defaultValue = "sso", description = "the method: sso, sso-no-w, sso-no-g, pbaa, osp,"
            + " osp-dpo, osp-ipo, osp-random, self-rewarding, tso, tso-dpo, tso-no-mini-batch, tso-matrix-only or"
            + " tso-self-only (default: ${DEFAULT-VALUE})")
    String algorithm;

    @Option(names = "--evaluator", description = "tso*: the evaluator checkpoint (from `steer tso evaluator`), served by"
            + " the judge as 'evaluator' (default: models/world/medium-evaluator)")
    Path evaluator;

    @Option(names = "--larger", split = ",", description = "tso*: the model matrix's larger sizes, NAME=DIR"
            + " (default: large=models/world/large)")
    Map<String, Path> larger;

    @Option(names = "--smaller", split = ",", description = "tso*: the model matrix's smaller sizes, NAME=DIR"
            + " (default: small=models/world/small)")
    Map<String, Path> smaller;

    @Option(names = "--staleness", description = "online methods (osp*, self-rewarding): 0 samples each round after the"
            + " previous one is trained, 1 while it trains (default: the method's, 0)")
    Integer staleness;

    @Option(names = "--round-prompts", description = "online methods: prompts per round (default: the method's, 32)")
    Integer roundPrompts;

    @Option(names = "--judge-model", description = "osp*: a judge checkpoint directory to pin instead of the SFT model"
            + " (e.g. from `steer judge augment`); it is copied into the run's checkpoint store, which the judge may read")
    Path judgeModel;

    @Option(names = "--evaluation-split", defaultValue = "held-out", description = "held-out, or validation: hold back"
            + " 100 queries of each iteration split and evaluate on those (for tuning; default: ${DEFAULT-VALUE})")
    String evaluationSplit;

    @Option(names = "--iterations", defaultValue = "3", description = "alignment iterations (default: ${DEFAULT-VALUE})")
    int iterations;

    @Option(names = "--seed", defaultValue = "0", description = "sampling and training seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--lora-rank", defaultValue = "0", description = "train a LoRA adapter of this rank r on the frozen"
            + " SFT model instead of every weight: each version is an adapter the generator puts onto the model it"
            + " serves; the trainer's LoRA learning rate applies (10 times full fine-tuning's) (default: 0, full"
            + " fine-tuning)")
    int loraRank;

    @Option(names = "--lora-alpha", defaultValue = "8", description = "LoRA alpha: the adapter's update is scaled by"
            + " alpha / r (default: ${DEFAULT-VALUE}, PEFT's)")
    double loraAlpha;

    @Option(names = "--lora-targets", defaultValue = "q,v", description = "the projections that carry an adapter, of q,"
            + " k, v, o, gate, up, down (default: ${DEFAULT-VALUE}, PEFT's for Llama and Qwen2)")
    String loraTargets;

    @Option(names = "--model", defaultValue = "models/world/medium",
            description = "the SFT model the run starts from (default: ${DEFAULT-VALUE})")
    Path model;

    @Option(names = "--prompts", defaultValue = "0",
            description = "prompts per iteration (default: the whole iteration split, 500)")
    int prompts;

    @picocli.CommandLine.Mixin
    PlacementOptions placement = new PlacementOptions();

    @Option(names = "--generators", defaultValue = "1",
            description = "generator replicas, each its own process; each checkpoint is loaded on all and the sampling "
                    + "is spread over them (default: ${DEFAULT-VALUE})")
    int generators;

    @Option(names = "--out", description = "working directory: logs, checkpoints, state, report (default: build-out/demo/RUN)")
    Path out;

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        if (generators < 1) {
            throw new IllegalArgumentException("--generators must be at least 1, got " + generators);
        }
        Path root = Path.of(System.getProperty("steer.home", ".")).toAbsolutePath().normalize();
        if (loraRank < 0) {
            throw new IllegalArgumentException("--lora-rank must be at least 1 (or 0 for full fine-tuning), got " + loraRank);
        }
        steer.model.Placement at = placement.placement();   // checked before anything starts
        String runId = String.format(Locale.ROOT, "%s%s-seed%d-%tY%<tm%<td-%<tH%<tM%<tS", algorithm,
                loraRank > 0 ? "-lora" + loraRank : "", seed, new java.util.Date());
        Path work = out != null ? out : root.resolve("build-out/demo").resolve(runId);
        Path base = model.isAbsolute() ? model : root.resolve(model);
        System.out.println("steer demo: " + algorithm.toUpperCase(Locale.ROOT) + ", " + iterations + " iterations from " + base
                + "; working directory " + work);
        LocalStack.Options options = new LocalStack.Options(root, work, base, generators);
        if (algorithm.startsWith("tso")) {
            // TSO samples the policy's earlier versions, version 0 (the SFT model) among them, by location: the
            // generator loads only under its allowed root, so the SFT model is copied there (as steer compare does)
            options = new LocalStack.Options(root, work, CompareCommand.copyModel(base, work.resolve("sft-model")),
                    generators, work);
        }
        try (LocalStack stack = LocalStack.start(options.on(at),
                line -> System.out.println("  " + line))) {
            ManagedChannel channel = NettyChannelBuilder.forTarget(stack.orchestrator().address()).usePlaintext().build();
            try {
                OrchestratorGrpc.OrchestratorBlockingStub orchestrator = OrchestratorGrpc.newBlockingStub(channel);
                RunConfig.Builder config = RunConfig.newBuilder().setRunId(runId).setAlgorithm(algorithm)
                        .setIterations(iterations).setSeed(seed).setPromptsPerIteration(prompts)
                        .setEvaluationSplit(evaluationSplit);
                onlineSettings(config, stack);
                tsoSettings(config, stack, root);
                if (loraRank > 0) {
                    config.setLora(steer.proto.v1.LoraSettings.newBuilder().setRank(loraRank).setAlpha(loraAlpha)
                            .addAllTargets(java.util.Arrays.asList(loraTargets.split(","))));
                }
                Run started = orchestrator.startRun(StartRunRequest.newBuilder().setConfig(config).build());
                if (started.getConfig().hasLora()) {
                    steer.proto.v1.LoraSettings l = started.getConfig().getLora();
                    System.out.printf(Locale.ROOT, "LoRA adapter: rank %d, alpha %s, targets %s; the SFT model's weights"
                            + " stay frozen%n", l.getRank(), l.getAlpha(), String.join(",", l.getTargetsList()));
                }
                Run run = watch(orchestrator, runId, start, DemoReport.roundsPerSplit(started.getConfig()));
                DemoReport report = DemoReport.of(run);
                System.out.println();
                System.out.print(report.table());
                Path html = report.write(work);
                System.out.printf(Locale.ROOT, "%nreport: %s%ntraces: %s (%d spans)%nlogs: %s%n", html, stack.traces().file(),
                        stack.traces().spans().size(), work.resolve("logs"));
                // the trainer's last spans reach the collector within its export delay (200 ms)
                Thread.sleep(1000);
                System.out.print(steer.cli.demo.PhaseShares.table(steer.cli.demo.PhaseShares.of(stack.traces().spans())));
                if (run.getState() != RunState.RUN_STATE_SUCCEEDED) {
                    System.err.println("steer demo: the run ended " + run.getState() + ": " + run.getError());
                    return 1;
                }
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            System.out.print("stopping the services and Kafka ... ");
        }
        System.out.printf(Locale.ROOT, "done in %.1f min%n", (System.nanoTime() - start) / 6e10);
        return 0;
    }

    /** The online methods' options, as the RunConfig's method settings. */
    private void onlineSettings(RunConfig.Builder config, LocalStack stack) throws java.io.IOException {
        boolean osp = algorithm.startsWith("osp");
        boolean online = osp || algorithm.equals("self-rewarding");
        if (!online) {
            if (staleness != null || roundPrompts != null || judgeModel != null) {
                throw new IllegalArgumentException("--staleness, --round-prompts and --judge-model are settings of the"
                        + " online methods (osp, osp-dpo, osp-ipo, osp-random, self-rewarding), not of " + algorithm);
            }
            return;
        }
        int s = staleness == null ? 0 : staleness;
        int p = roundPrompts == null ? 0 : roundPrompts;
        if (osp) {
            steer.proto.v1.OspSettings.Builder o = steer.proto.v1.OspSettings.newBuilder().setMaxPolicyStaleness(s)
                    .setPromptsPerRound(p);
            if (judgeModel != null) {
                // the judge service reads only inside the checkpoint store (its allowed root)
                Path copy = stack.store().resolve("judges").resolve(judgeModel.getFileName().toString());
                copyDirectory(judgeModel, copy);
                String name = judgeModel.getFileName().toString();
                o.setJudgeModel(name.startsWith("judge") ? name : "judge-" + name).setJudgeLocation(copy.toString());
            }
            config.setOsp(o);
        } else {
            if (judgeModel != null) {
                throw new IllegalArgumentException("--judge-model pins OSP's judge; Self-Rewarding's judge is the policy");
            }
            config.setSelfRewarding(steer.proto.v1.SelfRewardingSettings.newBuilder().setMaxPolicyStaleness(s)
                    .setPromptsPerRound(p));
        }
    }

    /**
     * TSO's model matrix and evaluator, copied into the run's checkpoint store (the generator and the judge load only
     * from there).
     */
    private void tsoSettings(RunConfig.Builder config, LocalStack stack, Path root) throws java.io.IOException {
        if (!algorithm.startsWith("tso")) {
            if (larger != null || smaller != null) {
                throw new IllegalArgumentException("--larger and --smaller are TSO's model matrix, not settings of "
                        + algorithm);
            }
            return;
        }
        config.setTso(TsoMatrix.settings(root, stack.store(), larger, smaller, evaluator));
    }

    private static void copyDirectory(Path from, Path to) throws java.io.IOException {
        java.nio.file.Files.createDirectories(to);
        try (var files = java.nio.file.Files.list(from)) {
            for (Path f : files.filter(java.nio.file.Files::isRegularFile).toList()) {
                java.nio.file.Files.copy(f, to.resolve(f.getFileName().toString()),
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /** How long the demo waits for a restarted orchestrator before it gives up on the run. */
    private static final long ORCHESTRATOR_AWAY_MS = java.time.Duration.ofMinutes(5).toMillis();

    /**
     * Prints the run's progress (every phase change, and each further quarter of a phase) until it ends, and returns
     * the ended run. When the orchestrator goes away (it crashed; the supervisor restarts it and it resumes the run),
     * waits for it and watches again.
     */
    private Run watch(OrchestratorGrpc.OrchestratorBlockingStub orchestrator, String runId, long start,
                      int roundsPerSplit) throws InterruptedException {
        String[] last = {"", "-1"};
        long awaySince = 0;
        while (true) {
            try {
                Iterator<RunEvent> events = orchestrator.watchRun(WatchRunRequest.newBuilder().setRunId(runId).build());
                while (events.hasNext()) {
                    print(events.next(), start, roundsPerSplit, last);
                }
                Run run = orchestrator.getRun(GetRunRequest.newBuilder().setRunId(runId).build());
                awaySince = 0;
                if (run.getState() != RunState.RUN_STATE_RUNNING) {
                    return run;
                }
            } catch (io.grpc.StatusRuntimeException e) {
                if (!steer.proto.TransportFailures.serverGone(e)) {
                    throw e;
                }
                long now = System.currentTimeMillis();
                if (awaySince == 0) {
                    awaySince = now;
                    System.out.printf(Locale.ROOT, "  %5.1f min  the orchestrator is unavailable (%s); waiting for it"
                            + " to come back%n", (System.nanoTime() - start) / 6e10, e.getStatus().getDescription());
                } else if (now - awaySince > ORCHESTRATOR_AWAY_MS) {
                    throw e;
                }
                Thread.sleep(500);
            }
        }
    }

    private void print(RunEvent e, long start, int roundsPerSplit, String[] last) {
        String phase = e.getIteration() + "/" + e.getPhase();
        double lastFraction = Double.parseDouble(last[1]);
        boolean quiet = roundsPerSplit > 1 && e.getIteration() >= 0 && !e.getPhase().equals("done")
                && !e.getPhase().equals("evaluating");
        if (!quiet && (!phase.equals(last[0]) || e.getFraction() >= lastFraction + 0.25
                || e.getFraction() >= 1 && lastFraction < 1)) {
            // iteration -1 is the SFT baseline; the opening "current state" and the final state carry no iteration
            boolean wholeRun = switch (e.getPhase()) {
                case "running", "succeeded", "failed", "stopped" -> true;
                default -> false;
            };
            String where = wholeRun ? "run" : e.getIteration() < 0 ? "SFT model"
                    : roundsPerSplit == 1 ? "iteration " + (e.getIteration() + 1) + "/" + iterations
                    : "it " + (e.getIteration() / roundsPerSplit + 1) + "/" + iterations + " round "
                    + (e.getIteration() % roundsPerSplit + 1) + "/" + roundsPerSplit;
            System.out.printf(Locale.ROOT, "  %5.1f min  %-15s %-11s %s%n", (System.nanoTime() - start) / 6e10, where,
                    e.getPhase(), e.getMessage());
            last[0] = phase;
            last[1] = Double.toString(e.getFraction());
        }
    }
}
