package steer.judge.api;

import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * One caller of the judge: its name (in the gRPC Context, logs and metrics), its key, its roles, and its own limits.
 * Each caller has its own token buckets (Bucket4j, lock-free) and in-flight count, and a check never waits, so one
 * caller over its limit costs another caller nothing.
 */
final class Caller {

    /** Over a limit: why, and how long to wait before retrying. */
    record Refusal(String message, long retryNanos) {
    }

    /** A per-second limit as a token bucket of {@code burst} tokens, refilled at {@code perSecond}. */
    private record Rate(Bucket bucket, double perSecond, long burst, String what, String key) {

        static Rate of(String what, String key, double perSecond, long burst) {
            // one token every 1/rate seconds, added greedily (continuously), so fractional rates work too
            long period = Math.max(1, Math.round(TimeUnit.SECONDS.toNanos(1) / perSecond));
            Bandwidth limit = Bandwidth.builder().capacity(burst).refillGreedy(1, Duration.ofNanos(period)).build();
            return new Rate(Bucket.builder().addLimit(limit).build(), perSecond, burst, what, key);
        }

        Refusal take(String caller, long n) {
            ConsumptionProbe probe = bucket.tryConsumeAndReturnRemaining(n);
            if (probe.isConsumed()) {
                return null;
            }
            long nanos = probe.getNanosToWaitForRefill();
            return new Refusal("caller '" + caller + "': over its limit of " + number(perSecond) + " " + what + "/s (burst "
                    + burst + ", " + key + "); retry in " + seconds(nanos) + " s", nanos);
        }
    }

    /** Suggested wait when the in-flight limit is reached: no rate says when a call will finish. */
    static final long IN_FLIGHT_RETRY_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final String name;
    private final byte[] key;
    private final Set<Role> roles;
    private final String prefix;
    private final Rate requests;
    private final Rate comparisons;
    private final Semaphore inFlight;
    private final int maxInFlight;

    /**
     * @param prefix the caller's configuration prefix ({@code steer.judge.callers.team-a}), for messages
     * @param limits the caller's limits; {@link Limits#NONE} for none
     */
    Caller(String name, String key, Set<Role> roles, String prefix, Limits limits) {
        if (key == null || key.isBlank()) {
            throw new IllegalArgumentException(prefix + ".key: empty; every caller needs a key");
        }
        if (roles.isEmpty()) {
            throw new IllegalArgumentException(prefix + ".roles: empty; give at least one of compare, admin");
        }
        this.name = name;
        this.key = key.trim().getBytes(StandardCharsets.UTF_8);
        this.roles = Set.copyOf(EnumSet.copyOf(roles));
        this.prefix = prefix;
        this.requests = limits.requestsPerSecond() == null ? null : Rate.of("requests", prefix + ".requests-per-second",
                positive(prefix + ".requests-per-second", limits.requestsPerSecond()),
                burst(prefix + ".requests-burst", limits.requestsBurst(), limits.requestsPerSecond()));
        this.comparisons = limits.comparisonsPerSecond() == null ? null : Rate.of("comparisons",
                prefix + ".comparisons-per-second", positive(prefix + ".comparisons-per-second", limits.comparisonsPerSecond()),
                burst(prefix + ".comparisons-burst", limits.comparisonsBurst(), limits.comparisonsPerSecond()));
        if (limits.maxInFlight() != null && limits.maxInFlight() < 1) {
            throw new IllegalArgumentException(prefix + ".max-in-flight: " + limits.maxInFlight() + "; must be at least 1");
        }
        this.maxInFlight = limits.maxInFlight() == null ? 0 : limits.maxInFlight();
        this.inFlight = limits.maxInFlight() == null ? null : new Semaphore(maxInFlight);
    }

    /** A caller's limits; null = that limit is off. */
    record Limits(Double requestsPerSecond, Integer requestsBurst, Double comparisonsPerSecond, Integer comparisonsBurst,
                  Integer maxInFlight) {
        static final Limits NONE = new Limits(null, null, null, null, null);
    }

    private static double positive(String key, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(key + ": " + value + "; must be a finite number > 0 (per second)");
        }
        return value;
    }

    /** The configured burst, or one second's worth of the rate (at least 1). */
    private static long burst(String key, Integer burst, double perSecond) {
        if (burst == null) {
            return Math.max(1, (long) Math.floor(perSecond));
        }
        if (burst < 1) {
            throw new IllegalArgumentException(key + ": " + burst + "; must be at least 1");
        }
        return burst;
    }

    String name() {
        return name;
    }

    Set<Role> roles() {
        return roles;
    }

    /** Whether {@code given} is this caller's key; takes the same time wherever the two first differ. */
    boolean keyMatches(byte[] given) {
        return MessageDigest.isEqual(key, given);
    }

    boolean sameKey(Caller other) {
        return MessageDigest.isEqual(key, other.key);
    }

    /** Whether any limit is set. */
    boolean limited() {
        return requests != null || comparisons != null || inFlight != null;
    }

    /** Takes a place among the caller's calls in flight; null when taken (or unlimited), else why not. */
    Refusal enter() {
        if (inFlight == null || inFlight.tryAcquire()) {
            return null;
        }
        return new Refusal("caller '" + name + "': " + maxInFlight + " calls already in flight, its limit ("
                + prefix + ".max-in-flight); retry when one finishes", IN_FLIGHT_RETRY_NANOS);
    }

    /** Gives back the place {@link #enter()} took. */
    void leave() {
        if (inFlight != null) {
            inFlight.release();
        }
    }

    /** Takes one request from the caller's request rate; null when taken, else why not. */
    Refusal takeRequest() {
        return requests == null ? null : requests.take(name, 1);
    }

    /**
     * The most comparisons one call may carry: a larger batch could never pass the bucket, so it is refused as
     * INVALID_ARGUMENT rather than RESOURCE_EXHAUSTED; {@link Long#MAX_VALUE} when comparisons are not limited.
     */
    long comparisonsBurst() {
        return comparisons == null ? Long.MAX_VALUE : comparisons.burst();
    }

    String comparisonsBurstKey() {
        return prefix + ".comparisons-burst";
    }

    /** Takes {@code n} comparisons from the caller's comparison rate; null when taken, else why not. */
    Refusal takeComparisons(long n) {
        return comparisons == null || n == 0 ? null : comparisons.take(name, n);
    }

    /** {@code 1}, {@code 0.5}: a rate as configured, without a trailing {@code .0}. */
    static String number(double value) {
        return BigDecimal.valueOf(value).stripTrailingZeros().toPlainString();
    }

    /** A wait in seconds, rounded up to the millisecond, so that retrying after it succeeds. */
    static String seconds(long nanos) {
        return number(Math.max(1, (nanos + 999_999) / 1_000_000) / 1000.0);
    }
}
