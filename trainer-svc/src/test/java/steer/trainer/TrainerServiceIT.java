package steer.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.zip.GZIPInputStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.broker.EmbeddedKafkaBroker;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.model.DecoderInit;
import steer.proto.v1.CheckpointEvent;
import steer.proto.v1.CheckpointRequest;
import steer.proto.v1.CheckpointResponse;
import steer.proto.v1.ObjectiveSpec;
import steer.proto.RecordSizes;
import steer.proto.v1.PairBatch;
import steer.proto.v1.SampledTokens;
import steer.proto.v1.SsoExample;
import steer.proto.v1.TrainerRunStatus;
import steer.proto.v1.TrainerStatus;
import steer.proto.v1.TrainerStatusRequest;
import steer.store.CheckpointStore;
import steer.tokenizer.Tokenizer;
import steer.train.TrainerCheckpoint;
import steer.world.Feature;
import steer.world.Responses;
import steer.world.Task;
import steer.world.TaskGenerator;
import steer.world.WorldModelSize;
import steer.world.WorldVocabulary;

/**
 * The packaged trainer against a real Kafka broker (KRaft, started from Maven Central's jars by the kafka-broker
 * module), driven as the orchestrator would: publish an iteration's SSO batches, wait for its checkpoint event,
 * publish the next iteration sampled from that checkpoint; and as a platform does, with run after run (or runs
 * side by side) on one long-lived trainer.
 */
class TrainerServiceIT {

    static final ObjectMapper JSON = new ObjectMapper();
    static EmbeddedKafkaBroker broker;
    static KafkaProducer<String, byte[]> producer;
    @TempDir
    static Path work;
    static Path baseModel;

    @BeforeAll
    static void brokerAndTinyWorldModel() {
        broker = EmbeddedKafkaBroker.start();
        producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all"), new StringSerializer(), new ByteArraySerializer());
        baseModel = work.resolve("base");
        WorldVocabulary.writeTokenizer(baseModel);
        int vocab;
        try (Tokenizer t = Tokenizer.load(baseModel)) {
            vocab = t.vocabSize();
        }
        DecoderConfig c = new WorldModelSize(32, 2, 2, 1, 64, 1e-3, 1).config(vocab);
        HfCheckpoint.save(baseModel, c, new DecoderInit(0.5, false).tensors(c, 5));
    }

    @AfterAll
    static void stopBroker() {
        if (producer != null) {
            producer.close();
        }
        if (broker != null) {
            broker.close();
        }
    }

    @Test
    void trainsEachBatchOnceSkipsDuplicatesRefusesStaleBatchesAndTracesSteps(@TempDir Path dir) throws Exception {
        Run run = new Run("main", dir, 3, 4);
        try (OtlpReceiver otlp = OtlpReceiver.start();
             // the operator's cap of 1 (the default admits 9): these batches carry no bound of their own
             TrainerProcess trainer = TrainerProcess.start(run.properties(Map.of(
                     "quarkus.otel.exporter.otlp.endpoint", "http://127.0.0.1:" + otlp.port(),
                     "quarkus.otel.bsp.schedule.delay", "200ms", "steer.trainer.max-policy-staleness", "1")),
                     log("main.log"));
             KafkaConsumer<String, byte[]> events = run.eventConsumer()) {
            String traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
            String parentSpanId = "00f067aa0ba902b7";
            run.publishIteration(0, 0, "00-" + traceId + "-" + parentSpanId + "-01");
            CheckpointEvent v1 = awaitEvents(events, 1).get(0);
            run.publishIteration(1, 1, null);
            List<CheckpointEvent> got = awaitEvents(events, 1);
            CheckpointEvent v2 = got.get(0);

            assertEquals(1, v1.getVersion());
            assertEquals(0, v1.getIteration());
            assertEquals(3, v1.getStep());
            assertEquals(2, v2.getVersion());
            assertEquals(1, v2.getIteration());
            assertEquals(6, v2.getStep());
            for (CheckpointEvent e : List.of(v1, v2)) {
                assertEquals("main", e.getRunId());
                assertEquals(3.0, e.getMetricsOrThrow("steps"));
                assertTrue(e.getMetricsMap().keySet().containsAll(List.of("loss", "sso_weight", "reward_margin")),
                        e.getMetricsMap().toString());
                assertTrue(Files.isRegularFile(Path.of(e.getLocation()).resolve("model.safetensors")));
            }
            assertEquals(List.of(1L, 2L), new CheckpointStore(run.store).versions("main"));

            TrainerStatus s = awaitStatus(trainer, st -> st.getConsumerLag() == 0 && st.getStep() == 6);
            assertEquals("main", s.getRunId());
            assertEquals(1, s.getIteration());
            assertEquals(2, s.getCheckpointVersion());
            assertEquals(6, s.getBatchesTrained());
            assertEquals(0, s.getBatchesDuplicate());
            assertTrue(s.getLastMetricsMap().containsKey("loss"));

            // the same batch id again: skipped, counted, no step
            run.send(run.batch(0, 0, 0, "main-it0-b0"), null);
            s = awaitStatus(trainer, st -> st.getBatchesDuplicate() == 1 && st.getConsumerLag() == 0);
            assertEquals(6, s.getStep());
            // iteration 2 sampled from version 0, two behind the newest: refused, counted, dead-lettered
            run.send(run.batch(2, 0, 0, "main-it2-late"), null);
            s = awaitStatus(trainer, st -> st.getBatchesStale() == 1 && st.getConsumerLag() == 0);
            assertEquals(6, s.getStep());
            ConsumerRecord<String, byte[]> dead = run.deadLetters(1).get(0);
            String reason = new String(dead.headers().lastHeader(TrainingLoop.REASON_HEADER).value(),
                    StandardCharsets.UTF_8);
            assertTrue(reason.contains("policy version 0"), reason);
            // a response whose sampled ids leave the model's vocabulary: refused by field and dead-lettered, the
            // loop goes on
            PairBatch outside = run.batch(2, 0, 2, "main-it2-outside");
            outside = outside.toBuilder().setSsoExamples(0, outside.getSsoExamples(0).toBuilder().setYPlusTokens(
                    SampledTokens.newBuilder().addTokenIds(4).addTokenIds(1_000_000).setFinishReason("length")))
                    .build();
            run.send(outside, null);
            ConsumerRecord<String, byte[]> invalid = run.deadLetters(2).get(1);
            String why = new String(invalid.headers().lastHeader(TrainingLoop.REASON_HEADER).value(),
                    StandardCharsets.UTF_8);
            assertTrue(why.startsWith("invalid batch: sso_examples[0]: y_plus_tokens.token_ids[1] is 1000000, outside"
                    + " the model's vocabulary of "), why);
            s = awaitStatus(trainer, st -> st.getConsumerLag() == 0);
            assertEquals(6, s.getStep());
            assertEquals(200, trainer.httpGet("/q/health/live").statusCode());

            // a requested checkpoint is a snapshot outside the version sequence: no version 3, no event
            CheckpointResponse requested = trainer.stub().requestCheckpoint(CheckpointRequest.newBuilder()
                    .setReason("test").build());
            assertEquals(2, requested.getVersion(), "the newest version it follows");
            assertEquals(6, requested.getStep());
            assertTrue(Path.of(requested.getLocation()).startsWith(run.store.resolve("main").resolve("snapshots")),
                    requested.getLocation());
            assertEquals(List.of(), pollEvents(events, Duration.ofSeconds(2)), "a snapshot is announced to no one");
            assertEquals(List.of(1L, 2L), new CheckpointStore(run.store).versions("main"));
            StatusRuntimeException tooLong = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
                    () -> trainer.stub().requestCheckpoint(CheckpointRequest.newBuilder()
                            .setReason("x".repeat(1001)).build()));
            assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, tooLong.getStatus().getCode());

            String metrics = trainer.httpGet("/q/metrics").body();
            assertTrue(metrics.contains("steer_trainer_batches_trained_total 6.0"), metrics);
            assertTrue(metrics.contains("steer_trainer_batches_duplicate_total 1.0"));
            assertTrue(metrics.contains("steer_trainer_batches_stale_total 1.0"));
            assertTrue(metrics.contains("steer_trainer_batches_invalid_total 1.0"), metrics);
            assertTrue(metrics.contains("steer_trainer_step_seconds_count"));
            assertTrue(metrics.contains("steer_trainer_consumer_lag_records 0.0"));

            // the first iteration's records carried a traceparent: their steps are spans of that trace, children of
            // the sender's span. The export is OTLP protobuf, where ids are raw bytes
            byte[] trace = HexFormat.of().parseHex(traceId);
            byte[] parent = HexFormat.of().parseHex(parentSpanId);
            await("a trainer.step span in trace " + traceId, () -> otlp.bodies().stream().anyMatch(b ->
                    contains(b, trace) && contains(b, parent) && contains(b, "trainer.step".getBytes(StandardCharsets.UTF_8))));
        }
    }

    @Test
    void aTrainerRefusesToStartOnABatchTopicThatCannotHoldItsLargestRecord(@TempDir Path dir) throws Exception {
        Run run = new Run("small-topic", dir, 1, 1);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(run.prefix + ".batches", 1, (short) 1)
                    .configs(Map.of("max.message.bytes", Integer.toString(1 << 20))))).all()
                    .get(30, java.util.concurrent.TimeUnit.SECONDS);
        }
        try (TrainerProcess trainer = TrainerProcess.launch(run.properties(Map.of()), log("small-topic.log"))) {
            String[] live = {""};
            await("liveness DOWN with the topic's limit", () -> {
                try {
                    var r = trainer.httpGet("/q/health/live");
                    live[0] = r == null ? "" : r.statusCode() + " " + r.body();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return live[0].startsWith("503") && live[0].contains("accepts records of at most");
            });
            assertTrue(live[0].contains("topic " + run.prefix + ".batches accepts records of at most 1048576 bytes (its"
                    + " max.message.bytes), less than steer.kafka.max-message-bytes = "
                    + RecordSizes.DEFAULT_MAX_MESSAGE_BYTES), live[0]);
        }
    }

    @Test
    void twoRunsBackToBackOnOneTrainerEachGetTheirOwnVersionsAndTrainAsIfAlone(@TempDir Path dir) throws Exception {
        int perIteration = 3;
        Run sso = new Run("sso-run", dir, perIteration, 4);
        Run pbaa = sso.another("pbaa-run");
        // one live model: the second run unloads the first, as a long-lived trainer does run after run
        try (TrainerProcess trainer = TrainerProcess.start(sso.properties(Map.of("steer.trainer.max-loaded-runs", "1")),
                log("back-to-back.log")); KafkaConsumer<String, byte[]> events = sso.eventConsumer()) {
            for (Run run : List.of(sso, pbaa)) {
                run.publishIteration(0, 0, null);
                CheckpointEvent v1 = awaitEvents(events, 1).get(0);
                run.publishIteration(1, 1, null);
                CheckpointEvent v2 = awaitEvents(events, 1).get(0);
                for (CheckpointEvent e : List.of(v1, v2)) {
                    assertEquals(run.runId, e.getRunId());
                    assertEquals(e.getIteration() + 1, e.getVersion());
                    assertEquals((e.getIteration() + 1L) * perIteration, e.getStep(), "steps of " + e);
                    assertTrue(Path.of(e.getLocation()).startsWith(sso.store.resolve(run.runId)), e.getLocation());
                }
            }
            TrainerStatus s = awaitStatus(trainer, st -> st.getRunId().equals("pbaa-run")
                    && st.getStep() == 2L * perIteration && st.getConsumerLag() == 0);
            assertEquals(2, s.getCheckpointVersion());
            assertEquals(2L * perIteration, s.getBatchesTrained());
            assertEquals(List.of("pbaa-run", "sso-run"), s.getRunsList().stream().map(TrainerRunStatus::getRunId)
                    .toList());
            for (TrainerRunStatus r : s.getRunsList()) {
                assertEquals(2L * perIteration, r.getStep(), r.toString());
                assertEquals(2, r.getCheckpointVersion(), r.toString());
                assertEquals(r.getRunId().equals("pbaa-run"), r.getLoaded(), r.toString());
            }
            String metrics = trainer.httpGet("/q/metrics").body();
            assertTrue(metrics.contains("steer_trainer_model_loads_total 2.0"), metrics);

            // a requested snapshot of the run that is not in memory loads it; its versions stay 1 and 2
            CheckpointResponse requested = trainer.stub().requestCheckpoint(CheckpointRequest.newBuilder()
                    .setRunId("sso-run").build());
            assertEquals(2, requested.getVersion());
            assertTrue(Path.of(requested.getLocation()).startsWith(sso.store.resolve("sso-run").resolve("snapshots")));
            assertEquals(io.grpc.Status.Code.NOT_FOUND, org.junit.jupiter.api.Assertions.assertThrows(
                    StatusRuntimeException.class, () -> trainer.stub().requestCheckpoint(CheckpointRequest.newBuilder()
                            .setRunId("never-ran").build())).getStatus().getCode());
            assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, org.junit.jupiter.api.Assertions.assertThrows(
                    StatusRuntimeException.class, () -> trainer.stub().requestCheckpoint(CheckpointRequest.newBuilder()
                            .setRunId("../x").build())).getStatus().getCode());
        }
        CheckpointStore store = new CheckpointStore(sso.store);
        assertEquals(List.of(1L, 2L), store.versions("sso-run"));
        assertEquals(List.of(1L, 2L), store.versions("pbaa-run"));
        // the same seed gave both runs the same examples: a run that followed another trained as if alone
        assertSameWeights(store, "sso-run", store, "pbaa-run", 2);
        assertEquals(pbaa.sentIds, trainedIds(pbaa));
        assertEquals(sso.sentIds, trainedIds(sso));
    }

    @Test
    void interleavedRunsEachTrainTheirOwnBatches(@TempDir Path dir) throws Exception {
        int perIteration = 3;
        Run a = new Run("left", dir, perIteration, 4);
        Run b = a.another("right");
        // one live model, so every batch switches runs: the slowest path, and it must still be exact
        try (TrainerProcess trainer = TrainerProcess.start(a.properties(Map.of("steer.trainer.max-loaded-runs", "1")),
                log("interleaved.log")); KafkaConsumer<String, byte[]> events = a.eventConsumer()) {
            for (int it = 0; it < 2; it++) {
                for (int i = 0; i < perIteration; i++) {
                    a.publishBatch(it, i, it, null);
                    b.publishBatch(it, i, it, null);
                }
                List<CheckpointEvent> got = awaitEvents(events, 2);
                assertEquals(java.util.Set.of("left", "right"), got.stream().map(CheckpointEvent::getRunId)
                        .collect(java.util.stream.Collectors.toSet()));
                for (CheckpointEvent e : got) {
                    assertEquals(it + 1, e.getVersion());
                    assertEquals((it + 1L) * perIteration, e.getStep());
                }
            }
            awaitStatus(trainer, st -> st.getConsumerLag() == 0 && st.getRunsCount() == 2
                    && st.getRunsList().stream().allMatch(r -> r.getStep() == 2L * perIteration));
            String metrics = trainer.httpGet("/q/metrics").body();
            assertTrue(metrics.contains("steer_trainer_model_loads_total " + (4.0 * perIteration)), metrics);
        }
        CheckpointStore store = new CheckpointStore(a.store);
        assertSameWeights(store, "left", store, "right", 2);
        assertEquals(a.sentIds, trainedIds(a));
        assertEquals(b.sentIds, trainedIds(b));
    }

    @Test
    void aTrainerKilledInTheSecondRunResumesItAsIfItNeverStopped(@TempDir Path dir) throws Exception {
        int perIteration = 5;
        Run uninterrupted = new Run("steady", dir.resolve("u"), perIteration, 8);
        try (TrainerProcess trainer = TrainerProcess.start(uninterrupted.properties(Map.of()),
                log("steady-uninterrupted.log")); KafkaConsumer<String, byte[]> events = uninterrupted.eventConsumer()) {
            uninterrupted.publishIteration(0, 0, null);
            awaitEvents(events, 1);
            uninterrupted.publishIteration(1, 1, null);
            awaitEvents(events, 1);
        }

        // the same run, second on a trainer that trained another run before it, killed in its first iteration
        Run before = new Run("before", dir.resolve("k"), perIteration, 8);
        Run crashed = before.another("steady");
        // a save after every step, so the state on disk at the kill holds the second run
        Map<String, String> props = crashed.properties(Map.of("steer.trainer.save-every-steps", "1",
                "quarkus.otel.traces.exporter", "none"));
        long stepAtKill;
        KafkaConsumer<String, byte[]> events = crashed.eventConsumer();
        TrainerProcess first = TrainerProcess.start(props, log("steady-killed.log"));
        before.publishIteration(0, 0, null);
        awaitEvents(events, 1);
        before.publishIteration(1, 1, null);
        awaitEvents(events, 1);
        crashed.publishIteration(0, 0, null);
        awaitStatus(first, st -> st.getRunId().equals("steady") && st.getStep() >= 2);
        first.kill();
        stepAtKill = -1;
        try (TrainerProcess second = TrainerProcess.start(props, log("steady-restarted.log"))) {
            TrainerStatus restarted = second.stub().status(TrainerStatusRequest.getDefaultInstance());
            assertEquals("steady", restarted.getRunId(), "the run saved last");
            stepAtKill = restarted.getStep();
            assertEquals(2, restarted.getRunsCount());
            awaitEvents(events, 1);
            crashed.publishIteration(1, 1, null);
            awaitEvents(events, 1);
            TrainerStatus s = awaitStatus(second, st -> st.getStep() == 2L * perIteration && st.getConsumerLag() == 0);
            assertEquals("steady", s.getRunId());
            assertEquals(2, s.getCheckpointVersion());
        } finally {
            events.close();
        }
        System.out.printf("killed the trainer with %d of %d steps of the second run durable%n", stepAtKill,
                2 * perIteration);

        // every batch trained once: the final state lists each id once, and the step count is the batch count
        JsonNode state = JSON.readTree(TrainerCheckpoint.latest(crashed.runState()).orElseThrow()
                .resolve(TrainerCheckpoint.STATE_FILE).toFile());
        assertEquals(2L * perIteration, state.get("step").asLong());
        assertEquals(crashed.sentIds, trainedIds(crashed));
        assertEquals(before.sentIds, trainedIds(before));
        // and the weights are those of the run that never stopped and never shared its trainer, bit for bit
        assertSameWeights(new CheckpointStore(uninterrupted.store), "steady", new CheckpointStore(crashed.store),
                "steady", 2);
    }

    @Test
    void aLoraRunWritesPeftAdapterVersionsAndDeadLettersBatchesThatChangeItsSettings(@TempDir Path dir)
            throws Exception {
        Run run = new Run("lora-run", dir, 2, 4);
        steer.proto.v1.LoraSettings rank4 = steer.proto.v1.LoraSettings.newBuilder().setRank(4)
                .addAllTargets(List.of("q", "v", "down")).build();
        try (TrainerProcess trainer = TrainerProcess.start(run.properties(Map.of()), log("lora.log"));
             KafkaConsumer<String, byte[]> events = run.eventConsumer()) {
            for (int it = 0; it < 2; it++) {
                for (int i = 0; i < run.perIteration; i++) {
                    run.send(run.batch(it, i, it, "lora-it" + it + "-b" + i).toBuilder().setLora(rank4).build(), null);
                }
                CheckpointEvent e = awaitEvents(events, 1).get(0);
                assertEquals(it + 1, e.getVersion());
                assertEquals(2L * (it + 1), e.getStep());
                Path location = Path.of(e.getLocation());
                // the event's location is a PEFT adapter directory for the trainer's base model, no full model
                assertTrue(Files.isRegularFile(location.resolve("adapter_config.json")), e.getLocation());
                assertTrue(Files.isRegularFile(location.resolve("adapter_model.safetensors")), e.getLocation());
                assertTrue(Files.notExists(location.resolve("model.safetensors")), e.getLocation());
                steer.checkpoint.LoraCheckpoint adapter = steer.checkpoint.LoraCheckpoint.load(location,
                        steer.checkpoint.HfConfigJson.read(baseModel.resolve("config.json")));
                assertEquals(4, adapter.config().rank());
                assertEquals(8, adapter.config().alpha(), "alpha 0 = PEFT's 8");
                assertEquals(baseModel.toAbsolutePath().normalize().toString(), adapter.config().baseModel());
                assertTrue(Files.size(location.resolve("adapter_model.safetensors"))
                        < Files.size(baseModel.resolve("model.safetensors")) / 4);
            }
            TrainerStatus s = awaitStatus(trainer, st -> st.getStep() == 4 && st.getConsumerLag() == 0);
            assertEquals(2, s.getCheckpointVersion());
            // the durable state is the adapter and its moments
            Path saved = TrainerCheckpoint.latest(run.runState()).orElseThrow();
            assertTrue(Files.isRegularFile(saved.resolve("adapter_model.safetensors")), saved.toString());
            assertTrue(Files.notExists(saved.resolve("model.safetensors")), saved.toString());

            // another rank midway, and a target that does not exist: each dead-lettered, naming why
            run.send(run.batch(2, 0, 2, "lora-it2-rank8").toBuilder().setLora(rank4.toBuilder().setRank(8)).build(),
                    null);
            run.send(run.batch(2, 0, 2, "lora-it2-lm-head").toBuilder().setLora(rank4.toBuilder()
                    .addTargets("lm_head")).build(), null);
            List<String> reasons = new ArrayList<>();
            try (KafkaConsumer<String, byte[]> dead = run.consumer(run.prefix + ".dead")) {
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (reasons.size() < 2 && System.nanoTime() < deadline) {
                    dead.poll(Duration.ofMillis(200)).forEach(r -> reasons.add(new String(
                            r.headers().lastHeader(TrainingLoop.REASON_HEADER).value(), StandardCharsets.UTF_8)));
                }
            }
            assertEquals(2, reasons.size(), reasons.toString());
            assertTrue(reasons.get(0).contains("rank 8") && reasons.get(0).contains("keeps the LoRA settings"),
                    reasons.get(0));
            assertTrue(reasons.get(1).contains("lora: unknown LoRA target 'lm_head'"), reasons.get(1));
            assertEquals(4, awaitStatus(trainer, st -> st.getConsumerLag() == 0).getStep());
        }
    }

    /** The batch ids in a run's newest saved trainer state, in training order. */
    static List<String> trainedIds(Run run) throws IOException {
        JsonNode state = JSON.readTree(TrainerCheckpoint.latest(run.runState()).orElseThrow()
                .resolve(TrainerCheckpoint.STATE_FILE).toFile());
        List<String> ids = new ArrayList<>();
        state.get("settings").get("trained_batches").forEach(n -> ids.add(n.asText()));
        return ids;
    }

    static void assertSameWeights(CheckpointStore a, String runA, CheckpointStore b, String runB, long versions)
            throws IOException {
        for (long v = 1; v <= versions; v++) {
            Path fa = a.location(runA, v).resolve("model.safetensors");
            Path fb = b.location(runB, v).resolve("model.safetensors");
            if (!java.util.Arrays.equals(Files.readAllBytes(fa), Files.readAllBytes(fb))) {
                throw new AssertionError(runA + " vs " + runB + ", version " + v + ": " + firstDifference(fa, fb));
            }
        }
    }

    /** Names the first tensor element two checkpoints disagree on, with both values and the count of such elements. */
    static String firstDifference(Path fa, Path fb) {
        Map<String, steer.checkpoint.HostTensor> ta = steer.checkpoint.SafetensorsReader.read(fa);
        Map<String, steer.checkpoint.HostTensor> tb = steer.checkpoint.SafetensorsReader.read(fb);
        if (!ta.keySet().equals(tb.keySet())) {
            return "different tensors: " + ta.keySet() + " vs " + tb.keySet();
        }
        StringBuilder out = new StringBuilder();
        for (String name : new java.util.TreeSet<>(ta.keySet())) {
            float[] x = ta.get(name).data();
            float[] y = tb.get(name).data();
            int differ = 0;
            int first = -1;
            float maxAbs = 0;
            for (int i = 0; i < Math.min(x.length, y.length); i++) {
                if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i])) {
                    differ++;
                    first = first < 0 ? i : first;
                    maxAbs = Math.max(maxAbs, Math.abs(x[i] - y[i]));
                }
            }
            if (differ > 0) {
                out.append(String.format("%s: %d of %d elements differ, first [%d] %s vs %s, max |diff| %g; ", name,
                        differ, x.length, first, x[first], y[first], maxAbs));
            }
        }
        return out.length() == 0 ? "same tensors, different bytes (header)" : out.toString();
    }

    /** One run: its own topics, group, state and store, and the batches it publishes. */
    static final class Run {
        final String runId;
        final Path state;
        final Path store;
        final int perIteration;
        final int examplesPerBatch;
        final String prefix;
        final List<String> sentIds = new ArrayList<>();
        final Random random = new Random(17);

        Run(String runId, Path dir, int perIteration, int examplesPerBatch) {
            this(runId, dir.resolve("state"), dir.resolve("store"), "t" + Long.toHexString(System.nanoTime()),
                    perIteration, examplesPerBatch);
        }

        private Run(String runId, Path state, Path store, String prefix, int perIteration, int examplesPerBatch) {
            this.runId = runId;
            this.state = state;
            this.store = store;
            this.prefix = prefix;
            this.perIteration = perIteration;
            this.examplesPerBatch = examplesPerBatch;
        }

        /**
         * Another run on the same trainer: same topics, group, state and store. Its examples are those of a fresh
         * run (same seed), so two runs publishing the same iterations train on the same data.
         */
        Run another(String otherRunId) {
            return new Run(otherRunId, state, store, prefix, perIteration, examplesPerBatch);
        }

        /** The run's trainer state directory. */
        Path runState() {
            return state.resolve("runs").resolve(runId).resolve("states");
        }

        Map<String, String> properties(Map<String, String> extra) {
            Map<String, String> p = new java.util.LinkedHashMap<>(Map.of(
                    "steer.trainer.base-model", baseModel.toString(),
                    "steer.trainer.store-root", store.toString(),
                    "steer.trainer.state-dir", state.toString(),
                    "steer.trainer.bootstrap-servers", broker.bootstrapServers(),
                    "steer.trainer.batch-topic", prefix + ".batches",
                    "steer.trainer.checkpoint-topic", prefix + ".checkpoints",
                    "steer.trainer.dead-letter-topic", prefix + ".dead",
                    "steer.trainer.group-id", prefix + ".trainer",
                    "quarkus.otel.traces.exporter", extra.isEmpty() ? "none" : "cdi"));
            p.putAll(extra);
            return p;
        }

        void publishIteration(int iteration, long policyVersion, String traceparent) throws Exception {
            for (int i = 0; i < perIteration; i++) {
                publishBatch(iteration, i, policyVersion, traceparent);
            }
        }

        void publishBatch(int iteration, int index, long policyVersion, String traceparent) throws Exception {
            String id = runId + "-it" + iteration + "-b" + index;
            send(batch(iteration, index, policyVersion, id), traceparent);
            sentIds.add(id);
        }

        PairBatch batch(int iteration, int index, long policyVersion, String id) {
            PairBatch.Builder b = PairBatch.newBuilder().setSchemaVersion(1).setRunId(runId).setIteration(iteration)
                    .setBatchId(id).setPolicyVersion(policyVersion)
                    .setObjective(ObjectiveSpec.newBuilder().setName("sso"))
                    .setBatchIndex(index).setBatchesInIteration(perIteration);
            for (int e = 0; e < examplesPerBatch; e++) {
                b.addSsoExamples(ssoExample(random));
            }
            return b.build();
        }

        void send(PairBatch batch, String traceparent) throws Exception {
            ProducerRecord<String, byte[]> r = new ProducerRecord<>(prefix + ".batches", batch.getBatchId(),
                    batch.toByteArray());
            if (traceparent != null) {
                r.headers().add("traceparent", traceparent.getBytes(StandardCharsets.UTF_8));
            }
            producer.send(r).get();
        }

        KafkaConsumer<String, byte[]> eventConsumer() {
            return consumer(prefix + ".checkpoints");
        }

        /** The first {@code n} dead letters (fewer if they do not come within 30 s). */
        List<ConsumerRecord<String, byte[]>> deadLetters(int n) {
            try (KafkaConsumer<String, byte[]> c = consumer(prefix + ".dead")) {
                List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (out.size() < n && System.nanoTime() < deadline) {
                    c.poll(Duration.ofMillis(200)).forEach(out::add);
                }
                return out;
            }
        }

        private KafkaConsumer<String, byte[]> consumer(String topic) {
            KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(Map.of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                    ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false"), new StringDeserializer(),
                    new ByteArrayDeserializer());
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            return c;
        }
    }

    /** An SSO example in the oracle world's language: x, x+ / x- under the accuracy principles, y+, y-, y°. */
    static SsoExample ssoExample(Random r) {
        Task task = TaskGenerator.defaults().sample(r);
        List<Feature> accuracy = List.of(Feature.ACCURACY);
        String right = Responses.wellFormed(task.answer());
        String wrong = Responses.wellFormed(Responses.wrongAnswer(task, r));
        return SsoExample.newBuilder().setPrompt(task.query())
                .setPromptPlus(Feature.positivePrompt(task, accuracy))
                .setPromptMinus(Feature.negativePrompt(task, accuracy))
                .setYPlus(right).setYMinus(wrong).setYOrig(r.nextBoolean() ? right : wrong)
                .setFeature(Feature.ACCURACY.word()).build();
    }

    static List<CheckpointEvent> awaitEvents(KafkaConsumer<String, byte[]> consumer, int n) throws Exception {
        List<CheckpointEvent> out = new ArrayList<>();
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (out.size() < n && System.nanoTime() < deadline) {
            for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                out.add(CheckpointEvent.parseFrom(r.value()));
            }
        }
        assertEquals(n, out.size(), "checkpoint events");
        return out;
    }

    /** Every checkpoint event that arrives within {@code wait}. */
    static List<CheckpointEvent> pollEvents(KafkaConsumer<String, byte[]> consumer, Duration wait) throws Exception {
        List<CheckpointEvent> out = new ArrayList<>();
        long deadline = System.nanoTime() + wait.toNanos();
        while (System.nanoTime() < deadline) {
            for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                out.add(CheckpointEvent.parseFrom(r.value()));
            }
        }
        return out;
    }

    static TrainerStatus awaitStatus(TrainerProcess trainer, java.util.function.Predicate<TrainerStatus> ok)
            throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        TrainerStatus last = null;
        while (System.nanoTime() < deadline) {
            last = trainer.stub().status(TrainerStatusRequest.getDefaultInstance());
            if (ok.test(last)) {
                return last;
            }
            Thread.sleep(5);
        }
        throw new AssertionError("status never reached the expected state; last:\n" + last + "\nlog:\n"
                + trainer.logText());
    }

    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("never saw " + what);
    }

    /** Trainer logs stay in target/it-logs for a look after the run. */
    static Path log(String name) throws IOException {
        Path dir = Files.createDirectories(Path.of("target", "it-logs"));
        Files.deleteIfExists(dir.resolve(name));
        return dir.resolve(name);
    }

    static boolean contains(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    /** A minimal OTLP/HTTP endpoint: keeps the body of every POST to /v1/traces (gunzipped if need be). */
    record OtlpReceiver(HttpServer server, List<byte[]> bodies) implements AutoCloseable {

        static OtlpReceiver start() throws IOException {
            HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            List<byte[]> bodies = new CopyOnWriteArrayList<>();
            server.createContext("/v1/traces", exchange -> {
                try (InputStream raw = exchange.getRequestBody()) {
                    boolean gzip = "gzip".equalsIgnoreCase(exchange.getRequestHeaders().getFirst("Content-Encoding"));
                    InputStream in = gzip ? new GZIPInputStream(raw) : raw;
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    in.transferTo(out);
                    bodies.add(out.toByteArray());
                }
                // an empty ExportTraceServiceResponse is an empty protobuf message
                exchange.getResponseHeaders().add("Content-Type", "application/x-protobuf");
                exchange.sendResponseHeaders(200, -1);
                exchange.getResponseBody().close();
            });
            server.start();
            return new OtlpReceiver(server, bodies);
        }

        int port() {
            return server.getAddress().getPort();
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }
}
