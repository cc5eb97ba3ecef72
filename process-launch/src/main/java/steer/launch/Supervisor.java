package steer.launch;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Restarts a service process that dies, as Kubernetes restarts a pod's container: the embedded stack of
 * {@code ./steer demo} keeps running when a service crashes or is killed, and the run continues on the restarted
 * one (each service resumes from its durable state; the orchestrator retries calls to a replica that is away).
 *
 * <p>A thread looks at every watched process each {@code 250 ms}. A process that has exited is started again on the
 * same port and log, and the restart is written to that log and reported. A process that dies again within a minute
 * of its restart waits before the next one, doubling from 1 s to at most 30 s (Kubernetes' CrashLoopBackOff), so a
 * service that cannot start does not spin.
 */
public final class Supervisor implements AutoCloseable {

    private static final Duration CHECK = Duration.ofMillis(250);
    private static final Duration QUICK_DEATH = Duration.ofMinutes(1);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);

    private final List<ServiceProcess> watched = new CopyOnWriteArrayList<>();
    private final Map<ServiceProcess, Restarts> restarts = new ConcurrentHashMap<>();
    private final Consumer<String> report;
    private final Thread thread;
    private volatile boolean closed;

    /** Restarts so far of one process, and when the next may happen. */
    private static final class Restarts {
        int count;
        int quickDeaths;
        Instant lastStart = Instant.EPOCH;
        Instant notBefore;
    }

    /** @param report gets one line per restart ("trainer exited with code 137; restarted (restart 1)") */
    public Supervisor(Consumer<String> report) {
        this.report = report;
        thread = new Thread(this::watch, "supervisor");
        thread.setDaemon(true);
        thread.start();
    }

    /** Watches {@code process} from now on; it must have been started. */
    public ServiceProcess watch(ServiceProcess process) {
        Restarts r = new Restarts();
        r.lastStart = Instant.now();
        restarts.put(process, r);
        watched.add(process);
        return process;
    }

    /** How many times {@code process} has been restarted. */
    public int restarts(ServiceProcess process) {
        Restarts r = restarts.get(process);
        return r == null ? 0 : r.count;
    }

    private void watch() {
        while (!closed) {
            for (ServiceProcess p : watched) {
                if (closed) {
                    return;
                }
                OptionalInt exit = p.exitCode();
                if (exit.isPresent()) {
                    restart(p, exit.getAsInt());
                }
            }
            try {
                Thread.sleep(CHECK.toMillis());
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void restart(ServiceProcess p, int exitCode) {
        Restarts r = restarts.get(p);
        Instant now = Instant.now();
        if (r.notBefore == null) {
            boolean quick = Duration.between(r.lastStart, now).compareTo(QUICK_DEATH) < 0 && r.count > 0;
            r.quickDeaths = quick ? r.quickDeaths + 1 : 0;
            long backoffMs = r.quickDeaths == 0 ? 0
                    : Math.min(MAX_BACKOFF.toMillis(), 1000L << Math.min(5, r.quickDeaths - 1));
            r.notBefore = now.plusMillis(backoffMs);
            if (backoffMs > 0) {
                note(p, p.name() + " exited with code " + exitCode + " again within a minute of its restart;"
                        + " restarting in " + backoffMs + " ms");
            }
        }
        if (now.isBefore(r.notBefore)) {
            return;
        }
        try {
            if (closed || !p.restartIfExited()) {
                return;
            }
        } catch (RuntimeException e) {
            note(p, p.name() + " could not be restarted: " + e.getMessage());
            r.notBefore = now.plus(MAX_BACKOFF);
            return;
        }
        r.count++;
        r.lastStart = now;
        r.notBefore = null;
        note(p, p.name() + " exited with code " + exitCode + "; restarted (restart " + r.count + ")");
    }

    /** Into the process's own log, where its next start's lines follow, and to the report. */
    private void note(ServiceProcess p, String line) {
        try {
            Files.writeString(p.log(), "[supervisor " + Instant.now() + "] " + line + System.lineSeparator(),
                    StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            // the report still says it
        }
        report.accept(line);
    }

    /** Stops watching: processes that exit from now on stay down (the stack is stopping them). */
    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
