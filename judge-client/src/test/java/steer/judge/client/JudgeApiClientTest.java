package steer.judge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.proto.v1.CompareRequest;
import steer.proto.v1.Comparison;
import steer.proto.v1.JudgeGrpc;
import steer.proto.v1.LoadModelRequest;
import steer.proto.v1.LoadModelResponse;

/**
 * The client's retries, deadline and key over a real gRPC server on loopback whose Judge fails the first calls as
 * a restarting or rate-limited judge-svc would (the real service's answers are checked by `steer judge compare`'s
 * test against the packaged judge).
 */
class JudgeApiClientTest {

    /** A Judge that answers with status {@code failWith} for its first {@code failures} calls, then p = 0.7. */
    private static final class FlakyJudge extends JudgeGrpc.JudgeImplBase {
        final AtomicInteger calls = new AtomicInteger();
        final int failures;
        final Status failWith;
        final long sleepMillis;

        FlakyJudge(int failures, Status failWith, long sleepMillis) {
            this.failures = failures;
            this.failWith = failWith;
            this.sleepMillis = sleepMillis;
        }

        @Override
        public void compare(CompareRequest request, StreamObserver<Comparison> out) {
            if (calls.incrementAndGet() <= failures) {
                out.onError(failWith.asRuntimeException());
                return;
            }
            if (sleepMillis > 0) {
                try {
                    Thread.sleep(sleepMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            out.onNext(Comparison.newBuilder().setPABetter(0.7).setModel(request.getModel()).build());
            out.onCompleted();
        }

        @Override
        public void loadModel(LoadModelRequest request, StreamObserver<LoadModelResponse> out) {
            calls.incrementAndGet();
            out.onError(Status.UNAVAILABLE.asRuntimeException());
        }
    }

    private final List<String> authorizations = new CopyOnWriteArrayList<>();
    private Server server;

    private String serve(FlakyJudge judge) throws Exception {
        ServerInterceptor keys = new ServerInterceptor() {
            @Override
            public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call, Metadata headers,
                                                                    io.grpc.ServerCallHandler<Q, R> next) {
                String a = headers.get(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER));
                authorizations.add(a == null ? "" : a);
                return Contexts.interceptCall(io.grpc.Context.current(), call, headers, next);
            }
        };
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(ServerInterceptors.intercept(judge, keys)).build().start();
        return "127.0.0.1:" + server.getPort();
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (server != null) {
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static JudgeApiClient.Builder fast(String target) {
        return JudgeApiClient.builder(target).backoff(Duration.ofMillis(10), Duration.ofMillis(50));
    }

    @Test
    void unavailableAndResourceExhaustedAreRetriedUpToTheAttempts() throws Exception {
        for (Status s : List.of(Status.UNAVAILABLE, Status.RESOURCE_EXHAUSTED.withDescription("over the rate"))) {
            FlakyJudge judge = new FlakyJudge(2, s, 0);
            String target = serve(judge);
            try (JudgeApiClient client = fast(target).apiKey("k-123").build()) {
                Comparison c = client.compare("add 3 4", "answer : 7 .", "answer : 8 .", "sft", "");
                assertEquals(0.7, c.getPABetter());
                assertEquals("sft", c.getModel());
                assertEquals(3, judge.calls.get(), "two failures and the success");
            }
            assertEquals(List.of("Bearer k-123", "Bearer k-123", "Bearer k-123"), authorizations,
                    "the key on every attempt");
            authorizations.clear();
            stop();
        }
    }

    @Test
    void afterTheLastAttemptTheStatusSurfaces() throws Exception {
        FlakyJudge judge = new FlakyJudge(10, Status.RESOURCE_EXHAUSTED.withDescription("over the rate"), 0);
        try (JudgeApiClient client = fast(serve(judge)).maxAttempts(3).build()) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> client.compare("p", "a", "b"));
            assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
            assertEquals(3, judge.calls.get());
        }
        assertEquals("", authorizations.get(0), "no key, no authorization header");
    }

    @Test
    void otherErrorsAndLoadModelAreNotRetried() throws Exception {
        FlakyJudge judge = new FlakyJudge(5, Status.INVALID_ARGUMENT.withDescription("response_a: empty"), 0);
        String target = serve(judge);
        try (JudgeApiClient client = fast(target).build()) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> client.compare("p", "", "b"));
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
            assertEquals(1, judge.calls.get());
        }
    }

    @Test
    void oneAttemptMeansNoRetry() throws Exception {
        FlakyJudge judge = new FlakyJudge(1, Status.UNAVAILABLE, 0);
        try (JudgeApiClient client = fast(serve(judge)).maxAttempts(1).build()) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> client.compare("p", "a", "b"));
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
            assertEquals(0.7, client.compare("p", "a", "b").getPABetter(), "the next call is answered");
            assertEquals(2, judge.calls.get());
        }
    }

    @Test
    void theDeadlineCoversTheCall() throws Exception {
        FlakyJudge judge = new FlakyJudge(0, Status.OK, 2_000);
        try (JudgeApiClient client = fast(serve(judge)).deadline(Duration.ofMillis(300)).build()) {
            long start = System.nanoTime();
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> client.compare("p", "a", "b"));
            assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
            assertTrue(System.nanoTime() - start < 1_900_000_000L, "the client does not wait for the slow answer");
        }
    }

    @Test
    void badSettingsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> JudgeApiClient.builder(" "));
        assertThrows(IllegalArgumentException.class, () -> JudgeApiClient.builder("h:1").maxAttempts(6));
        assertThrows(IllegalArgumentException.class, () -> JudgeApiClient.builder("h:1").deadline(Duration.ZERO));
        assertThrows(IllegalArgumentException.class,
                () -> JudgeApiClient.builder("h:1").backoff(Duration.ofSeconds(2), Duration.ofSeconds(1)));
    }

    @Test
    void aCertificateToTrustMustBeAPemFile(@TempDir Path dir) throws Exception {
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> JudgeApiClient.builder("h:1").trustCertificate(dir.resolve("none.pem")));
        assertTrue(missing.getMessage().startsWith("trustCertificate: "), missing.getMessage());
        Path notPem = Files.writeString(dir.resolve("judge.pem"), "not a certificate\n");
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> JudgeApiClient.builder("h:1").trustCertificate(notPem).build());
        assertTrue(bad.getMessage().contains("is not a PEM certificate file"), bad.getMessage());
    }
}
