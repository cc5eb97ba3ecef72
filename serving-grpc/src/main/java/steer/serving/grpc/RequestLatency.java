package steer.serving.grpc;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

/**
 * A service's request-latency histogram, one series per rpc and outcome ({@code ok} or the status code name).
 * Record before answering, so a client that has its answer also finds its call in {@code /q/metrics}.
 */
public final class RequestLatency {

    private final MeterRegistry meters;
    private final String name;
    private final String description;

    /** @param name the timer's name, e.g. {@code steer.judge.request} */
    public RequestLatency(MeterRegistry meters, String name, String description) {
        this.meters = meters;
        this.name = name;
        this.description = description;
    }

    /** Starts timing one call. */
    public Timer.Sample start() {
        return Timer.start(meters);
    }

    /** Ends timing one call; {@code failure} null for a call that succeeded. */
    public void record(Timer.Sample call, String rpc, Throwable failure) {
        call.stop(Timer.builder(name).description(description).tag("rpc", rpc).tag("outcome", GrpcErrors.outcome(failure))
                .publishPercentileHistogram().register(meters));
    }
}
