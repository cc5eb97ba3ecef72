package steer.trainer;

import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import steer.proto.RecordSizes;

/**
 * The trainer's Kafka client properties: the deployment's shared {@code kafka.*} settings (security protocol,
 * SASL, TLS trust stores, ... as Quarkus collects them for its default broker) with the trainer's own delivery
 * settings on top. The delivery settings always win: exactly-once training depends on them, so no deployment key
 * may turn auto-commit back on or raise the records per poll.
 */
final class KafkaClientSettings {

    private KafkaClientSettings() {
    }

    /**
     * @param shared          the {@code kafka.*} configuration without its prefix (may be empty)
     * @param bootstrap       {@code steer.trainer.bootstrap-servers}
     * @param groupId         the consumer group, whose committed offsets are where a restart resumes
     * @param groupInstanceId static membership id, so a restarted trainer takes its partitions back at once
     * @param maxPollInterval the longest one record may take (a step, a save, a version and its event): past it the
     *                        broker drops the trainer from its group
     * @param maxMessageBytes the largest record ({@link RecordSizes}): fetched whole
     */
    static Properties consumer(Map<String, ?> shared, String bootstrap, String groupId, String groupInstanceId,
                               java.time.Duration maxPollInterval, int maxMessageBytes) {
        Properties p = base(shared, bootstrap);
        RecordSizes.consumer(maxMessageBytes).forEach((key, value) -> p.put(key, String.valueOf(value)));
        p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, groupInstanceId);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        // one record per poll: each is trained, saved and committed before the next is looked at
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "1");
        p.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, Long.toString(maxPollInterval.toMillis()));
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "steer-trainer");
        // the pair batches are published in transactions; never train an aborted one
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        return p;
    }

    /**
     * Producer of checkpoint events and dead letters: acknowledged by every in-sync replica, idempotent; a dead letter
     * is a pair batch of up to {@code maxMessageBytes} with its reason.
     */
    static Properties producer(Map<String, ?> shared, String bootstrap, int maxMessageBytes) {
        Properties p = base(shared, bootstrap);
        RecordSizes.producer(maxMessageBytes).forEach((key, value) -> p.put(key, String.valueOf(value)));
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "steer-trainer");
        return p;
    }

    /** Admin client properties: the shared connection settings only. */
    static Map<String, Object> admin(Map<String, ?> shared, String bootstrap) {
        Map<String, Object> p = new java.util.HashMap<>();
        base(shared, bootstrap).forEach((key, value) -> p.put((String) key, value));
        p.put("client.id", "steer-trainer-admin");
        return p;
    }

    private static Properties base(Map<String, ?> shared, String bootstrap) {
        Properties p = new Properties();
        shared.forEach((key, value) -> {
            // the shared map is for every client; a group id or serializer there is not the trainer's
            if (!key.equals(ConsumerConfig.GROUP_ID_CONFIG) && !key.endsWith(".serializer")
                    && !key.endsWith(".deserializer")) {
                p.put(key, String.valueOf(value));
            }
        });
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return p;
    }
}
