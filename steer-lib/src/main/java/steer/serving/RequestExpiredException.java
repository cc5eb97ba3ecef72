package steer.serving;

/** A request's deadline passed while it waited in a batcher's queue, so it was dropped unrun. */
public final class RequestExpiredException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    RequestExpiredException(String batcher, long waitedMillis) {
        super(batcher + ": the deadline passed after " + waitedMillis + " ms in the queue; the request was not run");
    }
}
