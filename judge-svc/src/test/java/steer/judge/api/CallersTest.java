package steer.judge.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.RetryInfo;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.Set;
import org.junit.jupiter.api.Test;
import steer.proto.v1.CompareBatchRequest;
import steer.proto.v1.CompareRequest;
import steer.proto.v1.JudgeGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.RubricRequest;

class CallersTest {

    /** A caller's settings as the config mapping would give them. */
    private static JudgeConfig.CallerConfig caller(String key, List<String> roles, Double rps, Integer burst,
                                                   Double cps, Integer cburst, Integer inFlight) {
        return new JudgeConfig.CallerConfig() {
            public String key() {
                return key;
            }

            public List<String> roles() {
                return roles;
            }

            public OptionalDouble requestsPerSecond() {
                return rps == null ? OptionalDouble.empty() : OptionalDouble.of(rps);
            }

            public OptionalInt requestsBurst() {
                return burst == null ? OptionalInt.empty() : OptionalInt.of(burst);
            }

            public OptionalDouble comparisonsPerSecond() {
                return cps == null ? OptionalDouble.empty() : OptionalDouble.of(cps);
            }

            public OptionalInt comparisonsBurst() {
                return cburst == null ? OptionalInt.empty() : OptionalInt.of(cburst);
            }

            public OptionalInt maxInFlight() {
                return inFlight == null ? OptionalInt.empty() : OptionalInt.of(inFlight);
            }
        };
    }

    private static JudgeConfig.CallerConfig plain(String key, String... roles) {
        // no roles given: the mapping's default, compare
        return caller(key, roles.length == 0 ? List.of("compare") : List.of(roles), null, null, null, null, null);
    }

    @Test
    void everyJudgeRpcNeedsCompareExceptLoadModelWhichNeedsAdmin() {
        int methods = 0;
        for (MethodDescriptor<?, ?> m : JudgeGrpc.getServiceDescriptor().getMethods()) {
            Role expected = m.getBareMethodName().equals("LoadModel") ? Role.ADMIN : Role.COMPARE;
            assertEquals(expected, Role.requiredFor(m.getFullMethodName()), m.getFullMethodName());
            methods++;
        }
        assertTrue(methods >= 8, "every Judge RPC was checked: " + methods);
        assertEquals(Role.ADMIN, Role.requiredFor("steer.v1.Judge/SomethingNew"), "unknown RPCs fail closed");
        assertEquals(Role.ADMIN, Role.requiredFor("steer.v1.Generator/Compare"), "another service's RPC is not a read");
    }

    @Test
    void callersAreAuthenticatedByTheirOwnKeyWithTheirRoles() {
        Callers callers = new Callers(Map.of("team-a", plain("key-a"), "ops", plain("key-ops", "admin", "compare")),
                List.of("legacy-1", " ", "legacy-2"));
        assertEquals("team-a", callers.authenticate("key-a").name());
        assertEquals(Set.of(Role.COMPARE), callers.authenticate("key-a").roles(), "compare is the default role");
        assertEquals(EnumSet.allOf(Role.class), callers.authenticate(" key-ops ").roles());
        assertEquals("api-key-1", callers.authenticate("legacy-1").name());
        assertEquals("api-key-2", callers.authenticate("legacy-2").name(), "blank keys are skipped, not counted");
        assertEquals(EnumSet.allOf(Role.class), callers.authenticate("legacy-2").roles(), "old keys keep admin");
        assertNull(callers.authenticate("key-"));
        assertNull(callers.authenticate("key-a2"));
        assertNull(callers.authenticate(""));
        assertTrue(new Callers(Map.of(), List.of()).open());
    }

    @Test
    void badCallerSettingsFailNamingTheKey() {
        assertMessage("steer.judge.callers.a.roles: unknown role 'root'; valid roles: [compare, admin]",
                () -> new Callers(Map.of("a", plain("k", "root")), List.of()));
        assertMessage("caller 'b' has the same key as caller 'a'; every caller needs its own key",
                () -> new Callers(Map.of("a", plain("k"), "b", plain("k")), List.of()));
        assertMessage("caller 'api-key-1' has the same key as caller 'a'; every caller needs its own key",
                () -> new Callers(Map.of("a", plain("k")), List.of("k")));
        assertMessage("steer.judge.callers.a.key: empty; every caller needs a key",
                () -> new Callers(Map.of("a", plain(" ")), List.of()));
        assertMessage("steer.judge.callers.a.requests-per-second: 0.0; must be a finite number > 0 (per second)",
                () -> new Callers(Map.of("a", caller("k", List.of("compare"), 0.0, null, null, null, null)), List.of()));
        assertMessage("steer.judge.callers.a.comparisons-burst: 0; must be at least 1",
                () -> new Callers(Map.of("a", caller("k", List.of("compare"), null, null, 5.0, 0, null)), List.of()));
        assertMessage("steer.judge.callers.a.max-in-flight: 0; must be at least 1",
                () -> new Callers(Map.of("a", caller("k", List.of("compare"), null, null, null, null, 0)), List.of()));
    }

    private static void assertMessage(String expected, Runnable r) {
        assertEquals(expected, assertThrows(IllegalArgumentException.class, r::run).getMessage());
    }

    @Test
    void oneRequestPerSecondWithBurstOneRefusesTheSecondCallWithTheWait() {
        Caller c = new Callers(Map.of("slow", caller("k", List.of("compare"), 1.0, 1, null, null, null)), List.of())
                .authenticate("k");
        assertNull(c.takeRequest());
        Caller.Refusal r = c.takeRequest();
        assertNotNull(r);
        assertTrue(r.retryNanos() > 0 && r.retryNanos() <= 1_000_000_000L, "wait " + r.retryNanos());
        assertTrue(r.message().startsWith("caller 'slow': over its limit of 1 requests/s (burst 1, "
                + "steer.judge.callers.slow.requests-per-second); retry in "), r.message());
    }

    @Test
    void comparisonsAreCountedPerItemAndTheBurstDefaultsToOneSecondsWorth() {
        assertEquals(3, CallerLimits.comparisons(CompareBatchRequest.newBuilder().addItems(CompareRequest.getDefaultInstance())
                .addItems(CompareRequest.getDefaultInstance()).addItems(CompareRequest.getDefaultInstance()).build()));
        assertEquals(1, CallerLimits.comparisons(CompareRequest.getDefaultInstance()));
        assertEquals(1, CallerLimits.comparisons(RubricRequest.getDefaultInstance()));
        assertEquals(0, CallerLimits.comparisons(ListModelsRequest.getDefaultInstance()));
        Caller c = new Callers(Map.of("b", caller("k", List.of("compare"), null, null, 10.5, null, null)), List.of())
                .authenticate("k");
        assertEquals(10, c.comparisonsBurst());
        assertNull(c.takeComparisons(10));
        Caller.Refusal r = c.takeComparisons(1);
        assertTrue(r.message().startsWith("caller 'b': over its limit of 10.5 comparisons/s (burst 10, "), r.message());
        assertNull(c.takeComparisons(0), "a call without comparisons takes none");
    }

    @Test
    void callsInFlightAreBoundedAndGivenBack() {
        Caller c = new Callers(Map.of("c", caller("k", List.of("compare"), null, null, null, null, 1)), List.of())
                .authenticate("k");
        assertTrue(c.limited());
        assertNull(c.enter());
        assertEquals("caller 'c': 1 calls already in flight, its limit (steer.judge.callers.c.max-in-flight); "
                + "retry when one finishes", c.enter().message());
        c.leave();
        assertNull(c.enter());
    }

    @Test
    void resourceExhaustedCarriesTheRetryDelayInTheStatusDetails() throws InvalidProtocolBufferException {
        StatusRuntimeException e = CallerLimits.exhausted(new Caller.Refusal("caller 'x': over", 1_500_000_000L));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
        assertEquals("caller 'x': over", e.getStatus().getDescription());
        com.google.rpc.Status details = StatusProto.fromThrowable(e);
        RetryInfo retry = details.getDetails(0).unpack(RetryInfo.class);
        assertEquals(1, retry.getRetryDelay().getSeconds());
        assertEquals(500_000_000, retry.getRetryDelay().getNanos());
        assertEquals("0.734", Caller.seconds(733_000_001L), "waits round up to the millisecond");
    }
}
