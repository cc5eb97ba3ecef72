package steer.orchestrator;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.BiConsumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import steer.proto.RecordSizes;
import steer.proto.TopicLimits;
import steer.proto.v1.PairBatch;

/**
 * Publishes an iteration's pair batches in one Kafka transaction, so read_committed consumers (the trainer) see
 * all of them or none.
 *
 * <p>Exactly-once publishing across orchestrator restarts: the producer's {@code transactional.id} is derived from
 * the run id, so a restarted orchestrator's {@code initTransactions} fences the old producer and aborts its open
 * transaction; then {@link #committedIds} reads the topic back with read_committed to find batches a previous
 * attempt committed but did not record, and only the rest are published. Batch ids are also the trainer's
 * idempotency key, which covers anything this misses.
 *
 * <p>Sizes ({@link RecordSizes}): before its first publish the publisher checks that the topic accepts records of
 * {@code max-message-bytes}, and every batch is measured before the transaction begins, so a batch too large fails
 * the run naming the batch and both sizes, with nothing sent.
 */
final class PairBatchPublisher {

    private final Map<String, Object> kafka;
    private final String topic;
    private final Duration timeout;
    private final int maxMessageBytes;
    private volatile boolean topicChecked;

    /**
     * @param kafka           Quarkus's {@code kafka.*} configuration (bootstrap servers, security)
     * @param topic           the pair-batch topic
     * @param timeout         bound on blocking client calls
     * @param maxMessageBytes the record size limit M ({@link RecordSizes})
     */
    PairBatchPublisher(Map<String, Object> kafka, String topic, Duration timeout, int maxMessageBytes) {
        this.kafka = kafka;
        this.topic = topic;
        this.timeout = timeout;
        this.maxMessageBytes = RecordSizes.require(maxMessageBytes);
    }

    /** Checks once per publisher that the topic accepts records of M bytes. */
    private void requireTopicAccepts() {
        if (topicChecked) {
            return;
        }
        Map<String, Object> props = new HashMap<>(kafka);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "steer-orchestrator-admin-" + UUID.randomUUID());
        try {
            TopicLimits.requireAccepted(props, List.of(topic), maxMessageBytes, timeout);
        } catch (IllegalStateException | KafkaException e) {
            throw new RunFailure("Kafka: " + e.getMessage(), e);
        }
        topicChecked = true;
    }

    /**
     * Which of {@code wanted} are committed on the topic: reads every partition from the beginning to its last
     * stable offset, read_committed, without a consumer group.
     */
    Set<String> committedIds(Collection<String> wanted) {
        Set<String> want = new HashSet<>(wanted);
        Set<String> found = new HashSet<>();
        Map<String, Object> props = new HashMap<>(kafka);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "steer-orchestrator-check-" + UUID.randomUUID());
        props.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
        props.remove(ConsumerConfig.GROUP_ID_CONFIG);
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, timeout).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            if (partitions.isEmpty()) {
                return found;
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!reached(consumer, end)) {
                if (System.nanoTime() > deadline) {
                    throw new RunFailure("could not read topic " + topic + " back to its end within " + timeout);
                }
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.key() != null && want.contains(r.key())) {
                        found.add(r.key());
                    }
                }
            }
        } catch (KafkaException e) {
            throw new RunFailure("Kafka: could not read topic " + topic + " back: " + e, e);
        }
        return found;
    }

    private static boolean reached(KafkaConsumer<?, ?> consumer, Map<TopicPartition, Long> end) {
        for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
            if (consumer.position(e.getKey()) < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Publishes batches in one transaction, keyed by batch id; {@code headers} adds the trace context to each
     * record.
     *
     * @throws RunFailure if the transaction does not commit; nothing of it is then visible to read_committed
     *                    consumers
     */
    void publish(String runId, List<PairBatch> batches, BiConsumer<Headers, PairBatch> headers) {
        if (batches.isEmpty()) {
            return;
        }
        requireTopicAccepts();
        List<ProducerRecord<String, byte[]>> records = new ArrayList<>(batches.size());
        for (PairBatch b : batches) {
            ProducerRecord<String, byte[]> record = new ProducerRecord<>(topic, b.getBatchId(), b.toByteArray());
            headers.accept(record.headers(), b);
            record.headers().add("steer-schema", "steer.v1.PairBatch".getBytes(StandardCharsets.UTF_8));
            String tooLarge = RecordSizes.tooLarge(b.getBatchId(), recordBytes(record),
                    b.getSsoExamplesCount() + b.getPairsCount() + b.getSoftPairsCount(), maxMessageBytes);
            if (tooLarge != null) {
                throw new RunFailure(tooLarge);
            }
            records.add(record);
        }
        Map<String, Object> props = new HashMap<>(kafka);
        props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "steer-orchestrator-" + runId);
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) timeout.toMillis());
        props.putAll(RecordSizes.producer(maxMessageBytes));
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "steer-orchestrator-" + runId);
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props, new StringSerializer(),
                new ByteArraySerializer())) {
            // fences an earlier producer of this run and aborts whatever transaction it left open
            producer.initTransactions();
            producer.beginTransaction();
            try {
                for (ProducerRecord<String, byte[]> record : records) {
                    producer.send(record);
                }
                producer.commitTransaction();
            } catch (KafkaException e) {
                try {
                    producer.abortTransaction();
                } catch (KafkaException ignored) {
                    // fenced or broken: the broker aborts the transaction when it times out
                }
                throw e;
            }
        } catch (KafkaException e) {
            throw new RunFailure("Kafka: could not publish " + batches.size() + " pair batches to " + topic + ": " + e, e);
        }
    }

    /** A record's key, value and headers in bytes; Kafka's framing is in the headroom. */
    static long recordBytes(ProducerRecord<String, byte[]> record) {
        long bytes = record.value().length + record.key().getBytes(StandardCharsets.UTF_8).length;
        for (Header h : record.headers()) {
            bytes += h.key().getBytes(StandardCharsets.UTF_8).length + (h.value() == null ? 0 : h.value().length);
        }
        return bytes;
    }
}
