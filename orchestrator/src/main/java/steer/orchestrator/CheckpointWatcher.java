package steer.orchestrator;

import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.charset.StandardCharsets;
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
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.jboss.logging.Logger;
import steer.proto.v1.CheckpointEvent;
import steer.proto.v1.PairBatch;

/**
 * Waits for the trainer's checkpoint of one iteration on the checkpoint topic. It reads every partition from the
 * beginning, without a consumer group, so an event the trainer published while the orchestrator was down (or
 * before it started waiting) is found all the same; events of other runs or iterations are skipped. It also
 * reads the trainer's dead-letter topic: a batch of this iteration that the trainer refused would leave the
 * iteration without its checkpoint, so the refusal fails the run at once, with the trainer's reason.
 */
final class CheckpointWatcher {

    private static final Logger LOG = Logger.getLogger(CheckpointWatcher.class);

    private static final String REASON_HEADER = "steer-reason";

    private final Map<String, Object> kafka;
    private final String topic;
    private final String deadLetterTopic;
    private final Duration kafkaTimeout;

    CheckpointWatcher(Map<String, Object> kafka, String topic, String deadLetterTopic, Duration kafkaTimeout) {
        this.kafka = kafka;
        this.topic = topic;
        this.deadLetterTopic = deadLetterTopic;
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
            List<TopicPartition> checkpoints = List.of();
            List<TopicPartition> refusals = List.of();
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
                // neither topic need exist yet (the first checkpoint, the first refusal): look until they do
                if (checkpoints.isEmpty() || refusals.isEmpty()) {
                    List<TopicPartition> c = checkpoints.isEmpty() ? partitions(consumer, topic) : checkpoints;
                    List<TopicPartition> d = refusals.isEmpty() ? partitions(consumer, deadLetterTopic) : refusals;
                    if (c.size() + d.size() > checkpoints.size() + refusals.size()) {
                        List<TopicPartition> added = new java.util.ArrayList<>(c);
                        added.addAll(d);
                        added.removeAll(checkpoints);
                        added.removeAll(refusals);
                        List<TopicPartition> all = new java.util.ArrayList<>(c);
                        all.addAll(d);
                        consumer.assign(all);
                        consumer.seekToBeginning(added);
                        checkpoints = c;
                        refusals = d;
                    }
                    if (checkpoints.isEmpty() && refusals.isEmpty()) {
                        Thread.sleep(1000);
                        continue;
                    }
                }
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.topic().equals(deadLetterTopic)) {
                        refused(r, runId, iteration);
                        continue;
                    }
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

    private List<TopicPartition> partitions(KafkaConsumer<String, byte[]> consumer, String name) {
        return consumer.partitionsFor(name, kafkaTimeout).stream().map(p -> new TopicPartition(p.topic(), p.partition()))
                .toList();
    }

    /** Fails the run if {@code r} is a refused batch of this run and iteration; other refusals are not ours. */
    private static void refused(ConsumerRecord<String, byte[]> r, String runId, int iteration) {
        PairBatch batch;
        try {
            batch = PairBatch.parseFrom(r.value());
        } catch (InvalidProtocolBufferException e) {
            return; // not a batch of ours: the trainer dead-letters whatever it cannot parse
        }
        if (batch.getRunId().equals(runId) && batch.getIteration() == iteration) {
            Header reason = r.headers().lastHeader(REASON_HEADER);
            throw new RunFailure("the trainer refused batch " + batch.getBatchId() + " of iteration " + iteration + ": "
                    + (reason == null ? "no reason given" : new String(reason.value(), StandardCharsets.UTF_8))
                    + "; the iteration cannot complete without it");
        }
    }
}
