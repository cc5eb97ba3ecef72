package steer.serving.grpc;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import steer.serving.MicroBatcher;

/** A service's batcher metrics: the sizes of each batcher's batches, and one count of requests dropped unrun by any. */
public final class BatchMeters {

    private final MeterRegistry meters;
    private final String prefix;
    private final Counter droppedRequests;

    /** @param prefix the service's metric prefix ({@code steer.generator}) */
    public BatchMeters(MeterRegistry meters, String prefix) {
        this.meters = meters;
        this.prefix = prefix;
        this.droppedRequests = Counter.builder(prefix + ".requests.dropped")
                .description("requests dropped unrun: deadline passed or cancelled while queued").register(meters);
    }

    /**
     * A batcher's listener: records each batch's size in {@code PREFIX.NAME}, and counts drops.
     *
     * @param name        the batch-size meter's name after the prefix, e.g. {@code batch.size}
     * @param description what one batch holds
     * @param unit        what the size counts, e.g. {@code sequences}
     */
    public MicroBatcher.Listener listener(String name, String description, String unit) {
        DistributionSummary sizes = DistributionSummary.builder(prefix + "." + name).description(description)
                .baseUnit(unit).register(meters);
        return new MicroBatcher.Listener() {
            @Override
            public void batchRan(int requests, int size, long runNanos) {
                sizes.record(size);
            }

            @Override
            public void requestDropped() {
                droppedRequests.increment();
            }
        };
    }
}
