package steer.orchestrator;

import io.grpc.ManagedChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The replicas of one model service (generator or judge) that a run must keep on the same policy version.
 *
 * <p>The configured address is a comma-separated list of targets. A target {@code host:port} is one replica. A
 * target {@code dns:///host:port} is every address the name resolves to, looked up again at each {@link #current()},
 * so a headless Kubernetes Service names each ready pod and a replica added between phases is found. A ClusterIP
 * Service would hide the replicas behind one address, and a checkpoint loaded through it would reach one pod only.
 *
 * <p>Channels are made once per replica address and reused; {@link #close()} shuts them all.
 */
final class ServiceReplicas implements AutoCloseable {

    static final String DNS_PREFIX = "dns:///";

    /** One replica: the address it is known by (in messages) and its channel. */
    record Replica(String address, ManagedChannel channel) {
    }

    private final String service;
    private final List<Target> targets;
    private final Function<InetSocketAddress, ManagedChannel> byAddress;
    private final Function<String, ManagedChannel> byTarget;
    private final Map<String, ManagedChannel> channels = new LinkedHashMap<>();

    private record Target(String host, int port, boolean resolveAll) {
        String text() {
            return (resolveAll ? DNS_PREFIX : "") + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }
    }

    /**
     * @param service   the service's name in messages ("generator")
     * @param key       the configuration key the address came from, for error messages
     * @param address   the configured targets
     * @param byAddress a channel to one resolved socket address
     * @param byTarget  a channel to a {@code host:port} target
     * @throws IllegalArgumentException naming the key when a target is malformed
     */
    /**
     * Replicas reached over plaintext gRPC with tracing, accepting answers of up to 64 MB (a chunk of samples or
     * judgements), as the orchestrator's generator and judge clients use them.
     */
    static ServiceReplicas traced(String service, String key, String address, TracingClientInterceptor tracing) {
        return new ServiceReplicas(service, key, address,
                a -> io.grpc.netty.NettyChannelBuilder.forAddress(a).usePlaintext().maxInboundMessageSize(64 << 20)
                        .intercept(tracing).build(),
                t -> io.grpc.netty.NettyChannelBuilder.forTarget(t).usePlaintext().maxInboundMessageSize(64 << 20)
                        .intercept(tracing).build());
    }

    ServiceReplicas(String service, String key, String address, Function<InetSocketAddress, ManagedChannel> byAddress,
                    Function<String, ManagedChannel> byTarget) {
        this.service = service;
        this.targets = parse(key, address);
        this.byAddress = byAddress;
        this.byTarget = byTarget;
    }

    /** The targets of {@code address}; fails with a message naming {@code key} and the bad part. */
    static List<String> targets(String key, String address) {
        return parse(key, address).stream().map(Target::text).toList();
    }

    private static List<Target> parse(String key, String address) {
        List<Target> out = new ArrayList<>();
        for (String part : address.split(",", -1)) {
            String t = part.trim();
            boolean all = t.startsWith(DNS_PREFIX);
            String hostPort = all ? t.substring(DNS_PREFIX.length()) : t;
            int colon = hostPort.lastIndexOf(':');
            if (t.isEmpty() || colon <= 0 || colon == hostPort.length() - 1) {
                throw new IllegalArgumentException(key + ": '" + t + "' in '" + address + "' is not host:port or "
                        + DNS_PREFIX + "host:port");
            }
            int port;
            try {
                port = Integer.parseInt(hostPort.substring(colon + 1));
            } catch (NumberFormatException e) {
                port = -1;
            }
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException(key + ": '" + t + "' has no port between 1 and 65535");
            }
            String host = hostPort.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            out.add(new Target(host, port, all));
        }
        return out;
    }

    /**
     * The replicas now, in a stable order (the targets' order, and within a DNS target the resolver's).
     *
     * @throws RunFailure when a DNS target resolves to nothing
     */
    synchronized List<Replica> current() {
        List<Replica> out = new ArrayList<>();
        for (Target t : targets) {
            if (!t.resolveAll()) {
                String text = t.text();
                out.add(new Replica(text, channels.computeIfAbsent(text, x -> byTarget.apply(text))));
                continue;
            }
            InetAddress[] addresses;
            try {
                addresses = InetAddress.getAllByName(t.host());
            } catch (UnknownHostException e) {
                throw new RunFailure("the " + service + " target " + t.text() + " resolves to no address: " + e.getMessage());
            }
            for (InetAddress a : addresses) {
                InetSocketAddress socket = new InetSocketAddress(a, t.port());
                String text = (a.getHostAddress().contains(":") ? "[" + a.getHostAddress() + "]" : a.getHostAddress())
                        + ":" + t.port();
                out.add(new Replica(text, channels.computeIfAbsent(text, x -> byAddress.apply(socket))));
            }
        }
        // a replica that left (a pod scaled away) keeps no channel
        Set<String> now = new HashSet<>();
        out.forEach(r -> now.add(r.address()));
        channels.entrySet().removeIf(e -> {
            if (now.contains(e.getKey())) {
                return false;
            }
            e.getValue().shutdown();
            return true;
        });
        return out;
    }

    /** The configured address, for messages. */
    String describe() {
        return String.join(",", targets.stream().map(Target::text).toList());
    }

    @Override
    public synchronized void close() {
        channels.values().forEach(ManagedChannel::shutdownNow);
        channels.clear();
    }
}
