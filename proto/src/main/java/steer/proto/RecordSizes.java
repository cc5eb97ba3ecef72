package steer.proto;

import java.util.Map;

/**
 * The size limits of the pair-batch records, all set from one number M, {@value #SETTING} (default 16 MiB): since
 * batches carry every response's token ids, a batch of long responses can pass Kafka's 1 MiB defaults, and a limit
 * that one part of the path raises and another does not fails only when such a batch arrives.
 *
 * <ul>
 *   <li>broker and topics: the pair-batch and dead-letter topics accept records of M bytes ({@code max.message.bytes};
 *       the embedded broker's {@code message.max.bytes}, which auto-created topics inherit, and the Strimzi topics of
 *       {@code k8s/optional/strimzi-topics.yaml});
 *   <li>producers (the orchestrator's batches, the trainer's dead letters): {@code max.request.size} = M;
 *   <li>the trainer's consumer: {@code max.partition.fetch.bytes} = M, {@code fetch.max.bytes} at least M;
 *   <li>one pair batch: its record at most {@link #maxBatchBytes M − headroom}, so the trainer can always forward a
 *       refused batch to the dead-letter topic with its reason header ({@link #MAX_REASON_BYTES}).
 * </ul>
 *
 * <p>The services read each topic's limit through Kafka's admin API before they use it and refuse a topic that
 * accepts less than M, with both numbers in the message. Plain Java: the Kafka clients are the services'.
 */
public final class RecordSizes {

    /** The one setting every part reads (environment variable {@code STEER_KAFKA_MAX_MESSAGE_BYTES}). */
    public static final String SETTING = "steer.kafka.max-message-bytes";
    /**
     * 16 MiB. A batch of 64 SSO examples with 2,048-token responses takes about 3 MB: 1.2 MB of ids (three varint
     * bytes each at Qwen's 151,936-id vocabulary) and about as much again of text.
     */
    public static final int DEFAULT_MAX_MESSAGE_BYTES = 16 << 20;
    /** The longest dead-letter reason the trainer writes, in UTF-8 bytes; longer ones are cut. */
    public static final int MAX_REASON_BYTES = 8 << 10;
    /** Room a batch leaves for the reason header, the record's key and Kafka's framing. */
    public static final int HEADROOM = MAX_REASON_BYTES + (8 << 10);
    /** Kafka's default {@code fetch.max.bytes} (50 MiB), kept when M is below it. */
    static final int KAFKA_DEFAULT_FETCH_MAX_BYTES = 50 << 20;

    private RecordSizes() {
    }

    /**
     * @param maxMessageBytes M
     * @throws IllegalArgumentException unless M leaves at least 64 KiB for a batch beyond the headroom
     */
    public static int require(int maxMessageBytes) {
        if (maxMessageBytes < HEADROOM + (64 << 10)) {
            throw new IllegalArgumentException(SETTING + " must be at least " + (HEADROOM + (64 << 10)) + " bytes, got "
                    + maxMessageBytes + "; the default is " + DEFAULT_MAX_MESSAGE_BYTES);
        }
        return maxMessageBytes;
    }

    /** The largest pair-batch record a producer may send under M. */
    public static int maxBatchBytes(int maxMessageBytes) {
        return require(maxMessageBytes) - HEADROOM;
    }

    /** Producer properties under M. */
    public static Map<String, Object> producer(int maxMessageBytes) {
        return Map.of("max.request.size", require(maxMessageBytes));
    }

    /** Consumer properties under M: one whole record per partition fetch. */
    public static Map<String, Object> consumer(int maxMessageBytes) {
        return Map.of("max.partition.fetch.bytes", require(maxMessageBytes),
                "fetch.max.bytes", Math.max(maxMessageBytes, KAFKA_DEFAULT_FETCH_MAX_BYTES));
    }

    /**
     * Checks a topic's limit against M.
     *
     * @param topic           the topic
     * @param topicLimit      its {@code max.message.bytes}, or for a topic not created yet the broker's
     *                        {@code message.max.bytes}, which it will be created with
     * @param limitSource     where {@code topicLimit} came from, for the message
     * @param maxMessageBytes M
     * @throws IllegalStateException if the topic accepts less than M
     */
    public static void requireTopicAccepts(String topic, long topicLimit, String limitSource, int maxMessageBytes) {
        if (topicLimit < maxMessageBytes) {
            throw new IllegalStateException("topic " + topic + " accepts records of at most " + topicLimit + " bytes ("
                    + limitSource + "), less than " + SETTING + " = " + maxMessageBytes + ": raise the topic's"
                    + " max.message.bytes to at least " + maxMessageBytes + " (k8s/optional/strimzi-topics.yaml) or"
                    + " lower " + SETTING + " on every service to " + topicLimit);
        }
    }

    /**
     * The error for a pair batch whose record is over {@link #maxBatchBytes}; null when it fits.
     *
     * @param batchId         the batch
     * @param recordBytes     its record's size: value, key and headers
     * @param examples        its examples, for the message
     * @param maxMessageBytes M
     */
    public static String tooLarge(String batchId, long recordBytes, int examples, int maxMessageBytes) {
        int max = maxBatchBytes(maxMessageBytes);
        if (recordBytes <= max) {
            return null;
        }
        return "pair batch " + batchId + " is " + recordBytes + " bytes (" + examples + " examples), over the "
                + max + " bytes a batch may take under " + SETTING + " = " + maxMessageBytes + " (less " + HEADROOM
                + " for the trainer's dead-letter header): use a smaller batch_size, shorter responses"
                + " (max_new_tokens), or raise " + SETTING + " with every topic's max.message.bytes";
    }
}
