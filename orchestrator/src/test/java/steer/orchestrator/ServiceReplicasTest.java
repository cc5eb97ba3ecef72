package steer.orchestrator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ServiceReplicasTest {

    private final List<String> opened = new ArrayList<>();

    private ServiceReplicas replicas(String address) {
        return new ServiceReplicas("generator", "steer.orchestrator.generator-address", address,
                a -> {
                    opened.add(a.toString());
                    return NettyChannelBuilder.forAddress(a).usePlaintext().build();
                },
                t -> {
                    opened.add(t);
                    return NettyChannelBuilder.forTarget(t).usePlaintext().build();
                });
    }

    @Test
    void aListOfTargetsIsOneReplicaEachInOrderWithOneChannelEach() {
        try (ServiceReplicas r = replicas("gen-a:8080, gen-b:8081")) {
            List<ServiceReplicas.Replica> now = r.current();
            assertEquals(List.of("gen-a:8080", "gen-b:8081"), now.stream().map(ServiceReplicas.Replica::address).toList());
            List<ServiceReplicas.Replica> again = r.current();
            assertSame(now.get(0).channel(), again.get(0).channel(), "channels are reused");
            assertEquals(2, opened.size());
        }
    }

    @Test
    void aDnsTargetIsEveryAddressTheNameResolvesTo() throws Exception {
        int addresses = InetAddress.getAllByName("localhost").length;
        try (ServiceReplicas r = replicas("dns:///localhost:9000")) {
            List<ServiceReplicas.Replica> now = r.current();
            assertEquals(addresses, now.size());
            for (ServiceReplicas.Replica replica : now) {
                assertTrue(replica.address().endsWith(":9000"), replica.address());
                assertFalse(replica.address().startsWith("localhost"), "resolved, not the name: " + replica.address());
            }
        }
    }

    @Test
    void aDnsTargetThatResolvesToNothingFailsTheRunWithTheTarget() {
        try (ServiceReplicas r = replicas("dns:///no-such-host.invalid:8080")) {
            RunFailure e = assertThrows(RunFailure.class, r::current);
            assertTrue(e.getMessage().contains("dns:///no-such-host.invalid:8080"), e.getMessage());
        }
    }

    @Test
    void malformedTargetsAreRefusedNamingTheKeyAndThePart() {
        for (String bad : List.of("", "gen-a", "gen-a:", ":8080", "gen-a:8080,", "gen-a:http", "gen-a:70000",
                "dns:///gen-a")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> replicas(bad), bad);
            assertTrue(e.getMessage().startsWith("steer.orchestrator.generator-address: "), e.getMessage());
        }
        assertEquals(List.of("[::1]:8080", "dns:///gen:1"), ServiceReplicas.targets("k", " [::1]:8080 , dns:///gen:1"));
    }
}
