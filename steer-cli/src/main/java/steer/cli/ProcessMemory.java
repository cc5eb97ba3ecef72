package steer.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/** The process's peak resident memory, which every command that loads a model reports when it ends. */
final class ProcessMemory {

    private ProcessMemory() {
    }

    /** VmHWM from /proc/self/status: the peak resident set, native memory included; -1 where there is none. */
    static long peakResidentKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /** "peak resident memory: 1,234 MB", or a note that this system does not say. */
    static String peakLine() {
        long kb = peakResidentKb();
        return kb < 0 ? "peak resident memory: unknown (no /proc/self/status)"
                : String.format("peak resident memory: %,d MB", kb / 1024);
    }
}
