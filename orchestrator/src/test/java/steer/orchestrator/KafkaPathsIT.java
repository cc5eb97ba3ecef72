package steer.orchestrator;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import steer.broker.EmbeddedKafkaBroker;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import steer.align.BatchPlan;
import steer.proto.v1.CheckpointEvent;
import steer.proto.v1.PairBatch;

/**
 * The orchestrator's Kafka paths against a real broker: transactional publishing, reading committed batch ids
 * back, a crashed publisher's open transaction aborted by the next one, and waiting for a checkpoint event.
 *
 * <p>Runs against the embedded KRaft broker of the {@code kafka-broker} module, started here, or against the
 * broker at the system property {@code steer.kafka.bootstrap} when one is given.
 */
class KafkaPathsIT {

    static String bootstrap;
    static EmbeddedKafkaBroker broker;

    @BeforeAll
    static void broker() {
        bootstrap = System.getProperty("steer.kafka.bootstrap", "");
        if (bootstrap.isEmpty()) {
            broker = EmbeddedKafkaBroker.start();
            bootstrap = broker.bootstrapServers();
        }
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    private static Map<String, Object> kafka() {
        return new HashMap<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
    }

    private static PairBatch batch(String run, String id) {
        return PairBatch.newBuilder().setSchemaVersion(1).setRunId(run).setBatchId(id).build();
    }

    private static List<ConsumerRecord<String, byte[]>> readCommitted(String topic) {
        Map<String, Object> p = kafka();
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(topic).stream()
                    .map(i -> new TopicPartition(topic, i.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts);
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }

    @Test
    void batchesArePublishedInOneTransactionWithTheirTraceHeaderAndReadBack() {
        String topic = "pairs-" + UUID.randomUUID();
        String run = "run-" + UUID.randomUUID().toString().substring(0, 8);
        PairBatchPublisher publisher = new PairBatchPublisher(kafka(), topic, Duration.ofSeconds(20));
        List<String> ids = BatchPlan.plan(run, 0, 10, 4, 1, 1).ids();
        publisher.publish(run, List.of(batch(run, ids.get(0)), batch(run, ids.get(1))),
                (h, b) -> h.add("traceparent", ("00-" + "a".repeat(32) + "-" + "b".repeat(16) + "-01")
                        .getBytes(StandardCharsets.UTF_8)));
        assertEquals(Set.of(ids.get(0), ids.get(1)), publisher.committedIds(ids));
        List<ConsumerRecord<String, byte[]>> records = readCommitted(topic);
        assertEquals(2, records.size());
        for (ConsumerRecord<String, byte[]> r : records) {
            assertEquals("00-" + "a".repeat(32) + "-" + "b".repeat(16) + "-01",
                    new String(r.headers().lastHeader("traceparent").value(), StandardCharsets.UTF_8));
        }
        // a second publisher of the same run fences the first and adds the rest
        new PairBatchPublisher(kafka(), topic, Duration.ofSeconds(20)).publish(run, List.of(batch(run, ids.get(2))),
                (h, b) -> { });
        assertEquals(Set.copyOf(ids), publisher.committedIds(ids));
    }

    @Test
    void aTransactionLeftOpenByACrashIsAbortedByTheNextPublisher() {
        String topic = "pairs-" + UUID.randomUUID();
        String run = "crash-" + UUID.randomUUID().toString().substring(0, 8);
        Map<String, Object> p = kafka();
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "steer-orchestrator-" + run);
        KafkaProducer<String, byte[]> crashed = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        crashed.initTransactions();
        crashed.beginTransaction();
        crashed.send(new ProducerRecord<>(topic, run + "-it0-b0", batch(run, run + "-it0-b0").toByteArray()));
        crashed.flush(); // on the broker, inside a transaction that never commits
        PairBatchPublisher publisher = new PairBatchPublisher(kafka(), topic, Duration.ofSeconds(20));
        publisher.publish(run, List.of(batch(run, run + "-it0-b1")), (h, b) -> { });
        assertEquals(Set.of(run + "-it0-b1"), publisher.committedIds(List.of(run + "-it0-b0", run + "-it0-b1")));
        assertEquals(1, readCommitted(topic).size(), "the open transaction's batch is never visible");
        crashed.close(Duration.ZERO);
    }

    @Test
    void theCheckpointOfARunsIterationIsFoundAmongOthers() {
        String topic = "checkpoints-" + UUID.randomUUID();
        try (KafkaProducer<String, byte[]> trainer = new KafkaProducer<>(kafka(), new StringSerializer(),
                new ByteArraySerializer())) {
            trainer.send(new ProducerRecord<>(topic, "other", CheckpointEvent.newBuilder().setRunId("other")
                    .setIteration(0).setVersion(1).build().toByteArray()));
            trainer.send(new ProducerRecord<>(topic, "r", CheckpointEvent.newBuilder().setRunId("r").setIteration(0)
                    .setVersion(1).setLocation("/c/r/v000001").build().toByteArray()));
            trainer.send(new ProducerRecord<>(topic, "r", CheckpointEvent.newBuilder().setRunId("r").setIteration(1)
                    .setVersion(2).setLocation("/c/r/v000002").putMetrics("loss", 0.5).build().toByteArray()));
        }
        CheckpointWatcher watcher = new CheckpointWatcher(kafka(), topic, "dead-" + topic, Duration.ofSeconds(20));
        CheckpointEvent e = watcher.await("r", 1, Duration.ofSeconds(30), w -> { }, () -> false);
        assertEquals(2, e.getVersion());
        assertEquals("/c/r/v000002", e.getLocation());
        assertEquals(0.5, e.getMetricsMap().get("loss"));
        RunFailure timeout = assertThrows(RunFailure.class,
                () -> watcher.await("r", 5, Duration.ofSeconds(2), w -> { }, () -> false));
        assertTrue(timeout.getMessage().contains("iteration 5"), timeout.getMessage());
    }

    @Test
    void aBatchTheTrainerRefusedFailsTheWaitWithItsReason() {
        String topic = "checkpoints-" + UUID.randomUUID();
        String deadLetter = "dead-" + topic;
        try (KafkaProducer<String, byte[]> trainer = new KafkaProducer<>(kafka(), new StringSerializer(),
                new ByteArraySerializer())) {
            // a refusal of another iteration is not this wait's business; one of iteration 1 is
            trainer.send(new ProducerRecord<>(deadLetter, "r-it0-b0", batch("r", "r-it0-b0").toByteArray()));
            ProducerRecord<String, byte[]> refused = new ProducerRecord<>(deadLetter, "r-it1-b3",
                    batch("r", "r-it1-b3").toBuilder().setIteration(1).build().toByteArray());
            refused.headers().add("steer-reason", "invalid batch: sso_examples[2]: prompt is blank".getBytes(UTF_8));
            trainer.send(refused);
        }
        CheckpointWatcher watcher = new CheckpointWatcher(kafka(), topic, deadLetter, Duration.ofSeconds(20));
        RunFailure failure = assertThrows(RunFailure.class,
                () -> watcher.await("r", 1, Duration.ofSeconds(60), w -> { }, () -> false));
        assertTrue(failure.getMessage().contains("r-it1-b3") && failure.getMessage().contains("prompt is blank"),
                failure.getMessage());
    }
}
