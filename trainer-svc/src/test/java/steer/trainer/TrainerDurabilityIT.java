package steer.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static steer.trainer.TrainerServiceIT.assertSameWeights;
import static steer.trainer.TrainerServiceIT.awaitEvents;
import static steer.trainer.TrainerServiceIT.awaitStatus;
import static steer.trainer.TrainerServiceIT.log;
import static steer.trainer.TrainerServiceIT.pollEvents;
import static steer.trainer.TrainerServiceIT.trainedIds;

import com.fasterxml.jackson.databind.JsonNode;
import io.grpc.StatusRuntimeException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import steer.proto.v1.CheckpointEvent;
import steer.proto.v1.CheckpointRequest;
import steer.proto.v1.CheckpointResponse;
import steer.proto.v1.TrainerStatus;
import steer.proto.v1.TrainerStatusRequest;
import steer.store.CheckpointStore;
import steer.train.TrainerCheckpoint;

/**
 * The trainer killed at each of its crash windows ({@link FaultPoint}, the process halted there as a kill would)
 * and restarted: every run must end with each batch trained once, no replayed batch counted twice, every version
 * announced, and the same weights, bit for bit, as a trainer that never stopped. Also a poison batch, snapshots
 * behind the admin key, liveness, and a pair-batch topic with two partitions. The packaged trainer against the
 * embedded broker, as {@link TrainerServiceIT}; the state is saved every 2 steps, so crashes fall between saves too.
 */
class TrainerDurabilityIT {

    static final int PER_ITERATION = 3;
    static final int EXAMPLES = 4;
    static final Map<String, String> EVERY_TWO_STEPS = Map.of("steer.trainer.save-every-steps", "2",
            "quarkus.otel.traces.exporter", "none");
    @TempDir
    static Path work;
    /** The store of a trainer that was never interrupted, trained on the same batches. */
    static CheckpointStore reference;

    @BeforeAll
    static void brokerModelAndAnUninterruptedRun() throws Exception {
        TrainerServiceIT.work = work;
        TrainerServiceIT.brokerAndTinyWorldModel();
        TrainerServiceIT.Run run = new TrainerServiceIT.Run("durable", work.resolve("reference"), PER_ITERATION,
                EXAMPLES);
        try (TrainerProcess trainer = TrainerProcess.start(run.properties(EVERY_TWO_STEPS), log("reference.log"));
             KafkaConsumer<String, byte[]> events = run.eventConsumer()) {
            run.publishIteration(0, 0, null);
            awaitEvents(events, 1);
            run.publishIteration(1, 1, null);
            awaitEvents(events, 1);
        }
        reference = new CheckpointStore(run.store);
    }

    @AfterAll
    static void stopBroker() {
        TrainerServiceIT.stopBroker();
    }

    /** The step at which each window is hit: an iteration's end (step 3) or, for the plain save, step 2. */
    static long stepOf(FaultPoint p) {
        return p == FaultPoint.AFTER_SAVE_BEFORE_COMMIT ? 2 : PER_ITERATION;
    }

    @ParameterizedTest
    @EnumSource(value = FaultPoint.class, names = {"AFTER_STEP_BEFORE_SAVE", "AFTER_SAVE_BEFORE_COMMIT",
            "AFTER_VERSION_BEFORE_EVENT", "AFTER_EVENT_BEFORE_COMMIT", "DURING_VERSION_WRITE"})
    void aTrainerHaltedInACrashWindowEndsAsIfNothingHappened(FaultPoint point, @TempDir Path dir) throws Exception {
        TrainerServiceIT.Run run = new TrainerServiceIT.Run("durable", dir, PER_ITERATION, EXAMPLES);
        Map<String, String> faulty = new HashMap<>(run.properties(EVERY_TWO_STEPS));
        faulty.put("steer.trainer.fault-point", point.name());
        faulty.put("steer.trainer.fault-at-step", Long.toString(stepOf(point)));
        List<CheckpointEvent> events = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = run.eventConsumer()) {
            TrainerProcess first = TrainerProcess.start(faulty, log(point + "-halted.log"));
            run.publishIteration(0, 0, null);
            assertTrue(first.process.waitFor(120, TimeUnit.SECONDS), "the trainer should halt at " + point);
            assertEquals(TrainingLoop.FAULT_EXIT_STATUS, first.process.exitValue(), first.logText());
            first.close();
            try (TrainerProcess second = TrainerProcess.start(run.properties(EVERY_TWO_STEPS),
                    log(point + "-restarted.log"))) {
                events.addAll(awaitVersion(consumer, 1));
                run.publishIteration(1, 1, null);
                events.addAll(awaitVersion(consumer, 2));
                TrainerStatus s = awaitStatus(second, st -> st.getStep() == 2L * PER_ITERATION
                        && st.getConsumerLag() == 0);
                assertEquals(0, s.getBatchesDuplicate(), "the restart sought to the saved offsets, not the group's"
                        + " commit: nothing trained and saved was delivered again");
                assertEquals(2, s.getCheckpointVersion());
            }
        }
        // every batch once, in order, and the step count is the batch count
        JsonNode state = TrainerServiceIT.JSON.readTree(TrainerCheckpoint.latest(run.runState()).orElseThrow()
                .resolve(TrainerCheckpoint.STATE_FILE).toFile());
        assertEquals(2L * PER_ITERATION, state.get("step").asLong());
        assertEquals(run.sentIds, trainedIds(run));
        // each version announced (a window after the save may announce one twice, identically), none half-trained
        CheckpointStore store = new CheckpointStore(run.store);
        assertEquals(List.of(1L, 2L), store.versions("durable"));
        assertEquals(Set.of(1L, 2L), new TreeSet<>(events.stream().map(CheckpointEvent::getVersion).toList()));
        for (CheckpointEvent e : events) {
            assertEquals(e.getVersion() * PER_ITERATION, e.getStep(), e.toString());
            assertEquals(e.getVersion() - 1, e.getIteration(), e.toString());
        }
        assertSameWeights(reference, "durable", store, "durable", 2);
        System.out.printf("%s at step %d: %d checkpoint events for 2 versions, weights identical%n", point,
                stepOf(point), events.size());
    }

    @Test
    void aBatchThatFailsThreeTimesIsDeadLetteredWithTheExceptionAndTheLoopGoesOn(@TempDir Path dir)
            throws Exception {
        TrainerServiceIT.Run run = new TrainerServiceIT.Run("poison", dir, PER_ITERATION, EXAMPLES);
        Map<String, String> props = new HashMap<>(run.properties(EVERY_TWO_STEPS));
        props.put("steer.trainer.fault-point", "TRAIN_FAILS");
        props.put("steer.trainer.fault-batch-id", "poison-it0-b1");
        try (TrainerProcess trainer = TrainerProcess.start(props, log("poison.log"))) {
            run.publishIteration(0, 0, null);
            ConsumerRecord<String, byte[]> dead = run.deadLetters(1).get(0);
            assertEquals("poison-it0-b1", dead.key());
            String reason = new String(dead.headers().lastHeader(TrainingLoop.REASON_HEADER).value(),
                    StandardCharsets.UTF_8);
            assertTrue(reason.contains("failed to train 3 times") && reason.contains("injected training failure"),
                    reason);
            TrainerStatus s = awaitStatus(trainer, st -> st.getStep() == 2 && st.getConsumerLag() == 0);
            assertEquals(2, s.getBatchesTrained());
            assertEquals(200, trainer.httpGet("/q/health/live").statusCode());
            assertEquals(200, trainer.httpGet("/q/health/ready").statusCode());
            String metrics = trainer.httpGet("/q/metrics").body();
            assertTrue(metrics.contains("steer_trainer_train_failures_total 3.0"), metrics);
            assertTrue(metrics.contains("steer_trainer_batches_failed_total 1.0"), metrics);
        }
        // the batch before the poison one was unsaved at each failure, so each reset replayed it: still once
        assertEquals(List.of("poison-it0-b0", "poison-it0-b2"), trainedIds(run));
    }

    @Test
    void requestCheckpointNeedsTheAdminKeyAndWritesASnapshotOutsideTheVersionSequence(@TempDir Path dir)
            throws Exception {
        TrainerServiceIT.Run run = new TrainerServiceIT.Run("snap", dir, PER_ITERATION, EXAMPLES);
        Map<String, String> props = new HashMap<>(run.properties(EVERY_TWO_STEPS));
        props.put("steer.trainer.admin-key", "s3cret");
        try (TrainerProcess trainer = TrainerProcess.start(props, log("snapshot.log"));
             KafkaConsumer<String, byte[]> events = run.eventConsumer()) {
            run.publishIteration(0, 0, null);
            assertEquals(1, awaitEvents(events, 1).get(0).getVersion());
            run.publishBatch(1, 0, 1, null);
            awaitStatus(trainer, st -> st.getStep() == PER_ITERATION + 1 && st.getConsumerLag() == 0);

            CheckpointRequest request = CheckpointRequest.newBuilder().setReason("export").build();
            StatusRuntimeException none = assertThrows(StatusRuntimeException.class,
                    () -> trainer.stub().requestCheckpoint(request));
            assertEquals(io.grpc.Status.Code.UNAUTHENTICATED, none.getStatus().getCode());
            StatusRuntimeException wrong = assertThrows(StatusRuntimeException.class,
                    () -> trainer.stub("guess").requestCheckpoint(request));
            assertEquals(io.grpc.Status.Code.PERMISSION_DENIED, wrong.getStatus().getCode());
            assertEquals(PER_ITERATION + 1, trainer.stub().status(TrainerStatusRequest.getDefaultInstance())
                    .getStep(), "Status needs no key");

            CheckpointResponse snap = trainer.stub("s3cret").requestCheckpoint(request);
            assertEquals(1, snap.getVersion(), "the version it follows");
            assertEquals(PER_ITERATION + 1, snap.getStep());
            assertEquals(1, snap.getIteration());
            assertTrue(Path.of(snap.getLocation()).startsWith(run.store.resolve("snap").resolve("snapshots")),
                    snap.getLocation());
            assertEquals(List.of(), pollEvents(events, Duration.ofSeconds(2)), "a snapshot is announced to no one");
            assertEquals(List.of(1L), new CheckpointStore(run.store).versions("snap"));

            // the mid-iteration snapshot took nothing from the iteration: its version is the next one, at its end
            run.publishBatch(1, 1, 1, null);
            run.publishBatch(1, 2, 1, null);
            CheckpointEvent v2 = awaitEvents(events, 1).get(0);
            assertEquals(2, v2.getVersion());
            assertEquals(1, v2.getIteration());
            assertEquals(2L * PER_ITERATION, v2.getStep());
        }
    }

    @Test
    void aPairBatchTopicWithTwoPartitionsIsRefusedAndLivenessTurnsDown(@TempDir Path dir) throws Exception {
        TrainerServiceIT.Run run = new TrainerServiceIT.Run("split", dir, PER_ITERATION, EXAMPLES);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                TrainerServiceIT.broker.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(run.prefix + ".batches", 2, (short) 1))).all().get(30,
                    TimeUnit.SECONDS);
        }
        try (TrainerProcess trainer = TrainerProcess.launch(run.properties(EVERY_TWO_STEPS), log("partitions.log"))) {
            HttpResponse<String> live = null;
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (System.nanoTime() < deadline) {
                live = trainer.httpGet("/q/health/live");
                if (live != null && live.statusCode() == 503) {
                    break;
                }
                Thread.sleep(200);
            }
            assertEquals(503, live == null ? -1 : live.statusCode(), trainer.logText());
            assertTrue(live.body().contains("has 2 partitions; the trainer needs exactly 1"), live.body());
            assertEquals(503, trainer.httpGet("/q/health/ready").statusCode());
        }
    }

    /** Events until one of {@code version} arrives (a re-announced earlier version may come first). */
    static List<CheckpointEvent> awaitVersion(KafkaConsumer<String, byte[]> consumer, long version) throws Exception {
        List<CheckpointEvent> out = new ArrayList<>();
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (System.nanoTime() < deadline && out.stream().noneMatch(e -> e.getVersion() == version)) {
            for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                out.add(CheckpointEvent.parseFrom(r.value()));
            }
        }
        assertTrue(out.stream().anyMatch(e -> e.getVersion() == version), "no event of version " + version + ": "
                + out);
        return out;
    }
}
