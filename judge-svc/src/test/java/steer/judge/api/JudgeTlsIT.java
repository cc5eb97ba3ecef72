package steer.judge.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import grpc.health.v1.HealthGrpc;
import grpc.health.v1.HealthOuterClass.HealthCheckRequest;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.judge.client.JudgeApiClient;
import steer.launch.ServiceProcess;
import steer.proto.v1.Comparison;
import steer.world.TinyWorldModel;

/**
 * The packaged judge with TLS on through Quarkus's TLS registry, as {@code judge-svc/README.md} ("TLS") configures
 * it: a certificate made here with the JDK's keytool (self-signed, for 127.0.0.1), served as a PEM pair (the form of
 * a Kubernetes TLS Secret) and, in one test, as PKCS12; no plaintext port. A client trusting that certificate is
 * answered; a plaintext client and a client trusting only the JVM's CAs are not; the launcher's readiness check
 * (https on loopback) still sees the service ready.
 */
class JudgeTlsIT {

    private static final String PASSWORD = "judge-tls-it";

    @TempDir
    static Path dir;

    static Path keyStore;
    static Path certificate;
    static Path privateKey;
    static Path model;
    static ServiceProcess service;

    @BeforeAll
    static void start() throws Exception {
        keyStore = dir.resolve("judge.p12");
        certificate = dir.resolve("tls.crt");
        privateKey = dir.resolve("tls.key");
        keytool("-genkeypair", "-alias", "judge", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
                "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1",
                "-storetype", "PKCS12", "-keystore", keyStore.toString(), "-storepass", PASSWORD, "-keypass", PASSWORD);
        keytool("-exportcert", "-rfc", "-alias", "judge", "-keystore", keyStore.toString(), "-storepass", PASSWORD,
                "-file", certificate.toString());
        writePrivateKeyPem(keyStore, privateKey);

        model = TinyWorldModel.write(dir.resolve("models").resolve("judge"), 41);
        service = ServiceProcess.startUnderTest("JudgeTlsIT", Map.of(
                "steer.judge.model-location", model.toString(),
                "quarkus.tls.judge.key-store.pem.0.cert", certificate.toString(),
                "quarkus.tls.judge.key-store.pem.0.key", privateKey.toString(),
                "quarkus.http.tls-configuration-name", "judge",
                "quarkus.http.insecure-requests", "disabled"));
    }

    @AfterAll
    static void stop() {
        if (service != null) {
            service.close();
        }
    }

    @Test
    void aClientTrustingTheCertificateIsAnswered() {
        assertTrue(service.tls());
        try (JudgeApiClient judge = JudgeApiClient.builder(service.address()).trustCertificate(certificate).build()) {
            Comparison c = judge.compare("add 1 2", "answer : 3 .", "answer : 4 .");
            assertEquals("judge", c.getModel());
            assertTrue(c.getPABetter() > 0 && c.getPABetter() < 1, c.toString());
            assertEquals(1, judge.listModels().size());
        }
    }

    @Test
    void theStandardHealthServiceAnswersOverTls() throws Exception {
        assertEquals(HealthCheckResponse.ServingStatus.SERVING, health(tlsChannel(service.address())));
    }

    @Test
    void plaintextAndUntrustedClientsAreRefused() throws Exception {
        ManagedChannel plaintext = NettyChannelBuilder.forTarget(service.address()).usePlaintext().build();
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> health(plaintext));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());

        try (JudgeApiClient judge = JudgeApiClient.builder(service.address()).maxAttempts(1).build()) {
            StatusRuntimeException p = assertThrows(StatusRuntimeException.class,
                    () -> judge.compare("add 1 2", "answer : 3 .", "answer : 4 ."));
            assertEquals(Status.Code.UNAVAILABLE, p.getStatus().getCode(), "plaintext: " + p.getStatus());
        }
        // TLS, but trusting only the JVM's CAs: the self-signed certificate is refused
        try (JudgeApiClient judge = JudgeApiClient.builder(service.address()).useTls().maxAttempts(1).build()) {
            StatusRuntimeException u = assertThrows(StatusRuntimeException.class,
                    () -> judge.compare("add 1 2", "answer : 3 .", "answer : 4 ."));
            assertEquals(Status.Code.UNAVAILABLE, u.getStatus().getCode(), "untrusted: " + u.getStatus());
        }
        assertStillAnswers();
    }

    @Test
    void readinessAndMetricsAreServedOverHttpsOnlyOnTheOnePort() throws Exception {
        assertTrue(service.get("/q/health/ready").startsWith("200 "), "the launcher's readiness check, over https");
        assertTrue(service.get("/q/metrics").contains("jvm_"), "metrics too");
        HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        assertThrows(IOException.class, () -> plain.send(HttpRequest.newBuilder(
                URI.create("http://" + service.address() + "/q/health/ready")).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.discarding()), "no plaintext HTTP on the port");
    }

    @Test
    void aPkcs12KeyStoreServesTheSameCertificate() throws Exception {
        try (ServiceProcess p12 = ServiceProcess.startUnderTest("JudgeTlsIT-pkcs12", Map.of(
                "steer.judge.model-location", model.toString(),
                "quarkus.tls.judge.key-store.p12.path", keyStore.toString(),
                "quarkus.tls.judge.key-store.p12.password", PASSWORD,
                "quarkus.http.tls-configuration-name", "judge",
                "quarkus.http.insecure-requests", "disabled"))) {
            assertEquals(HealthCheckResponse.ServingStatus.SERVING, health(tlsChannel(p12.address())));
            try (JudgeApiClient judge = JudgeApiClient.builder(p12.address()).trustCertificate(certificate).build()) {
                assertEquals("judge", judge.compare("add 1 2", "answer : 3 .", "answer : 4 .").getModel());
            }
        }
    }

    private static void assertStillAnswers() {
        try (JudgeApiClient judge = JudgeApiClient.builder(service.address()).trustCertificate(certificate).build()) {
            assertEquals("judge", judge.compare("add 1 2", "answer : 3 .", "answer : 4 .").getModel());
        }
    }

    private static ManagedChannel tlsChannel(String target) throws IOException {
        return NettyChannelBuilder.forTarget(target)
                .sslContext(GrpcSslContexts.forClient().trustManager(certificate.toFile()).build()).build();
    }

    /** grpc.health.v1.Health/Check for the whole server, then the channel closed. */
    private static HealthCheckResponse.ServingStatus health(ManagedChannel channel) throws InterruptedException {
        try {
            return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                    .check(HealthCheckRequest.getDefaultInstance()).getStatus();
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static void keytool(String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "keytool did not finish");
        assertEquals(0, p.exitValue(), "keytool " + String.join(" ", args) + ":\n" + out);
    }

    /** The key pair's private key as PKCS#8 PEM ({@code tls.key}), which keytool cannot export. */
    private static void writePrivateKeyPem(Path p12, Path pem) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(p12)) {
            ks.load(in, PASSWORD.toCharArray());
        }
        PrivateKey key = (PrivateKey) ks.getKey("judge", PASSWORD.toCharArray());
        assertEquals("PKCS#8", key.getFormat());
        String base64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(key.getEncoded());
        Files.writeString(pem, "-----BEGIN PRIVATE KEY-----\n" + base64 + "\n-----END PRIVATE KEY-----\n");
    }
}
