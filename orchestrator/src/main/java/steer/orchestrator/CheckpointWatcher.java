package steer.orchestrator;

import com.google.protobuf.InvalidProtocolBufferException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.jboss.logging.Logger;
import steer.proto.v1.CheckpointEvent;

/**
 * Waits for the trainer's checkpoint of one iteration on the checkpoint topic. It reads every partition from the
 * beginning, without a consumer group, so an event the trainer published while the orchestrator was down (or
 * before it started waiting) is found all the same; events of other runs or iterations are skipped.
 */
final class CheckpointWatcher {

    private static final Logger LOG = Logger.getLogger(CheckpointWatcher.class);

    private final Map<String, Object> kafka;
    private final String topic;
    private final Duration kafkaTimeout;

    CheckpointWatcher(Map<String, Object> kafka, String topic, Duration kafkaTimeout) {
        this.kafka = kafka;
        this.topic = topic;
        this.kafkaTimeout = kafkaTimeout;
    }

    /**
     * The checkpoint event of (run, iteration).
     *
     * @param waiting called about every 10 s with the milliseconds waited so far
     * @param stopped checked between polls
     * @throws RunFailure after {@code timeout} without the event
     */
    CheckpointEvent await(String runId, int iteration, Duration timeout, LongConsumer waiting, BooleanSupplier stopped) {
        Map<String, Object> props = new HashMap<>(kafka);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "steer-orchestrator-checkpoints-" + UUID.randomUUID());
        props.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) kafkaTimeout.toMillis());
        props.remove(ConsumerConfig.GROUP_ID_CONFIG);
        long start = System.nanoTime();
        long lastReport = start;
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> assigned = List.of();
            while (true) {
                if (stopped.getAsBoolean()) {
                    throw new RunStopped();
                }
                long waited = (System.nanoTime() - start) / 1_000_000;
                if (waited > timeout.toMillis()) {
                    throw new RunFailure("no checkpoint for run " + runId + " iteration " + iteration + " on topic "
                            + topic + " within " + timeout + " (steer.orchestrator.checkpoint-wait-timeout);"
                            + " is the trainer running and consuming the pair batches?");
                }
                if (System.nanoTime() - lastReport > 10_000_000_000L) {
                    lastReport = System.nanoTime();
                    waiting.accept(waited);
                }
                // the topic may not exist until the trainer's first checkpoint: look for partitions until it does
                if (assigned.isEmpty()) {
                    assigned = consumer.partitionsFor(topic, kafkaTimeout).stream()
                            .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
                    if (assigned.isEmpty()) {
                        Thread.sleep(1000);
                        continue;
                    }
                    consumer.assign(assigned);
                    consumer.seekToBeginning(assigned);
                }
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.key() != null && !r.key().equals(runId)) {
                        continue;
                    }
                    CheckpointEvent e;
                    try {
                        e = CheckpointEvent.parseFrom(r.value());
                    } catch (InvalidProtocolBufferException ex) {
                        LOG.warnf("skipping a record on %s at %s-%d offset %d: not a CheckpointEvent", topic,
                                r.topic(), r.partition(), r.offset());
                        continue;
                    }
                    if (e.getRunId().equals(runId) && e.getIteration() == iteration) {
                        return e;
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RunStopped();
        } catch (KafkaException e) {
            throw new RunFailure("Kafka: could not read checkpoint events from " + topic + ": " + e, e);
        }
    }
}
