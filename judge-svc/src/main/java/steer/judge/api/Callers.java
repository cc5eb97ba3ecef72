package steer.judge.api;

import io.grpc.Context;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The judge's callers, built once from {@code steer.judge.callers.*} and the older {@code steer.judge.api-keys};
 * bad settings fail at startup naming the key. With neither set the judge is open.
 */
@ApplicationScoped
public class Callers {

    /** The authenticated caller of the current call; absent when the judge is open or the RPC needs no key. */
    static final Context.Key<Caller> CALLER = Context.key("steer.judge.caller");

    private final List<Caller> callers;

    @Inject
    Callers(JudgeConfig config) {
        this(config.callers(), config.apiKeys().orElse(List.of()));
    }

    Callers(Map<String, JudgeConfig.CallerConfig> named, List<String> apiKeys) {
        List<Caller> all = new ArrayList<>();
        for (Map.Entry<String, JudgeConfig.CallerConfig> e : new TreeMap<>(named).entrySet()) {
            JudgeConfig.CallerConfig c = e.getValue();
            String prefix = "steer.judge.callers." + e.getKey();
            Set<Role> roles = EnumSet.noneOf(Role.class);
            c.roles().forEach(r -> roles.add(Role.parse(prefix + ".roles", r)));
            all.add(new Caller(e.getKey(), c.key(), roles, prefix, new Caller.Limits(
                    c.requestsPerSecond().isPresent() ? c.requestsPerSecond().getAsDouble() : null,
                    c.requestsBurst().isPresent() ? c.requestsBurst().getAsInt() : null,
                    c.comparisonsPerSecond().isPresent() ? c.comparisonsPerSecond().getAsDouble() : null,
                    c.comparisonsBurst().isPresent() ? c.comparisonsBurst().getAsInt() : null,
                    c.maxInFlight().isPresent() ? c.maxInFlight().getAsInt() : null)));
        }
        List<String> keys = apiKeys.stream().filter(k -> !k.isBlank()).toList();
        for (int i = 0; i < keys.size(); i++) {
            String name = "api-key-" + (i + 1);
            if (named.containsKey(name)) {
                throw new IllegalArgumentException("steer.judge.callers." + name + ": the name of steer.judge.api-keys' "
                        + "caller " + (i + 1) + "; choose another name");
            }
            all.add(new Caller(name, keys.get(i), EnumSet.allOf(Role.class), "steer.judge.api-keys[" + i + "]",
                    Caller.Limits.NONE));
        }
        for (int i = 0; i < all.size(); i++) {
            for (int j = 0; j < i; j++) {
                if (all.get(i).sameKey(all.get(j))) {
                    throw new IllegalArgumentException("caller '" + all.get(i).name() + "' has the same key as caller '"
                            + all.get(j).name() + "'; every caller needs its own key");
                }
            }
        }
        this.callers = List.copyOf(all);
    }

    /** Whether no keys are configured: every call is answered, unauthenticated and unlimited. */
    boolean open() {
        return callers.isEmpty();
    }

    /**
     * The caller whose key is {@code key}, or null. Every key is compared, each in constant time, so the time taken
     * tells neither which caller matched nor how much of a key did.
     */
    Caller authenticate(String key) {
        byte[] given = key.trim().getBytes(StandardCharsets.UTF_8);
        Caller found = null;
        for (Caller c : callers) {
            if (c.keyMatches(given) && found == null) {
                found = c;
            }
        }
        return found;
    }

    /** The current call's caller name, for logs and metrics: {@code anonymous} when there is none. */
    static String currentName() {
        Caller c = CALLER.get();
        return c == null ? "anonymous" : c.name();
    }
}
