package steer.serving;

/** A batcher's queue is at capacity; the caller should back off and retry (gRPC RESOURCE_EXHAUSTED). */
public final class QueueFullException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    QueueFullException(String batcher, int capacity) {
        super(batcher + ": the request queue is full (" + capacity + " waiting); retry later");
    }
}
