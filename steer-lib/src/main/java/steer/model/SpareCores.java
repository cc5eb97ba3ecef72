package steer.model;

import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;

/**
 * How many cores this process may expect to have to itself, from the machine's CPU use since the previous
 * question: the cores minus what other processes kept busy. {@link Generation} splits a large batch into at
 * most that many parts.
 *
 * <p>Why: on a machine shared with other work, decoding threads beyond the cores left free gain nothing (the
 * scheduler gives this process about the same CPU time however many threads it runs) and lose twice: a part of
 * half the streams costs more per token (the fixed cost of a step's ~220 native calls is shared by fewer rows),
 * and the batch finishes with its slowest part. Measured on two cores under a load average of 8–9 from other
 * builds, one part of 64 stories260K streams decoded 1.5–1.9× the tokens per second of two parts of 32.
 */
final class SpareCores {

    private SpareCores() {
    }

    private static final int CORES = Math.max(1, Runtime.getRuntime().availableProcessors());

    private static final com.sun.management.OperatingSystemMXBean OS = bean();

    static {
        if (OS != null) {   // the first readings only start the interval the next question measures
            OS.getCpuLoad();
            OS.getProcessCpuLoad();
        }
    }

    private static com.sun.management.OperatingSystemMXBean bean() {
        try {
            OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
            return os instanceof com.sun.management.OperatingSystemMXBean sun ? sun : null;
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }

    /**
     * Cores not kept busy by other processes since the previous call (at least 1, at most the core count); the
     * core count when the JVM cannot tell. {@code -Dsteer.generation.parts=N} replaces the measurement by N.
     */
    static synchronized int available() {
        Integer fixed = Integer.getInteger("steer.generation.parts");
        if (fixed != null) {
            return Math.max(1, fixed);
        }
        if (OS == null) {
            return CORES;
        }
        double machine = OS.getCpuLoad();        // [0, 1] of all cores, since the previous call
        double own = OS.getProcessCpuLoad();     // this process's share of all cores, same interval
        if (machine < 0 || own < 0) {
            return CORES;
        }
        double others = Math.max(0, machine - own) * CORES;
        return (int) Math.max(1, Math.min(CORES, Math.round(CORES - others)));
    }
}
