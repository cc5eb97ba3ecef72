package steer.cli.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Where a run's wall time goes, read from its traces: the share of the time from the run's first span to its last
 * in which a generator was generating or scoring, a judge judging or the trainer taking a step (the work the run
 * exists for, evaluation's on the generators included), and how long each of the orchestrator's phases took —
 * sampling and evaluating (mostly waiting for that work), loading checkpoints, publishing.
 *
 * <p>Shares are of unions of intervals, not sums of spans: two generator calls at once, or an evaluation overlapping
 * the next round's sampling, count their common time once. A span belongs to a run when its trace holds a span that
 * names the run ({@code steer.run_id}); the services' spans join the orchestrator's traces through gRPC and the pair
 * batches' {@code traceparent} header.
 */
public final class PhaseShares {

    /** The services' spans that are the run's work, by what they do. */
    public enum Work {
        GENERATING, JUDGING, TRAINING
    }

    /**
     * One run's figures.
     *
     * @param runId       the run
     * @param wallSeconds from its first span's start to its last one's end
     * @param work        per kind of work, the seconds in which some span of it was open
     * @param busySeconds the seconds in which any work was going on
     * @param phases      the orchestrator's own phases (sample, publish, await_checkpoint, load, evaluate, and the
     *                    overlapped evaluations), seconds in which a span of that phase was open
     * @param iterations  rounds with spans
     */
    public record RunShares(String runId, double wallSeconds, Map<Work, Double> work, double busySeconds,
                            Map<String, Double> phases, int iterations) {
        /** The share of the wall time in which work was going on. */
        public double busyShare() {
            return wallSeconds == 0 ? 0 : busySeconds / wallSeconds;
        }
    }

    private PhaseShares() {
    }

    /** Reads a {@code traces.jsonl} as {@link TraceCollector} writes it. */
    public static List<TraceCollector.CollectedSpan> read(Path traces) {
        ObjectMapper json = new ObjectMapper();
        List<TraceCollector.CollectedSpan> spans = new ArrayList<>();
        try {
            int line = 0;
            for (String l : Files.readAllLines(traces, StandardCharsets.UTF_8)) {
                line++;
                if (l.isBlank()) {
                    continue;
                }
                try {
                    spans.add(json.readValue(l, TraceCollector.CollectedSpan.class));
                } catch (IOException e) {
                    throw new IllegalArgumentException(traces + " line " + line + " is not a span: "
                            + e.getMessage(), e);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + traces, e);
        }
        return spans;
    }

    /** The figures of every run the spans mention, in the order of their first span. */
    public static List<RunShares> of(List<TraceCollector.CollectedSpan> spans) {
        Map<String, Set<String>> tracesByRun = new LinkedHashMap<>();
        spans.stream().sorted(Comparator.comparingLong(TraceCollector.CollectedSpan::startUnixNanos))
                .filter(s -> s.attributes() != null && s.attributes().containsKey("steer.run_id"))
                .forEach(s -> tracesByRun.computeIfAbsent(s.attributes().get("steer.run_id"),
                        k -> new java.util.HashSet<>()).add(s.traceId()));
        List<RunShares> out = new ArrayList<>();
        for (Map.Entry<String, Set<String>> run : tracesByRun.entrySet()) {
            List<TraceCollector.CollectedSpan> mine = spans.stream().filter(s -> run.getValue().contains(s.traceId()))
                    .toList();
            out.add(shares(run.getKey(), mine));
        }
        return out;
    }

    private static RunShares shares(String runId, List<TraceCollector.CollectedSpan> spans) {
        // the run's own span: from its first orchestrator phase to its last
        List<TraceCollector.CollectedSpan> orchestrator = spans.stream()
                .filter(s -> s.name().startsWith("orchestrator.") && runId.equals(attr(s, "steer.run_id"))).toList();
        long start = orchestrator.stream().mapToLong(TraceCollector.CollectedSpan::startUnixNanos).min().orElse(0);
        long end = orchestrator.stream().mapToLong(TraceCollector.CollectedSpan::endUnixNanos).max().orElse(0);
        Map<Work, List<long[]>> work = new TreeMap<>();
        for (TraceCollector.CollectedSpan s : spans) {
            Work w = work(s);
            if (w != null) {
                work.computeIfAbsent(w, k -> new ArrayList<>()).add(clip(s, start, end));
            }
        }
        Map<Work, Double> workSeconds = new TreeMap<>();
        List<long[]> all = new ArrayList<>();
        for (Work w : Work.values()) {
            List<long[]> intervals = work.getOrDefault(w, List.of());
            workSeconds.put(w, union(intervals) / 1e9);
            all.addAll(intervals);
        }
        Map<String, List<long[]>> phases = new TreeMap<>();
        for (TraceCollector.CollectedSpan s : orchestrator) {
            String phase = s.name().substring("orchestrator.".length());
            if (!phase.equals("iteration")) {
                phases.computeIfAbsent(phase, k -> new ArrayList<>()).add(clip(s, start, end));
            }
        }
        Map<String, Double> phaseSeconds = new LinkedHashMap<>();
        phases.forEach((k, v) -> phaseSeconds.put(k, union(v) / 1e9));
        int iterations = (int) orchestrator.stream().filter(s -> s.name().equals("orchestrator.iteration")).count();
        return new RunShares(runId, (end - start) / 1e9, workSeconds, union(all) / 1e9, phaseSeconds, iterations);
    }

    /**
     * The server side of the services' work calls, and the trainer's steps. A generator's Score is generating work
     * too: the evaluation's forward passes (on-policyness, the model as a judge) run there, beside its sampling.
     */
    private static Work work(TraceCollector.CollectedSpan s) {
        String service = s.service() == null ? "" : s.service();
        if (service.contains("generator") && (s.name().endsWith("Generator/Generate")
                || s.name().endsWith("Generator/GenerateStream") || s.name().endsWith("Generator/Score"))) {
            return Work.GENERATING;
        }
        if (service.contains("judge") && s.name().startsWith("steer.v1.Judge/")
                && (s.name().contains("Compare") || s.name().contains("Rubric"))) {
            return Work.JUDGING;
        }
        if (service.contains("trainer") && s.name().equals("trainer.step")) {
            return Work.TRAINING;
        }
        return null;
    }

    private static String attr(TraceCollector.CollectedSpan s, String key) {
        return s.attributes() == null ? null : s.attributes().get(key);
    }

    private static long[] clip(TraceCollector.CollectedSpan s, long start, long end) {
        return new long[] {Math.max(start, s.startUnixNanos()), Math.min(end, s.endUnixNanos())};
    }

    /** The length of the union of intervals [a, b). */
    static long union(List<long[]> intervals) {
        List<long[]> sorted = intervals.stream().filter(i -> i[1] > i[0])
                .sorted(Comparator.comparingLong(i -> i[0])).toList();
        long total = 0;
        long curStart = Long.MIN_VALUE;
        long curEnd = Long.MIN_VALUE;
        for (long[] i : sorted) {
            if (i[0] > curEnd) {
                if (curEnd > curStart) {
                    total += curEnd - curStart;
                }
                curStart = i[0];
                curEnd = i[1];
            } else {
                curEnd = Math.max(curEnd, i[1]);
            }
        }
        if (curEnd > curStart) {
            total += curEnd - curStart;
        }
        return total;
    }

    /** A few lines per run: the busy share, each kind of work, and the orchestrator's phases. */
    public static String table(List<RunShares> runs) {
        StringBuilder out = new StringBuilder();
        for (RunShares r : runs) {
            out.append(String.format(Locale.ROOT, "run %s: %.1f s from its first phase to its last, %d rounds;"
                    + " generating, judging or training %.1f s = %.1f%%%n", r.runId(), r.wallSeconds(), r.iterations(),
                    r.busySeconds(), 100 * r.busyShare()));
            out.append("  work:   ").append(r.work().entrySet().stream().map(e -> String.format(Locale.ROOT,
                    "%s %.1f s (%.1f%%)", e.getKey().name().toLowerCase(Locale.ROOT), e.getValue(),
                    pct(e.getValue(), r.wallSeconds()))).collect(Collectors.joining(", "))).append('\n');
            out.append("  phases: ").append(r.phases().entrySet().stream().map(e -> String.format(Locale.ROOT,
                    "%s %.1f s (%.1f%%)", e.getKey(), e.getValue(), pct(e.getValue(), r.wallSeconds())))
                    .collect(Collectors.joining(", "))).append('\n');
        }
        return out.toString();
    }

    private static double pct(double part, double whole) {
        return whole == 0 ? 0 : 100 * part / whole;
    }
}
