package steer.judge.api;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import steer.serving.grpc.ModelServingConfig;

/**
 * The judge's settings, prefix {@code steer.judge}; read once at startup. The start model (OSP pins the SFT
 * model), LoadModel root, batcher and text-length keys are those of {@link ModelServingConfig}; the batchers'
 * queue capacity applies per kind (pairwise, rubric).
 */
@ConfigMapping(prefix = "steer.judge")
public interface JudgeConfig extends ModelServingConfig {

    /** Name of the model served at start; requests with an empty model field use it. */
    @Override
    @WithDefault("judge")
    String modelName();

    /**
     * Named callers, {@code steer.judge.callers.<name>.*}: each sends its own key and gets its own roles and limits.
     * With no callers and no {@link #apiKeys()}, the judge is open: every call is answered, with no limits.
     */
    Map<String, CallerConfig> callers();

    /**
     * The older flat list of shared keys: each is a caller named {@code api-key-<n>} (n counts from 1 in the list's
     * order) with the roles compare and admin and no limits. Kept so deployments that set it keep working; new
     * deployments use {@link #callers()}, which may be set beside it.
     */
    Optional<List<String>> apiKeys();

    /**
     * Judge template files ({@code steer.judge.templates}, comma-separated paths; see judge-svc/README.md) served
     * beside the built-in ones. An invalid file stops the service at start with the file and field named.
     */
    Optional<List<java.nio.file.Path>> templates();

    /** Most items in one batch request. */
    @WithDefault("256")
    int maxItems();

    /** One caller's key, roles and limits; every limit is off unless set. */
    interface CallerConfig {

        /** The caller's API key, sent as {@code authorization: Bearer <key>}; unique among callers. */
        String key();

        /** What the caller may call: {@code compare} (judging, ListModels), {@code admin} (LoadModel). */
        @WithDefault("compare")
        List<String> roles();

        /** Calls per second, sustained (token bucket refill); fractions allowed, e.g. 0.5. */
        OptionalDouble requestsPerSecond();

        /** Calls the caller may make at once after being idle; default one second's worth of the rate, at least 1. */
        OptionalInt requestsBurst();

        /**
         * Comparisons per second, sustained: a batch of n items counts n, a comparison in both orders counts 1, and
         * a rubric rating counts 1.
         */
        OptionalDouble comparisonsPerSecond();

        /** Comparisons the caller may send at once; default one second's worth of the rate, at least 1. */
        OptionalInt comparisonsBurst();

        /** Calls of this caller in flight at once (queued or running). */
        OptionalInt maxInFlight();
    }
}
