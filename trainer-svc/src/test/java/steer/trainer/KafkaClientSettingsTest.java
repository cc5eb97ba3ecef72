package steer.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class KafkaClientSettingsTest {

    static final java.time.Duration TEN_MINUTES = java.time.Duration.ofMinutes(10);
    static final int MAX = 3 << 20;

    /** What a deployment against a SASL_SSL Kafka sets under kafka.* (Quarkus strips the prefix). */
    private static final Map<String, Object> SECURED = Map.ofEntries(
            Map.entry("bootstrap.servers", "shared:9093"),
            Map.entry("security.protocol", "SASL_SSL"),
            Map.entry("sasl.mechanism", "SCRAM-SHA-512"),
            Map.entry("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required;"),
            Map.entry("ssl.truststore.location", "/etc/kafka/truststore.p12"),
            // keys that would break exactly-once training if they reached the trainer's clients
            Map.entry("enable.auto.commit", "true"),
            Map.entry("max.poll.records", 500),
            Map.entry("group.id", "someone-else"),
            Map.entry("acks", "1"),
            // limits that must follow steer.kafka.max-message-bytes, not a client's own idea
            Map.entry("max.request.size", 1 << 20),
            Map.entry("max.partition.fetch.bytes", 1 << 20),
            Map.entry("value.deserializer", "org.apache.kafka.common.serialization.StringDeserializer"));

    @Test
    void theSharedSecuritySettingsReachBothClients() {
        for (Properties p : new Properties[] {
                KafkaClientSettings.consumer(SECURED, "broker:9092", "steer-trainer", "trainer-0", TEN_MINUTES, MAX),
                KafkaClientSettings.producer(SECURED, "broker:9092", MAX)}) {
            assertEquals("SASL_SSL", p.getProperty("security.protocol"));
            assertEquals("SCRAM-SHA-512", p.getProperty("sasl.mechanism"));
            assertEquals("/etc/kafka/truststore.p12", p.getProperty("ssl.truststore.location"));
            assertEquals("broker:9092", p.getProperty("bootstrap.servers"), "steer.trainer.bootstrap-servers wins");
            assertFalse(p.containsKey("value.deserializer"), "the trainer picks its own (de)serializers");
        }
    }

    @Test
    void theTrainersDeliverySettingsCannotBeOverridden() {
        Properties c = KafkaClientSettings.consumer(SECURED, "broker:9092", "steer-trainer", "trainer-0", TEN_MINUTES, MAX);
        assertEquals("false", c.getProperty("enable.auto.commit"));
        assertEquals("1", c.getProperty("max.poll.records"));
        assertEquals("steer-trainer", c.getProperty("group.id"));
        assertEquals("trainer-0", c.getProperty("group.instance.id"));
        assertEquals("read_committed", c.getProperty("isolation.level"));
        assertEquals("600000", c.getProperty("max.poll.interval.ms"), "from steer.trainer.max-poll-interval");
        Properties p = KafkaClientSettings.producer(SECURED, "broker:9092", MAX);
        assertEquals("all", p.getProperty("acks"));
        assertEquals("true", p.getProperty("enable.idempotence"));
        assertFalse(p.containsKey("group.id"));
        // every size limit from the one setting: a whole pair batch per fetch, a whole dead letter per request
        assertEquals(Integer.toString(MAX), c.getProperty("max.partition.fetch.bytes"));
        assertEquals(Integer.toString(50 << 20), c.getProperty("fetch.max.bytes"), "Kafka's default, above MAX");
        assertEquals(Integer.toString(MAX), p.getProperty("max.request.size"));
    }

    @Test
    void withNoSharedSettingsTheClientsStillHaveEverythingTheyNeed() {
        Properties c = KafkaClientSettings.consumer(Map.of(), "localhost:9092", "g", "i", TEN_MINUTES, MAX);
        assertEquals("localhost:9092", c.getProperty("bootstrap.servers"));
        assertEquals("earliest", c.getProperty("auto.offset.reset"));
    }
}
