package steer.proto;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * Reads the topics' record size limits through Kafka's admin API and checks them against {@link RecordSizes}'s M,
 * for the trainer at start and the orchestrator before its first publish.
 */
public final class TopicLimits {

    private TopicLimits() {
    }

    /**
     * Checks that each topic accepts records of {@code maxMessageBytes}: its {@code max.message.bytes}, or, for a
     * topic not created yet, the broker's {@code message.max.bytes}, which auto-creation gives it.
     *
     * @throws IllegalStateException naming the topic, its limit and the setting when a topic accepts less, or when
     *                               the limits cannot be read (the principal needs DescribeConfigs on the topics and
     *                               the cluster)
     */
    public static void requireAccepted(Map<String, Object> adminProperties, List<String> topics, int maxMessageBytes,
                                Duration timeout) {
        try (Admin admin = Admin.create(adminProperties)) {
            for (String topic : topics) {
                Map.Entry<Long, String> limit = limit(admin, topic, timeout);
                RecordSizes.requireTopicAccepts(topic, limit.getKey(), limit.getValue(), maxMessageBytes);
            }
        }
    }

    private static Map.Entry<Long, String> limit(Admin admin, String topic, Duration timeout) {
        try {
            try {
                Config c = describe(admin, new ConfigResource(ConfigResource.Type.TOPIC, topic), timeout);
                return Map.entry(value(c, "max.message.bytes", "topic " + topic), "its max.message.bytes");
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
                    throw e;
                }
            }
            Node node = admin.describeCluster().nodes().get(timeout.toMillis(), TimeUnit.MILLISECONDS).iterator().next();
            Config c = describe(admin, new ConfigResource(ConfigResource.Type.BROKER, node.idString()), timeout);
            return Map.entry(value(c, "message.max.bytes", "broker " + node.idString()),
                    "not created yet: the broker's message.max.bytes, which auto-creation gives it");
        } catch (ExecutionException e) {
            throw unreadable(topic, e.getCause());
        } catch (TimeoutException e) {
            throw unreadable(topic, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw unreadable(topic, e);
        }
    }

    private static Config describe(Admin admin, ConfigResource resource, Duration timeout)
            throws ExecutionException, TimeoutException, InterruptedException {
        return admin.describeConfigs(List.of(resource)).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS)
                .get(resource);
    }

    private static long value(Config c, String name, String owner) {
        ConfigEntry e = c.get(name);
        if (e == null || e.value() == null) {
            throw new IllegalStateException(owner + " reports no " + name);
        }
        return Long.parseLong(e.value());
    }

    private static IllegalStateException unreadable(String topic, Throwable cause) {
        return new IllegalStateException("cannot read the record size limit of topic " + topic + " (the Kafka"
                + " principal needs DescribeConfigs on the topic and the cluster): " + cause, cause);
    }
}
