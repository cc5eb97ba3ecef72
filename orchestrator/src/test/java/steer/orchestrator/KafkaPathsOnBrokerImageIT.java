package steer.orchestrator;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.kafka.KafkaContainer;
import steer.proto.RecordSizes;

/**
 * {@link KafkaPathsIT}'s tests against the official broker image in KRaft mode (system property
 * {@code steer.kafka.image}, the project's broker version by default), started by Testcontainers: a user's CI with a
 * Docker engine tests the Kafka paths against the broker they deploy. Without a Docker engine (as on the machines
 * this project is built on) the class is skipped, and the embedded broker's run of the same tests stands.
 */
@Testcontainers(disabledWithoutDocker = true)
class KafkaPathsOnBrokerImageIT extends KafkaPathsIT {

    private static KafkaContainer kafka;

    /** Hides {@link KafkaPathsIT#broker()}: the container instead of the embedded broker. */
    @BeforeAll
    static void broker() {
        kafka = new KafkaContainer(System.getProperty("steer.kafka.image", "apache/kafka:4.1.1"))
                // the limit the services expect of the broker's topics (steer.proto.RecordSizes), checked at start
                .withEnv("KAFKA_MESSAGE_MAX_BYTES", Integer.toString(RecordSizes.DEFAULT_MAX_MESSAGE_BYTES));
        kafka.start();
        bootstrap = kafka.getBootstrapServers();
    }

    @AfterAll
    static void stopBroker() {
        if (kafka != null) {
            kafka.stop();
        }
    }
}
