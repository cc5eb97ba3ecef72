package steer.cli;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.apache.commons.math3.stat.descriptive.DescriptiveStatistics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import steer.launch.FreePorts;
import steer.launch.ServiceProcess;
import steer.proto.v1.GenerateRequest;
import steer.proto.v1.GenerateResponse;
import steer.proto.v1.GeneratorGrpc;
import steer.proto.v1.SamplingParams;
import steer.world.Task;
import steer.world.WorldSplits;

/**
 * {@code steer bench serve}: generator-svc on loopback with a given model, driven open-loop (requests arrive at a
 * fixed rate whatever the answers do, for a bounded count; prompt lengths, max_new_tokens and n drawn from a seeded
 * mix), once per scheduler. Prints generated tokens/s and the latency percentiles of the answered requests, measured
 * from each request's scheduled arrival, so queueing counts. Every request is seeded (seed = its index), so both
 * schedulers generate exactly the same tokens and do the same work.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "generator-svc's throughput and latency under an open-loop load, with continuous and with static "
                + "batching.")
final class ServeBench implements Runnable {

    @Option(names = "--model", defaultValue = "models/world/large", description = "the served model (default: ${DEFAULT-VALUE})")
    Path model;

    @Option(names = "--requests", defaultValue = "300", description = "requests per scheduler (default: ${DEFAULT-VALUE})")
    int requests;

    @Option(names = "--rate", defaultValue = "40", description = "requests per second (default: ${DEFAULT-VALUE})")
    double rate;

    @Option(names = "--seed", defaultValue = "0", description = "seed of the request mix (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--max-batch-size", defaultValue = "32", description = "steer.generator.max-batch-size (default: ${DEFAULT-VALUE})")
    int maxBatchSize;

    @Option(names = "--schedulers", split = ",", defaultValue = "continuous,static",
            description = "steer.generator.scheduler values to measure, in order; continuous-device is continuous with "
                    + "steer.generator.device-sampling (default: ${DEFAULT-VALUE})")
    List<String> schedulers;

    @Option(names = "--prompts", defaultValue = "auto", description = "prompt source: world (the world's held-out "
            + "queries), text (a story's opening words) or auto (world for a model under models/world)")
    String prompts;

    @Option(names = "--new-tokens", split = ",", defaultValue = "16,32,64,128",
            description = "max_new_tokens mix, each equally likely, capped by the model's context (default: ${DEFAULT-VALUE})")
    int[] newTokens;

    @Option(names = "--deadline", defaultValue = "300", description = "each call's deadline in seconds (default: ${DEFAULT-VALUE})")
    double deadline;

    @Option(names = "--warm-up", defaultValue = "5", description = "seconds of untimed load before each scheduler's "
            + "measured run: the same open-loop mix at the same rate, from another seed (default: ${DEFAULT-VALUE})")
    double warmUpSeconds;

    /** The values --schedulers takes: steer.generator.scheduler's, and continuous with device sampling. */
    static final List<String> SCHEDULERS = List.of("continuous", "static", "continuous-device");

    /** One request of the mix. */
    private record Item(String prompt, int n, int maxNewTokens) {
    }

    /** One request's outcome: latency from its scheduled arrival, samples' tokens, status. */
    private record Outcome(long nanos, long tokens, Status.Code code) {
    }

    private static final String STORY = "Once upon a time , there was a little girl named Lily . She loved to play "
            + "outside in the park with her friends . One day , she saw a big red ball in the tree . She wanted to get "
            + "it down , so she asked her mom for help . Her mom said , \" Let us find a long stick . \" They looked "
            + "and looked , and at last they found one under the bench .";

    @Override
    public void run() {
        if (requests < 1 || rate <= 0 || maxBatchSize < 1 || newTokens.length == 0 || deadline <= 0
                || java.util.Arrays.stream(newTokens).anyMatch(t -> t < 1) || !(warmUpSeconds >= 0)) {
            throw new IllegalArgumentException("--requests, --rate, --max-batch-size, --new-tokens and --deadline must be "
                    + "positive and --warm-up at least 0, got --requests " + requests + ", --rate " + rate
                    + ", --max-batch-size " + maxBatchSize + ", --new-tokens " + java.util.Arrays.toString(newTokens)
                    + ", --deadline " + deadline + ", --warm-up " + warmUpSeconds);
        }
        for (String scheduler : schedulers) {
            // checked before any generator starts: an unknown value would otherwise surface as its startup failure
            if (!SCHEDULERS.contains(scheduler)) {
                throw new IllegalArgumentException("--schedulers: unknown scheduler '" + scheduler + "', expected "
                        + String.join(", ", SCHEDULERS));
            }
        }
        Path root = Path.of(System.getProperty("steer.home", ".")).toAbsolutePath().normalize();
        Path dir = model.isAbsolute() ? model : root.resolve(model);
        Path jar = root.resolve("generator-svc/target/quarkus-app/quarkus-run.jar");
        if (!Files.isRegularFile(jar)) {
            throw new IllegalArgumentException("generator-svc is not packaged: no " + jar + " (run ./mvnw -DskipTests package)");
        }
        int positions = maxPositions(dir);
        List<Item> mix = mix(dir, positions, seed);
        // the warm-up's requests come from another seed, so the measured ones are not repeats of what it ran
        List<Item> warmUpMix = mix(dir, positions, seed ^ WARM_UP_SEED);
        long offered = mix.stream().mapToLong(i -> (long) i.n() * i.maxNewTokens()).sum();
        System.out.printf(Locale.ROOT, "model %s (%d positions); %d requests at %.1f/s (open loop), seed %d; n in {1,1,1,4},"
                + " max_new_tokens in %s, at most %,d tokens; temperature 0.7, top-p 0.8; max-batch-size %d; %d cores;"
                + " engine %s; %.0f s warm-up%n", dir, positions, requests, rate, seed, java.util.Arrays.toString(newTokens), offered,
                maxBatchSize, Runtime.getRuntime().availableProcessors(),
                steer.model.Generation.Engine.configured().name().toLowerCase(Locale.ROOT), warmUpSeconds);
        System.out.printf(Locale.ROOT, "%-18s %9s %9s %12s %9s %9s %9s %7s%n", "scheduler", "requests", "tokens",
                "tokens/s", "p50 ms", "p95 ms", "p99 ms", "errors");
        for (String scheduler : schedulers) {
            Map<String, String> config = new LinkedHashMap<>();
            config.put("steer.generator.model-location", dir.toString());
            config.put("steer.generator.scheduler", scheduler.replace("-device", ""));
            config.put("steer.generator.device-sampling", Boolean.toString(scheduler.endsWith("-device")));
            config.put("steer.generator.max-batch-size", Integer.toString(maxBatchSize));
            config.put("steer.generator.max-samples", "16");
            // room for every request: the bench measures the schedulers, not their refusals (both count the same)
            config.put("steer.generator.queue-capacity", Integer.toString(Math.max(256, requests)));
            config.put("quarkus.otel.sdk.disabled", "true");
            try (ServiceProcess generator = new ServiceProcess("generator", jar, FreePorts.next(), config,
                    root.resolve("build-out/bench-serve/logs")).start()) {
                generator.awaitReady(Duration.ofMinutes(2));
                ManagedChannel channel = NettyChannelBuilder.forTarget(generator.address()).usePlaintext().build();
                try {
                    warmUp(channel, warmUpMix);
                    long start = System.nanoTime();
                    List<Outcome> out = drive(channel, mix);
                    double seconds = (System.nanoTime() - start) / 1e9;
                    DescriptiveStatistics ok = new DescriptiveStatistics();
                    long tokens = 0;
                    for (Outcome o : out) {
                        if (o.code() == Status.Code.OK) {
                            ok.addValue(o.nanos() / 1e6);
                            tokens += o.tokens();
                        }
                    }
                    System.out.printf(Locale.ROOT, "%-18s %9d %9d %12.1f %9.1f %9.1f %9.1f %7d%n", scheduler, out.size(),
                            tokens, tokens / seconds, ok.getPercentile(50), ok.getPercentile(95), ok.getPercentile(99),
                            out.size() - ok.getN());
                } finally {
                    channel.shutdownNow();
                }
            } catch (Exception e) {
                throw new IllegalStateException("bench serve (" + scheduler + ") failed: " + e, e);
            }
        }
    }

    /**
     * Untimed load before the measured run: the first calls one after another (model loading, first compilations),
     * then the warm-up mix open-loop at the measured rate for {@link #warmUpSeconds}, so the JIT has compiled the
     * batched paths the measured run takes. Without it the vector engine's run measured its own compilation: a
     * 4-second run of 300 requests spent a third of its CPU samples in the JIT's compiler threads.
     */
    private void warmUp(ManagedChannel channel, List<Item> mix) throws InterruptedException {
        GeneratorGrpc.GeneratorBlockingStub stub = GeneratorGrpc.newBlockingStub(channel);
        for (int i = 0; i < Math.min(4, mix.size()); i++) {
            stub.withDeadlineAfter(120, TimeUnit.SECONDS).generate(request(mix.get(i), i));
        }
        long end = System.nanoTime() + (long) (warmUpSeconds * 1e9);
        long left;
        while ((left = end - System.nanoTime()) > 0) {
            // the arrivals that fit the time left (at least one), so a pass ends near the warm-up's end
            int count = (int) Math.max(1, Math.min(mix.size(), Math.ceil(left / 1e9 * rate)));
            drive(channel, mix.subList(0, count));
        }
    }

    /** Xor'ed into --seed for the warm-up mix. */
    private static final long WARM_UP_SEED = 0x5eed_0f_3a4dL;

    /** Sends request i at start + i / rate, without waiting for answers; returns when every call has ended. */
    private List<Outcome> drive(ManagedChannel channel, List<Item> mix) throws InterruptedException {
        GeneratorGrpc.GeneratorStub stub = GeneratorGrpc.newStub(channel);
        Outcome[] out = new Outcome[mix.size()];
        CountDownLatch done = new CountDownLatch(mix.size());
        long start = System.nanoTime();
        for (int i = 0; i < mix.size(); i++) {
            long due = start + (long) (i * 1e9 / rate);
            long wait;
            while ((wait = due - System.nanoTime()) > 0) {
                LockSupport.parkNanos(wait);
            }
            int k = i;
            stub.withDeadlineAfter((long) (deadline * 1000), TimeUnit.MILLISECONDS).generate(request(mix.get(i), i),
                    new StreamObserver<>() {
                        private long tokens;

                        @Override
                        public void onNext(GenerateResponse r) {
                            r.getSamplesList().forEach(s -> tokens += s.getTokenIdsCount());
                        }

                        @Override
                        public void onError(Throwable t) {
                            out[k] = new Outcome(System.nanoTime() - due, 0, Status.fromThrowable(t).getCode());
                            done.countDown();
                        }

                        @Override
                        public void onCompleted() {
                            out[k] = new Outcome(System.nanoTime() - due, tokens, Status.Code.OK);
                            done.countDown();
                        }
                    });
        }
        done.await();
        return List.of(out);
    }

    private static GenerateRequest request(Item item, int index) {
        return GenerateRequest.newBuilder().addPrompts(item.prompt()).setN(item.n())
                .setSampling(SamplingParams.newBuilder().setTemperature(0.7f).setTopP(0.8f)
                        .setMaxNewTokens(item.maxNewTokens()).setSeed(index)).build();
    }

    /** The seeded request mix: prompts of one to four pieces, n mostly 1, max_new_tokens from {@link #newTokens}. */
    private List<Item> mix(Path dir, int positions, long seed) {
        boolean world = prompts.equals("world") || prompts.equals("auto") && dir.toString().contains("world");
        if (!world && !prompts.equals("text") && !prompts.equals("auto")) {
            throw new IllegalArgumentException("--prompts must be world, text or auto, got " + prompts);
        }
        List<Task> tasks = WorldSplits.of(0).heldOut();
        String[] words = STORY.split(" ");
        SplittableRandom random = new SplittableRandom(seed);
        List<Item> items = new ArrayList<>(requests);
        for (int i = 0; i < requests; i++) {
            int pieces = 1 << random.nextInt(3);                      // 1, 2 or 4
            String prompt;
            if (world) {
                StringBuilder p = new StringBuilder();
                for (int k = 0; k < pieces; k++) {
                    p.append(k == 0 ? "" : " ").append(tasks.get(random.nextInt(tasks.size())).query());
                }
                prompt = p.toString();
            } else {
                prompt = String.join(" ", java.util.Arrays.copyOf(words, Math.min(words.length, 6 * pieces)));
            }
            int n = random.nextInt(4) == 0 ? 4 : 1;
            int maxNew = newTokens[random.nextInt(newTokens.length)];
            items.add(new Item(prompt, n, Math.min(maxNew, positions - 64)));
        }
        return items;
    }

    private static int maxPositions(Path dir) {
        try {
            String json = Files.readString(dir.resolve("config.json"));
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"max_position_embeddings\"\\s*:\\s*(\\d+)")
                    .matcher(json);
            if (!m.find()) {
                throw new IllegalArgumentException(dir.resolve("config.json") + ": no max_position_embeddings");
            }
            return Integer.parseInt(m.group(1));
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("cannot read " + dir.resolve("config.json") + ": " + e, e);
        }
    }
}
