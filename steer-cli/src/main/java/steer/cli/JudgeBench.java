package steer.cli;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.commons.math3.stat.descriptive.DescriptiveStatistics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import steer.judge.client.JudgeApiClient;
import steer.launch.FreePorts;
import steer.launch.ServiceProcess;
import steer.proto.v1.CompareRequest;
import steer.world.ResponseMix;
import steer.world.Task;
import steer.world.WorldSplits;

/**
 * {@code steer bench judge}: judge-svc on loopback with a world model, driven by a bounded number of concurrent
 * callers for a bounded time per concurrency level (closed loop: each caller sends its next comparison when the
 * last one answers), then overloaded by a caller with a rate limit. Prints comparisons/s and latency percentiles per
 * level, and under overload how many calls ended RESOURCE_EXHAUSTED, how many with any other error, and the
 * slowest call against its deadline.
 */
@Command(name = "judge", mixinStandardHelpOptions = true,
        description = "judge-svc's throughput and latency under concurrent callers, then its behaviour under overload.")
final class JudgeBench implements Runnable {

    @Option(names = "--model", defaultValue = "models/world/medium", description = "the judge model (default: ${DEFAULT-VALUE})")
    Path model;

    @Option(names = "--concurrency", split = ",", defaultValue = "1,4,16,64",
            description = "concurrent callers per level (default: ${DEFAULT-VALUE})")
    int[] concurrency;

    @Option(names = "--seconds", defaultValue = "10", description = "seconds per level (default: ${DEFAULT-VALUE})")
    double seconds;

    @Option(names = "--batch", defaultValue = "1", description = "comparisons per call: 1 = Compare, more = CompareBatch"
            + " (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--overload-callers", defaultValue = "64", description = "concurrent callers in the overload phase"
            + " (default: ${DEFAULT-VALUE})")
    int overloadCallers;

    @Option(names = "--overload-rate", defaultValue = "20", description = "the overloading caller's comparisons per"
            + " second (its burst the same) (default: ${DEFAULT-VALUE})")
    double overloadRate;

    @Option(names = "--deadline", defaultValue = "5", description = "each call's deadline in seconds (default: ${DEFAULT-VALUE})")
    double deadline;

    /** One call's outcome. */
    private record Outcome(long nanos, Status.Code code) {
    }

    @Override
    public void run() {
        if (concurrency.length == 0 || seconds <= 0 || batch < 1 || overloadCallers < 1 || overloadRate <= 0
                || deadline <= 0) {
            throw new IllegalArgumentException("--concurrency, --seconds, --batch, --overload-callers, --overload-rate"
                    + " and --deadline must be positive");
        }
        Path root = Path.of(System.getProperty("steer.home", ".")).toAbsolutePath().normalize();
        Path dir = model.isAbsolute() ? model : root.resolve(model);
        Path jar = root.resolve("judge-svc/target/quarkus-app/quarkus-run.jar");
        if (!Files.isRegularFile(jar)) {
            throw new IllegalArgumentException("judge-svc is not packaged: no " + jar + " (run ./mvnw -DskipTests package)");
        }
        Map<String, String> config = new LinkedHashMap<>();
        config.put("steer.judge.model-location", dir.toString());
        config.put("quarkus.otel.sdk.disabled", "true");
        config.put("steer.judge.callers.bench.key", "bench-key");
        config.put("steer.judge.callers.bench.roles", "compare");
        config.put("steer.judge.callers.limited.key", "limited-key");
        config.put("steer.judge.callers.limited.roles", "compare");
        config.put("steer.judge.callers.limited.comparisons-per-second", Double.toString(overloadRate));
        config.put("steer.judge.callers.limited.comparisons-burst", Long.toString(Math.max(batch, Math.round(overloadRate))));
        List<CompareRequest> items = requests(512);
        try (ServiceProcess judge = new ServiceProcess("judge", jar, FreePorts.next(), config,
                root.resolve("build-out/bench-judge/logs")).start()) {
            judge.awaitReady(Duration.ofMinutes(2));
            System.out.printf(Locale.ROOT, "judge-svc at %s with %s; %d comparison%s per call, %.0f s per level, "
                    + "deadline %.1f s; %d cores%n", judge.address(), dir, batch, batch == 1 ? "" : "s", seconds,
                    deadline, Runtime.getRuntime().availableProcessors());
            try (JudgeApiClient stranger = client(judge.address(), "no-such-key")) {
                stranger.compare("add 1 2", "answer : 3 .", "answer : 4 .");
                throw new IllegalStateException("the judge answered a caller without a valid key: it did not read"
                        + " steer.judge.callers");
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.UNAUTHENTICATED) {
                    throw e;
                }
            }
            try (JudgeApiClient warm = client(judge.address(), "bench-key")) {
                for (int i = 0; i < 8; i++) {
                    warm.compareBatch(items.subList(0, batch)); // load the model's kernels before measuring
                }
            }
            System.out.printf(Locale.ROOT, "%-12s %8s %14s %9s %9s %9s %7s%n", "callers", "calls", "comparisons/s",
                    "p50 ms", "p95 ms", "p99 ms", "errors");
            for (int c : concurrency) {
                List<Outcome> o = drive(judge.address(), "bench-key", c, items);
                DescriptiveStatistics ok = latencies(o, true);
                long errors = o.size() - ok.getN();
                System.out.printf(Locale.ROOT, "%-12d %8d %14.1f %9.1f %9.1f %9.1f %7d%n", c, o.size(),
                        ok.getN() * batch / seconds, ok.getPercentile(50) / 1e6, ok.getPercentile(95) / 1e6,
                        ok.getPercentile(99) / 1e6, errors);
            }
            List<Outcome> over = drive(judge.address(), "limited-key", overloadCallers, items);
            Map<Status.Code, Long> byCode = new EnumMap<>(Status.Code.class);
            long slowest = 0;
            for (Outcome o : over) {
                byCode.merge(o.code(), 1L, Long::sum);
                slowest = Math.max(slowest, o.nanos());
            }
            long ok = byCode.getOrDefault(Status.Code.OK, 0L);
            long exhausted = byCode.getOrDefault(Status.Code.RESOURCE_EXHAUSTED, 0L);
            System.out.printf(Locale.ROOT, "overload: %d callers on one caller's limit of %.0f comparisons/s: %d calls,"
                    + " %d answered (%.1f comparisons/s), %d RESOURCE_EXHAUSTED, %d other errors %s; slowest call"
                    + " %.0f ms against a deadline of %.0f ms%n", overloadCallers, overloadRate, over.size(), ok,
                    ok * batch / seconds, exhausted, over.size() - ok - exhausted, others(byCode), slowest / 1e6,
                    deadline * 1000);
        }
    }

    /** {@code callers} threads calling back to back for {@link #seconds}; no retries, so every status shows. */
    private List<Outcome> drive(String address, String key, int callers, List<CompareRequest> items) {
        long end = System.nanoTime() + (long) (seconds * 1e9);
        ExecutorService pool = Executors.newFixedThreadPool(callers);
        try (JudgeApiClient client = client(address, key)) {
            List<Future<List<Outcome>>> futures = new ArrayList<>();
            for (int t = 0; t < callers; t++) {
                int first = t;
                futures.add(pool.submit(() -> {
                    List<Outcome> out = new ArrayList<>();
                    for (int k = first; System.nanoTime() < end; k += callers) {
                        int from = (k * batch) % (items.size() - batch);
                        long start = System.nanoTime();
                        Status.Code code = Status.Code.OK;
                        try {
                            if (batch == 1) {
                                CompareRequest r = items.get(from);
                                client.compare(r.getPrompt(), r.getResponseA(), r.getResponseB());
                            } else {
                                client.compareBatch(items.subList(from, from + batch));
                            }
                        } catch (StatusRuntimeException e) {
                            code = e.getStatus().getCode();
                        }
                        out.add(new Outcome(System.nanoTime() - start, code));
                    }
                    return out;
                }));
            }
            List<Outcome> all = new ArrayList<>();
            for (Future<List<Outcome>> f : futures) {
                all.addAll(f.get());
            }
            return all;
        } catch (Exception e) {
            throw new IllegalStateException("bench callers failed: " + e, e);
        } finally {
            pool.shutdownNow();
        }
    }

    private JudgeApiClient client(String address, String key) {
        return JudgeApiClient.builder(address).apiKey(key).maxAttempts(1)
                .deadline(Duration.ofMillis((long) (deadline * 1000))).build();
    }

    private static DescriptiveStatistics latencies(List<Outcome> outcomes, boolean okOnly) {
        DescriptiveStatistics s = new DescriptiveStatistics();
        for (Outcome o : outcomes) {
            if (!okOnly || o.code() == Status.Code.OK) {
                s.addValue(o.nanos());
            }
        }
        return s;
    }

    private static String others(Map<Status.Code, Long> byCode) {
        Map<Status.Code, Long> other = new EnumMap<>(byCode);
        other.remove(Status.Code.OK);
        other.remove(Status.Code.RESOURCE_EXHAUSTED);
        return other.isEmpty() ? "" : other.toString();
    }

    /** Comparisons of the world's held-out queries: two responses of the SFT demonstrations' mixture each. */
    private static List<CompareRequest> requests(int n) {
        List<Task> tasks = WorldSplits.of(0).heldOut();
        SplittableRandom random = new SplittableRandom(11);
        ResponseMix mix = ResponseMix.defaults();
        List<CompareRequest> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            Task t = tasks.get(i % tasks.size());
            String a = mix.sample(t, random);
            String b = mix.sample(t, random);
            out.add(JudgeApiClient.request(t.query(), a.isBlank() ? "answer ." : a, b.isBlank() ? "answer ." : b, "", ""));
        }
        return out;
    }
}
