package steer.orchestrator;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
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
import steer.align.ResponseTokens;
import steer.align.RunSettings;
import steer.align.SsoTriple;
import steer.proto.RecordSizes;
import steer.proto.v1.CheckpointEvent;
import steer.proto.v1.PairBatch;
import steer.proto.v1.PreferencePair;
import steer.proto.v1.SampledTokens;
import steer.proto.v1.SsoExample;

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
    /** The services' default record limit, which the broker's topics must accept. */
    static final int MAX = RecordSizes.DEFAULT_MAX_MESSAGE_BYTES;

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

    /** A batch of one SSO example whose responses carry sampled ids, as the run loop publishes them. */
    private static PairBatch sampledBatch(String run, String id) {
        SsoTriple t = new SsoTriple("add 3 4 :", "be correct . add 3 4 :", "be wrong . add 3 4 :", "answer 7 .",
                "answer 8 8 8", "answer 7 .", "accuracy").withTokens(new ResponseTokens(new int[] {40, 7, 12, 2}, "eos"),
                new ResponseTokens(new int[] {40, 8, 8, 8}, "length"), null);
        RunSettings s = new RunSettings(run, "sso", 1, 3, 0, 1, 1, 1e-4, 1, null, Map.of(), "", 1, false);
        return RunMessages.pairBatch(s, 0, 0, 0, 0, id, 0, 1, List.of(t));
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
        PairBatchPublisher publisher = new PairBatchPublisher(kafka(), topic, Duration.ofSeconds(20), MAX);
        List<String> ids = BatchPlan.plan(run, 0, 10, 4, 1, 1).ids();
        List<PairBatch> sent = List.of(sampledBatch(run, ids.get(0)), batch(run, ids.get(1)));
        publisher.publish(run, sent,
                (h, b) -> h.add("traceparent", ("00-" + "a".repeat(32) + "-" + "b".repeat(16) + "-01")
                        .getBytes(StandardCharsets.UTF_8)));
        assertEquals(Set.of(ids.get(0), ids.get(1)), publisher.committedIds(ids));
        List<ConsumerRecord<String, byte[]>> records = readCommitted(topic);
        assertEquals(2, records.size());
        // the sampled ids and finish reasons arrive as sent; y° had none and stays text only
        SsoExample e = parse(records.stream().filter(r -> r.key().equals(ids.get(0))).findFirst().orElseThrow())
                .getSsoExamples(0);
        assertEquals(List.of(40, 7, 12, 2), e.getYPlusTokens().getTokenIdsList());
        assertEquals("eos", e.getYPlusTokens().getFinishReason());
        assertEquals(List.of(40, 8, 8, 8), e.getYMinusTokens().getTokenIdsList());
        assertEquals("length", e.getYMinusTokens().getFinishReason());
        assertFalse(e.hasYOrigTokens());
        assertEquals(sent.get(0), parse(records.stream().filter(r -> r.key().equals(ids.get(0))).findFirst()
                .orElseThrow()));
        for (ConsumerRecord<String, byte[]> r : records) {
            assertEquals("00-" + "a".repeat(32) + "-" + "b".repeat(16) + "-01",
                    new String(r.headers().lastHeader("traceparent").value(), StandardCharsets.UTF_8));
        }
        // a second publisher of the same run fences the first and adds the rest
        new PairBatchPublisher(kafka(), topic, Duration.ofSeconds(20), MAX).publish(run, List.of(batch(run, ids.get(2))),
                (h, b) -> { });
        assertEquals(Set.copyOf(ids), publisher.committedIds(ids));
    }

    private static PairBatch parse(ConsumerRecord<String, byte[]> r) {
        try {
            return PairBatch.parseFrom(r.value());
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void aTopicThatCannotHoldTheLimitOrABatchOverItIsRefusedBeforeAnythingIsSent() throws Exception {
        String small = "pairs-small-" + UUID.randomUUID();
        try (Admin admin = Admin.create(kafka())) {
            admin.createTopics(List.of(new NewTopic(small, 1, (short) 1)
                    .configs(Map.of("max.message.bytes", Integer.toString(1 << 20))))).all().get(30, TimeUnit.SECONDS);
        }
        String run = "size-" + UUID.randomUUID().toString().substring(0, 8);
        RunFailure refused = assertThrows(RunFailure.class, () -> new PairBatchPublisher(kafka(), small,
                Duration.ofSeconds(20), MAX).publish(run, List.of(batch(run, run + "-it0-b0")), (h, b) -> { }));
        assertEquals("Kafka: topic " + small + " accepts records of at most 1048576 bytes (its max.message.bytes),"
                + " less than steer.kafka.max-message-bytes = " + MAX + ": raise the topic's max.message.bytes to at"
                + " least " + MAX + " (k8s/optional/strimzi-topics.yaml) or lower steer.kafka.max-message-bytes on"
                + " every service to 1048576", refused.getMessage());
        assertTrue(readCommitted(small).isEmpty());

        // a topic not created yet takes the broker's limit, which the embedded broker sets to the services' default
        String fresh = "pairs-" + UUID.randomUUID();
        int limit = 128 << 10;
        PairBatchPublisher publisher = new PairBatchPublisher(kafka(), fresh, Duration.ofSeconds(20), limit);
        PairBatch fits = batch(run, run + "-it0-b0");
        // one batch of long responses: its ids alone are past what a 128 KiB limit leaves a batch
        PairBatch.Builder big = batch(run, run + "-it0-b1").toBuilder();
        SampledTokens.Builder ids = SampledTokens.newBuilder().setFinishReason("length");
        for (int i = 0; i < 40_000; i++) {
            ids.addTokenIds(150_000 + i % 1000);
        }
        big.addPairs(PreferencePair.newBuilder().setPrompt("add 3 4 :").setChosen("7").setRejected("8")
                .setChosenTokens(ids));
        int bigBytes = big.build().getSerializedSize();
        RunFailure tooLarge = assertThrows(RunFailure.class,
                () -> publisher.publish(run, List.of(fits, big.build()), (h, b) -> { }));
        assertTrue(tooLarge.getMessage().startsWith("pair batch " + run + "-it0-b1 is "), tooLarge.getMessage());
        assertTrue(tooLarge.getMessage().contains("(1 examples), over the " + RecordSizes.maxBatchBytes(limit)
                + " bytes a batch may take under steer.kafka.max-message-bytes = " + limit), tooLarge.getMessage());
        assertTrue(bigBytes > RecordSizes.maxBatchBytes(limit) && bigBytes < limit, "the check leaves headroom: "
                + bigBytes);
        assertTrue(publisher.committedIds(List.of(fits.getBatchId())).isEmpty(), "nothing of the transaction sent");
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
        PairBatchPublisher publisher = new PairBatchPublisher(kafka(), topic, Duration.ofSeconds(20), MAX);
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
