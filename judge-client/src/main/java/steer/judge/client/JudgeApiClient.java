package steer.judge.client;

import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import steer.proto.v1.CompareBatchRequest;
import steer.proto.v1.CompareRequest;
import steer.proto.v1.CompareWithEmptyRequest;
import steer.proto.v1.Comparison;
import steer.proto.v1.JudgeGrpc;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.ModelInfo;
import steer.proto.v1.RubricRequest;
import steer.proto.v1.RubricScoreResponse;

/**
 * A client of judge-svc for teams that call the judge as a service. Each call has a deadline; the API key goes as
 * {@code authorization: Bearer <key>}; the read-only calls (Compare, CompareBatch, CompareWithEmpty, RubricScore,
 * ListModels) are retried on UNAVAILABLE and RESOURCE_EXHAUSTED with exponential backoff by gRPC's own retry policy
 * (a service config on the channel, so a server's {@code grpc-retry-pushback-ms} is honoured too). LoadModel is
 * not retried and not offered: it changes what every caller is served, and needs the admin role.
 *
 * <p>Errors surface as {@link io.grpc.StatusRuntimeException}: INVALID_ARGUMENT names the field at fault,
 * UNAUTHENTICATED a missing or unknown key, RESOURCE_EXHAUSTED a rate limit still exceeded after the retries,
 * DEADLINE_EXCEEDED a call (retries included) longer than its deadline.
 *
 * <pre>{@code
 * try (JudgeApiClient judge = JudgeApiClient.builder("judge.example:9000").apiKey(key).build()) {
 *     Comparison c = judge.compare("add 3 4", "answer : 7 .", "answer : 8 .");
 *     double pABetter = c.getPABetter();   // both orders averaged
 * }
 * }</pre>
 */
public final class JudgeApiClient implements AutoCloseable {

    /** The calls retried: every read-only RPC of {@code steer.v1.Judge}. */
    static final List<String> RETRIED = List.of("Compare", "CompareBatch", "CompareWithEmpty", "CompareWithEmptyBatch",
            "RubricScore", "RubricScoreBatch", "ListModels");

    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final ManagedChannel channel;
    private final JudgeGrpc.JudgeBlockingStub stub;
    private final Duration deadline;

    private JudgeApiClient(Builder b) {
        NettyChannelBuilder channelBuilder = NettyChannelBuilder.forTarget(b.target);
        if (b.maxAttempts == 1) {
            channelBuilder.disableRetry();
        } else {
            channelBuilder.defaultServiceConfig(serviceConfig(b.maxAttempts, b.initialBackoff, b.maxBackoff))
                    .enableRetry().maxRetryAttempts(b.maxAttempts); // caps the policy's maxAttempts
        }
        if (b.plaintext) {
            channelBuilder.usePlaintext();
        } else if (b.trustedCertificates != null) {
            try {
                channelBuilder.sslContext(
                        GrpcSslContexts.forClient().trustManager(b.trustedCertificates.toFile()).build());
            } catch (IOException | IllegalArgumentException e) {
                throw new IllegalArgumentException("trustCertificate: " + b.trustedCertificates + " is not a PEM "
                        + "certificate file: " + e.getMessage(), e);
            }
        }
        this.channel = channelBuilder.build();
        JudgeGrpc.JudgeBlockingStub s = JudgeGrpc.newBlockingStub(channel);
        this.stub = b.apiKey == null ? s : s.withCallCredentials(bearer(b.apiKey));
        this.deadline = b.deadline;
    }

    /**
     * A builder for a client of the judge at {@code target}.
     *
     * @param target {@code host:port} or any gRPC target ({@code dns:///judge.steer.svc:9000})
     * @return the builder: plaintext (else {@link Builder#useTls()} or {@link Builder#trustCertificate(Path)}), no
     *         key, 30 s deadlines, 4 attempts, backoff from 0.2 s up to 5 s
     */
    public static Builder builder(String target) {
        return new Builder(target);
    }

    /** How to reach the judge. */
    public static final class Builder {
        private final String target;
        private String apiKey;
        private boolean plaintext = true;
        private Path trustedCertificates;
        private Duration deadline = Duration.ofSeconds(30);
        private int maxAttempts = 4;
        private Duration initialBackoff = Duration.ofMillis(200);
        private Duration maxBackoff = Duration.ofSeconds(5);

        private Builder(String target) {
            if (target == null || target.isBlank()) {
                throw new IllegalArgumentException("target: empty; expected host:port");
            }
            this.target = target;
        }

        /** The API key sent with every call; null or blank = none. */
        public Builder apiKey(String key) {
            this.apiKey = key == null || key.isBlank() ? null : key;
            return this;
        }

        /** TLS with the JVM's trust store instead of plaintext. */
        public Builder useTls() {
            this.plaintext = false;
            this.trustedCertificates = null;
            return this;
        }

        /**
         * TLS trusting only the certificates in {@code pem} (one or more X.509 certificates in PEM, e.g. the judge's
         * self-signed certificate or the CA that signed it) instead of the JVM's trust store. The judge's host name
         * (or IP address) in the target must be in the certificate's subject alternative names.
         */
        public Builder trustCertificate(Path pem) {
            if (pem == null || !Files.isRegularFile(pem)) {
                throw new IllegalArgumentException("trustCertificate: " + pem + " is not a file");
            }
            this.plaintext = false;
            this.trustedCertificates = pem;
            return this;
        }

        /** Each call's deadline, retries included; positive. */
        public Builder deadline(Duration d) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("deadline must be positive, got " + d);
            }
            this.deadline = d;
            return this;
        }

        /**
         * Attempts per call (the first and its retries), 1..5 (gRPC's cap); 1 = no retries.
         */
        public Builder maxAttempts(int n) {
            if (n < 1 || n > 5) {
                throw new IllegalArgumentException("maxAttempts must be in 1..5 (gRPC caps retries at 5 attempts),"
                        + " got " + n);
            }
            this.maxAttempts = n;
            return this;
        }

        /** The first retry's backoff and the most any retry waits; each retry's is random up to 2× the last's. */
        public Builder backoff(Duration initial, Duration max) {
            if (initial == null || max == null || initial.isNegative() || initial.isZero() || max.compareTo(initial) < 0) {
                throw new IllegalArgumentException("backoff needs 0 < initial <= max, got " + initial + ", " + max);
            }
            this.initialBackoff = initial;
            this.maxBackoff = max;
            return this;
        }

        /** The client; close it when done. */
        public JudgeApiClient build() {
            return new JudgeApiClient(this);
        }
    }

    /** gRPC's retry policy for the read-only calls, as a service config; maxAttempts 2..5. */
    static Map<String, Object> serviceConfig(int maxAttempts, Duration initial, Duration max) {
        List<Object> names = new ArrayList<>();
        for (String method : RETRIED) {
            names.add(Map.of("service", "steer.v1.Judge", "method", method));
        }
        Map<String, Object> retry = new LinkedHashMap<>();
        retry.put("maxAttempts", (double) maxAttempts);
        retry.put("initialBackoff", seconds(initial));
        retry.put("maxBackoff", seconds(max));
        retry.put("backoffMultiplier", 2.0);
        retry.put("retryableStatusCodes", List.of("UNAVAILABLE", "RESOURCE_EXHAUSTED"));
        Map<String, Object> method = new LinkedHashMap<>();
        method.put("name", names);
        method.put("retryPolicy", retry);
        return Map.of("methodConfig", List.of(method));
    }

    private static String seconds(Duration d) {
        return String.format(java.util.Locale.ROOT, "%.3fs", d.toNanos() / 1e9);
    }

    private static CallCredentials bearer(String key) {
        return new CallCredentials() {
            @Override
            public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
                Metadata headers = new Metadata();
                headers.put(AUTHORIZATION, "Bearer " + key);
                applier.apply(headers);
            }
        };
    }

    private JudgeGrpc.JudgeBlockingStub call() {
        return stub.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** p(a better than b | prompt), both orders averaged, by the judge's default model and template. */
    public Comparison compare(String prompt, String a, String b) {
        return compare(prompt, a, b, "", "");
    }

    /**
     * p(a better than b | prompt), both orders averaged.
     *
     * @param model    the judge model's name; empty = the service's default
     * @param template a pairwise template id; empty = the service's default
     */
    public Comparison compare(String prompt, String a, String b, String model, String template) {
        return call().compare(request(prompt, a, b, model, template));
    }

    /** Several comparisons in one call, in order; every item names the same model. */
    public List<Comparison> compareBatch(List<CompareRequest> items) {
        Objects.requireNonNull(items, "items");
        return call().compareBatch(CompareBatchRequest.newBuilder().addAllItems(items).build()).getComparisonsList();
    }

    /** p(response better than the empty response | prompt) (OSP's score for ranking samples). */
    public Comparison compareWithEmpty(String prompt, String response, String model) {
        return call().compareWithEmpty(CompareWithEmptyRequest.newBuilder().setPrompt(prompt).setResponse(response)
                .setModel(model == null ? "" : model).build());
    }

    /** The expected rubric score and its distribution over the score tokens. */
    public RubricScoreResponse rubricScore(String prompt, String response, String model, String template) {
        return call().rubricScore(RubricRequest.newBuilder().setPrompt(prompt).setResponse(response)
                .setModel(model == null ? "" : model).setTemplateId(template == null ? "" : template).build());
    }

    /** The models the judge serves, with their versions and memory. */
    public List<ModelInfo> listModels() {
        return call().listModels(ListModelsRequest.getDefaultInstance()).getModelsList();
    }

    /** A comparison request. */
    public static CompareRequest request(String prompt, String a, String b, String model, String template) {
        return CompareRequest.newBuilder().setPrompt(prompt).setResponseA(a).setResponseB(b)
                .setModel(model == null ? "" : model).setTemplateId(template == null ? "" : template).build();
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
