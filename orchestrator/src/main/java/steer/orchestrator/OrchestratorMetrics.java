package steer.orchestrator;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The orchestrator's Prometheus metrics (at {@code /q/metrics}): {@code steer_orchestrator_iteration_seconds},
 * {@code steer_orchestrator_examples_total}, {@code steer_orchestrator_dropped_degenerate_total},
 * {@code steer_orchestrator_allocation_fallbacks_total}, {@code steer_orchestrator_batches_published_total},
 * {@code steer_orchestrator_runs_total{outcome}} and the gauge {@code steer_orchestrator_phase} (0 idle,
 * 1 sampling, 2 publishing, 3 training, 4 loading, 5 evaluating).
 */
@ApplicationScoped
@io.quarkus.runtime.Startup
public class OrchestratorMetrics {

    /** The phase gauge's values. */
    enum Phase { IDLE, SAMPLING, PUBLISHING, TRAINING, LOADING, EVALUATING }

    @Inject
    MeterRegistry registry;

    private final AtomicInteger phase = new AtomicInteger();
    private Timer iteration;
    private Counter examples;
    private Counter dropped;
    private Counter fallbacks;
    private Counter batches;

    @jakarta.annotation.PostConstruct
    void register() {
        iteration = Timer.builder("steer.orchestrator.iteration").description("wall time of finished iterations")
                .register(registry);
        examples = Counter.builder("steer.orchestrator.examples").description("SSO triples kept").register(registry);
        dropped = Counter.builder("steer.orchestrator.dropped.degenerate")
                .description("degenerate triples dropped (y+ = y-, or either = y°)").register(registry);
        fallbacks = Counter.builder("steer.orchestrator.allocation.fallbacks")
                .description("model feature allocations that fell back to the rule").register(registry);
        batches = Counter.builder("steer.orchestrator.batches.published").description("pair batches committed")
                .register(registry);
        Gauge.builder("steer.orchestrator.phase", phase, AtomicInteger::get)
                .description("0 idle, 1 sampling, 2 publishing, 3 training, 4 loading, 5 evaluating").register(registry);
    }

    void phase(Phase p) {
        phase.set(p.ordinal());
    }

    void iterationFinished(Duration d) {
        iteration.record(d);
    }

    void sampled(int kept, int droppedDegenerate, int allocationFallbacks) {
        examples.increment(kept);
        dropped.increment(droppedDegenerate);
        fallbacks.increment(allocationFallbacks);
    }

    void published(int n) {
        batches.increment(n);
    }

    void runEnded(String outcome) {
        registry.counter("steer.orchestrator.runs", "outcome", outcome).increment();
    }
}
