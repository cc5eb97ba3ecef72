package steer.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedKafkaBrokerTest {

    @Test
    void producesAndConsumesThroughARealBrokerThenStopsIt() throws Exception {
        // the services' clients, not the broker's: this module's test classpath swaps them (see the pom)
        String clientsJar = KafkaProducer.class.getProtectionDomain().getCodeSource().getLocation().getPath();
        assertTrue(clientsJar.endsWith("kafka-clients-" + System.getProperty("expected.kafka.clients.version") + ".jar"),
                clientsJar);
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start();
        int port = broker.port();
        try {
            assertNotEquals(9092, port);
            assertTrue(broker.isAlive());
            Map<String, Object> producerConfig = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                    ProducerConfig.ACKS_CONFIG, "all");
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig, new StringSerializer(),
                    new StringSerializer())) {
                RecordMetadata sent = producer.send(new ProducerRecord<>("greetings", "k1", "hello broker")).get();
                assertEquals(0, sent.offset());
            }
            Properties consumerConfig = new Properties();
            consumerConfig.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            consumerConfig.put(ConsumerConfig.GROUP_ID_CONFIG, "test");
            consumerConfig.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            List<ConsumerRecord<String, String>> got = new ArrayList<>();
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig, new StringDeserializer(),
                    new StringDeserializer())) {
                consumer.subscribe(List.of("greetings"));
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (got.isEmpty() && System.nanoTime() < deadline) {
                    consumer.poll(Duration.ofMillis(200)).forEach(got::add);
                }
            }
            assertEquals(1, got.size());
            assertEquals("k1", got.get(0).key());
            assertEquals("hello broker", got.get(0).value());
        } finally {
            broker.close();
        }
        assertFalse(broker.isAlive());
        assertFalse(accepts(port), "port " + port + " still accepts connections after close");
    }

    @Test
    void missingJarsNameTheCommandThatMakesThem(@TempDir Path empty) {
        String before = System.getProperty(EmbeddedKafkaBroker.LIB_PROPERTY);
        System.setProperty(EmbeddedKafkaBroker.LIB_PROPERTY, empty.toString());
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class, EmbeddedKafkaBroker::start);
            assertTrue(e.getMessage().contains("./mvnw"), e.getMessage());
            assertTrue(e.getMessage().contains(empty.toString()), e.getMessage());
        } finally {
            System.setProperty(EmbeddedKafkaBroker.LIB_PROPERTY, before);
        }
    }

    @Test
    void clusterIdsLookLikeKafkasOwn() {
        for (int i = 0; i < 100; i++) {
            String id = EmbeddedKafkaBroker.clusterId();
            assertEquals(22, id.length());
            assertTrue(id.matches("[A-Za-z0-9_-]+") && !id.startsWith("-"), id);
        }
    }

    private static boolean accepts(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
