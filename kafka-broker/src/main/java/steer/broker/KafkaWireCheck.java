package steer.broker;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Asks a broker, in Kafka's own wire protocol and with nothing but the JDK, whether it serves clients: an
 * ApiVersions request (which every broker answers in its v0 form) to learn which Metadata versions it accepts,
 * then a Metadata request for no topics, whose answer lists the live brokers.
 *
 * <p>Formats from the Kafka protocol guide (kafka.apache.org/protocol): request header v1 (api key, version,
 * correlation id, client id), response header v0 (correlation id); Metadata v1 to v8 are the non-flexible
 * versions (no tagged fields), which keeps the encoding to plain big-endian integers and strings.
 */
final class KafkaWireCheck {

    private static final short API_VERSIONS = 18;
    private static final short METADATA = 3;
    private static final int LAST_NON_FLEXIBLE_METADATA = 8;

    private KafkaWireCheck() {
    }

    /**
     * The number of brokers the broker at {@code host:port} reports in its metadata.
     *
     * @throws IOException if it cannot be reached or answers in a way this check does not understand
     */
    static int brokerCount(String host, int port, Duration timeout) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), (int) timeout.toMillis());
            socket.setSoTimeout((int) timeout.toMillis());
            DataOutputStream out = new DataOutputStream(socket.getOutputStream());
            DataInputStream in = new DataInputStream(socket.getInputStream());

            send(out, API_VERSIONS, (short) 0, 1, new byte[0]);
            ByteBuffer versions = receive(in, 1);
            short error = versions.getShort();
            if (error != 0) {
                throw new IOException("ApiVersions answered error code " + error);
            }
            int metadataVersion = -1;
            for (int n = versions.getInt(), i = 0; i < n; i++) {
                short key = versions.getShort();
                short min = versions.getShort();
                short max = versions.getShort();
                if (key == METADATA) {
                    metadataVersion = Math.min(max, LAST_NON_FLEXIBLE_METADATA);
                    if (metadataVersion < Math.max(min, 1)) {
                        throw new IOException("the broker accepts Metadata versions " + min + ".." + max
                                + ", none non-flexible");
                    }
                }
            }
            if (metadataVersion < 0) {
                throw new IOException("the broker lists no Metadata API");
            }

            ByteBuffer body = ByteBuffer.allocate(7);
            body.putInt(0);                                   // topics: an empty array, not null (= all topics)
            if (metadataVersion >= 4) {
                body.put((byte) 0);                           // allow_auto_topic_creation
            }
            if (metadataVersion >= 8) {
                body.put((byte) 0).put((byte) 0);             // include cluster / topic authorized operations
            }
            send(out, METADATA, (short) metadataVersion, 2, java.util.Arrays.copyOf(body.array(), body.position()));
            ByteBuffer metadata = receive(in, 2);
            if (metadataVersion >= 3) {
                metadata.getInt();                            // throttle_time_ms
            }
            return metadata.getInt();                         // brokers: array length
        }
    }

    private static void send(DataOutputStream out, short apiKey, short version, int correlationId, byte[] body)
            throws IOException {
        byte[] clientId = "steer-broker-check".getBytes(StandardCharsets.UTF_8);
        out.writeInt(2 + 2 + 4 + 2 + clientId.length + body.length);
        out.writeShort(apiKey);
        out.writeShort(version);
        out.writeInt(correlationId);
        out.writeShort(clientId.length);
        out.write(clientId);
        out.write(body);
        out.flush();
    }

    /** The response body after its header, checked against the correlation id. */
    private static ByteBuffer receive(DataInputStream in, int correlationId) throws IOException {
        int size = in.readInt();
        if (size < 4 || size > 16 << 20) {
            throw new IOException("implausible response size " + size);
        }
        byte[] bytes = new byte[size];
        in.readFully(bytes);
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        int got = buffer.getInt();
        if (got != correlationId) {
            throw new IOException("response for correlation id " + got + ", expected " + correlationId);
        }
        return buffer;
    }
}
