package steer.trainer;

import com.google.protobuf.InvalidProtocolBufferException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.common.annotation.Identifier;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.StreamSupport;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jboss.logging.Logger;
import steer.checkpoint.CheckpointException;
import steer.checkpoint.HfConfigJson;
import steer.proto.RecordSizes;
import steer.proto.TopicLimits;
import steer.proto.v1.CheckpointEvent;
import steer.proto.v1.PairBatch;
import steer.store.CheckpointStore;
import steer.store.StoredCheckpoint;
import steer.store.StoredSnapshot;
import steer.store.VersionConflictException;
import steer.tokenizer.Tokenizer;
import steer.train.ExampleEncoder;
import steer.train.OnlineTrainer;

/**
 * The Kafka side of the trainer: one thread owns the consumer, the producer and the model, and trains pair batch
 * records as a stream processor does, with its state checkpointed every few steps.
 *
 * <p>Delivery: auto-commit is off and one record is handled at a time ({@code max.poll.records=1}). Each record is
 * trained (or skipped as a known batch id, or refused) in memory. Every {@code save-every-steps} steps, or
 * {@code save-every-seconds}, or at an iteration's end, the trainer state is saved together with the consumed
 * offsets (the next offset per partition), and only then are the offsets committed. On start and on every
 * assignment the consumer seeks to the saved offsets: the group's commit is only a hint (for a trainer with no
 * state yet). A crash between saves replays the unsaved records from the saved state, which computes the same
 * steps again (CPU steps are deterministic); a record replayed after a save is a batch id the state holds, which
 * is skipped. So every batch's update is applied exactly once in the state that survives. A replay costs the
 * unsaved steps again (at most save-every-steps steps, or save-every-seconds of training) plus one state load.
 *
 * <p>Iteration ends: the step that completes an iteration writes its version (the library verifies a version a
 * replay finds in the store before it reuses it), the state that records it is saved, the checkpoint event is
 * published, then the offsets are committed. A version saved but not announced (a crash before or while
 * publishing) is announced again on restart: events are at least once, and identical (a consumer keys them by
 * run and version). RequestCheckpoint writes a snapshot outside the version sequence and announces nothing.
 *
 * <p>Failures: a batch whose training throws resets the trainer to its saved state (the failed step may have
 * changed weights half-way) and replays from the saved offsets; after {@code max-train-attempts} failures it is
 * dead-lettered with the exception in its reason header and the loop goes on. Storage failures (reading or writing
 * state and versions, a version conflict) are no batch's fault and, like anything else outside training, stop the
 * loop, which turns liveness DOWN so that Kubernetes restarts the pod, and the restart resumes from the saved state.
 *
 * <p>Partitions: the pair-batch topic must have exactly one partition (one trainer, batches in publishing order,
 * an iteration's last batch after its others); the loop refuses to start on any other, with the count in the
 * failure that readiness and liveness report.
 *
 * <p>Runs: the trainer serves every run whose batches arrive (or only {@code steer.trainer.run-id}), each with
 * its own state; batches of several runs may interleave on the topic. The library keeps the models of the
 * {@code max-loaded-runs} most recently trained runs in memory and loads the others on demand.
 *
 * <p>Records the trainer cannot use (unparseable, invalid, stale, another run) go to the dead-letter topic with
 * a {@code steer-reason} header and are committed: replaying them would never succeed.
 *
 * <p>Threads: the consumer is not thread-safe, and DJL's grad mode is per thread, so checkpoint requests from
 * gRPC are queued to this thread; a short poll timeout keeps their latency low. Shutdown: a flag plus
 * {@code wakeup()}, with the clients closed in {@code finally}.
 */
@ApplicationScoped
public class TrainingLoop {

    private static final Logger LOG = Logger.getLogger(TrainingLoop.class);
    private static final Duration POLL = Duration.ofMillis(100);
    static final String REASON_HEADER = "steer-reason";

    @Inject
    TrainerConfig config;
    @Inject
    MeterRegistry registry;
    @Inject
    OpenTelemetry openTelemetry;
    /** The deployment's {@code kafka.*} settings (security, TLS, SASL), shared by the trainer's clients. */
    @Inject
    @Identifier("default-kafka-broker")
    Map<String, Object> kafka;

    /** The exit status of a process halted at a fault point. */
    static final int FAULT_EXIT_STATUS = 86;

    private final ConcurrentLinkedQueue<CheckpointRequest> checkpointRequests = new ConcurrentLinkedQueue<>();
    /** Per partition, the offset after the last record handled: what the next save records. */
    private final Map<TopicPartition, Long> position = new HashMap<>();
    /** Training failures per record ({@code topic-partition@offset}) and the last one's exception. */
    private final Map<String, Integer> failures = new HashMap<>();
    private final Map<String, String> lastFailure = new HashMap<>();
    private OnlineTrainer.Settings settings;
    private int unsavedSteps;
    private boolean positionMoved;
    private long lastSaveNanos = System.nanoTime();
    private volatile boolean started;
    private final AtomicLong consumerLag = new AtomicLong();
    private volatile OnlineTrainer trainer;
    private volatile boolean assigned;
    private volatile boolean closed;
    private volatile String failure;
    private volatile KafkaConsumer<String, byte[]> consumer;
    private Thread thread;
    private Tracer tracer;
    private Timer stepTimer;
    private Timer saveTimer;
    private Counter trainedCounter;
    private Counter duplicateCounter;
    private Counter staleCounter;
    private Counter invalidCounter;
    private Counter failedCounter;
    private Counter deadLetteredFailedCounter;

    void onStart(@Observes StartupEvent event) {
        // DJL must never reach for its download server, and small models are op-bound: one intra-op thread
        // unless the deployment says otherwise with -D
        System.getProperties().putIfAbsent("ai.djl.offline", "true");
        System.getProperties().putIfAbsent("ai.djl.pytorch.num_threads", "1");
        tracer = openTelemetry.getTracer("steer.trainer");
        stepTimer = Timer.builder("steer.trainer.step").description("wall time of one optimizer step, save included")
                .register(registry);
        saveTimer = Timer.builder("steer.trainer.state.save")
                .description("wall time of making a step durable (weights, moments, trained ids)").register(registry);
        trainedCounter = Counter.builder("steer.trainer.batches.trained").register(registry);
        duplicateCounter = Counter.builder("steer.trainer.batches.duplicate")
                .description("deliveries skipped because their batch id was trained before").register(registry);
        staleCounter = Counter.builder("steer.trainer.batches.stale")
                .description("batches refused: policy older than max-policy-staleness allows").register(registry);
        invalidCounter = Counter.builder("steer.trainer.batches.invalid")
                .description("records refused as unparseable, invalid or of another run").register(registry);
        failedCounter = Counter.builder("steer.trainer.train.failures")
                .description("attempts to train a batch that threw; each resets to the saved state").register(registry);
        deadLetteredFailedCounter = Counter.builder("steer.trainer.batches.failed")
                .description("batches dead-lettered after max-train-attempts failures").register(registry);
        Gauge.builder("steer.trainer.loss", this, l -> l.lastMetric("loss")).register(registry);
        Gauge.builder("steer.trainer.consumer.lag", consumerLag, AtomicLong::get).baseUnit("records")
                .register(registry);
        Gauge.builder("steer.trainer.checkpoint.version", this, l -> l.trainer == null ? 0
                : l.trainer.status().checkpointVersion()).register(registry);
        FunctionCounter.builder("steer.trainer.model.loads", this, l -> l.trainer == null ? 0 : l.trainer.modelLoads())
                .description("runs' models loaded into memory: a run's first batch here, or a switch back to a run"
                        + " that was unloaded").register(registry);
        Gauge.builder("steer.trainer.runs", this, l -> l.runs().size())
                .description("runs with state in this trainer").register(registry);
        thread = new Thread(this::run, "trainer-loop");
        thread.start();
        started = true;
    }

    void onStop(@Observes ShutdownEvent event) throws InterruptedException {
        closed = true;
        KafkaConsumer<String, byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        if (thread != null) {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        }
    }

    /** Ready once every run's ledger is read (models load per run, on demand) and the consumer has its partitions. */
    boolean ready() {
        return trainer != null && assigned && failure == null;
    }

    /**
     * Whether the loop runs (or is still starting): false once its thread has ended for any reason but a shutdown,
     * so liveness turns DOWN and the pod is restarted.
     */
    boolean alive() {
        Thread t = thread;
        return closed || (failure == null && (!started || (t != null && t.isAlive())));
    }

    /** Why the loop stopped, if it did. */
    String failure() {
        return failure;
    }

    /** The trainer's status, or null while it loads. */
    OnlineTrainer.Status status() {
        OnlineTrainer t = trainer;
        return t == null ? null : t.status();
    }

    long consumerLag() {
        return consumerLag.get();
    }

    /** Every run the trainer knows, by run id; empty while it loads. */
    List<OnlineTrainer.Status> runs() {
        OnlineTrainer t = trainer;
        return t == null ? List.of() : t.runs();
    }

    /**
     * Queues a snapshot of a run's policy ({@code runId} null: the run of the last trained batch), outside the run's
     * version sequence; completed by the loop thread between records.
     */
    CompletableFuture<StoredSnapshot> requestCheckpoint(String runId) {
        CompletableFuture<StoredSnapshot> f = new CompletableFuture<>();
        if (trainer == null || failure != null) {
            f.completeExceptionally(new IllegalStateException(failure != null ? "the training loop stopped: " + failure
                    : "the trainer is still loading its model"));
            return f;
        }
        checkpointRequests.add(new CheckpointRequest(runId, f));
        return f;
    }

    private double lastMetric(String name) {
        OnlineTrainer.Status s = status();
        Double v = s == null ? null : s.lastMetrics().get(name);
        return v == null ? Double.NaN : v;
    }

    private void run() {
        Tokenizer tokenizer = null;
        KafkaProducer<String, byte[]> producer = null;
        KafkaConsumer<String, byte[]> c = null;
        try {
            FaultPoint fault = config.faultPoint().orElse(null);
            CheckpointStore store = fault == FaultPoint.DURING_VERSION_WRITE
                    ? new CheckpointStore(config.storeRoot(), (run, version, step) ->
                    faultAt(FaultPoint.DURING_VERSION_WRITE, step))
                    : new CheckpointStore(config.storeRoot());
            settings = config.settings(store);
            tokenizer = Tokenizer.load(settings.baseModel());
            ExampleEncoder encoder = ExampleEncoder.forModel(tokenizer,
                    HfConfigJson.read(settings.baseModel().resolve(HfConfigJson.FILE_NAME)));
            trainer = OnlineTrainer.open(settings);
            restorePosition();
            OnlineTrainer.Status s = trainer.status();
            LOG.infof("trainer state read: %d runs %s; last trained run %s at step %d, checkpoint version %d; saved"
                    + " offsets %s; models load on their run's next batch, at most %d in memory",
                    trainer.runs().size(), trainer.runs().stream().map(r -> r.runId() + "@" + r.step()).toList(),
                    s.runId(), s.step(), s.checkpointVersion(), trainer.position(), settings.maxLoadedRuns());
            producer = new KafkaProducer<>(producerConfig(), new StringSerializer(), new ByteArraySerializer());
            c = new KafkaConsumer<>(consumerConfig(), new StringDeserializer(), new ByteArrayDeserializer());
            consumer = c;
            requireOnePartition(c);
            // a batch the topics cannot hold would fail only when it comes; refuse the mismatch now
            TopicLimits.requireAccepted(KafkaClientSettings.admin(kafka, config.bootstrapServers()),
                    List.of(config.batchTopic(), config.deadLetterTopic()), config.maxMessageBytes(),
                    Duration.ofSeconds(30));
            KafkaConsumer<String, byte[]> subscribed = c;
            c.subscribe(List.of(config.batchTopic()), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    // give nothing up unsaved: whoever takes the partitions resumes from the saved offsets
                    if (trainer != null && failure == null && (unsavedSteps > 0 || positionMoved)) {
                        save(subscribed);
                    }
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    seekToSaved(subscribed, partitions);
                    assigned = true;
                    LOG.infof("assigned %s", partitions);
                }
            });
            announceSaved(producer);
            while (!closed) {
                serveCheckpointRequests();
                ConsumerRecords<String, byte[]> records;
                try {
                    records = c.poll(POLL);
                } catch (WakeupException e) {
                    if (closed) {
                        break;
                    }
                    throw e;
                }
                for (ConsumerRecord<String, byte[]> record : records) {
                    handle(record, encoder, producer, c);
                }
                if ((unsavedSteps > 0 || positionMoved) && System.nanoTime() - lastSaveNanos
                        >= TimeUnit.SECONDS.toNanos(config.saveEverySeconds())) {
                    save(c);
                }
                updateLag(c);
            }
            if (unsavedSteps > 0 || positionMoved) {
                save(c); // a clean stop leaves nothing to replay
            }
        } catch (WakeupException e) {
            if (!closed) {
                fail(e);
            }
        } catch (RuntimeException | Error e) {
            fail(e);
        } finally {
            CheckpointRequest pending;
            while ((pending = checkpointRequests.poll()) != null) {
                pending.result().completeExceptionally(new IllegalStateException("the trainer is stopping"));
            }
            if (c != null) {
                c.close(Duration.ofSeconds(5));
            }
            if (producer != null) {
                producer.close(Duration.ofSeconds(5));
            }
            if (trainer != null) {
                trainer.close();
            }
            if (tokenizer != null) {
                tokenizer.close();
            }
        }
    }

    /**
     * One trainer consumes the pair batches in publishing order, so their topic has one partition. A topic with more
     * would spread an iteration's batches over partitions read in no defined order; refuse it before consuming.
     */
    private void requireOnePartition(KafkaConsumer<String, byte[]> c) {
        List<PartitionInfo> partitions = c.partitionsFor(config.batchTopic(), Duration.ofSeconds(30));
        if (partitions != null && partitions.size() > 1) {
            throw new IllegalStateException("the pair-batch topic " + config.batchTopic() + " has "
                    + partitions.size() + " partitions; the trainer needs exactly 1 (one trainer reads every batch, in"
                    + " publishing order): recreate the topic with one partition (k8s/optional/strimzi-topics.yaml)"
                    + " or point steer.trainer.batch-topic at one that has");
        }
    }

    /** The position the trainer state records, as the loop's own. */
    private void restorePosition() {
        position.clear();
        trainer.position().forEach((key, offset) -> {
            int dash = key.lastIndexOf('-');
            position.put(new TopicPartition(key.substring(0, dash), Integer.parseInt(key.substring(dash + 1))), offset);
        });
        unsavedSteps = 0;
        positionMoved = false;
        lastSaveNanos = System.nanoTime();
    }

    /**
     * Seeks each partition to the offset the trainer state saved; one the state does not know resumes from the
     * group's commit, or the beginning (a trainer with no state trains the topic from its start).
     */
    private void seekToSaved(KafkaConsumer<String, byte[]> c, Collection<TopicPartition> partitions) {
        Map<TopicPartition, OffsetAndMetadata> committed = null;
        for (TopicPartition tp : partitions) {
            Long saved = position.get(tp);
            if (saved != null) {
                c.seek(tp, saved);
                continue;
            }
            if (committed == null) {
                committed = c.committed(Set.copyOf(partitions), Duration.ofSeconds(30));
            }
            OffsetAndMetadata hint = committed.get(tp);
            if (hint != null) {
                c.seek(tp, hint.offset());
            } else {
                c.seekToBeginning(List.of(tp));
            }
        }
    }

    /**
     * Saves the trainer state with the consumed offsets, then commits them. The commit is a hint for monitoring and
     * for a trainer that loses its state directory; the saved offsets are what a restart seeks to.
     */
    private void save(KafkaConsumer<String, byte[]> c) {
        long step = trainer.status().step();
        persist();
        faultAt(FaultPoint.AFTER_SAVE_BEFORE_COMMIT, step);
        commit(c);
    }

    private void persist() {
        long t0 = System.nanoTime();
        Map<String, Long> saved = new HashMap<>();
        position.forEach((tp, offset) -> saved.put(tp.toString(), offset));
        trainer.saveState(saved);
        saveTimer.record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
        unsavedSteps = 0;
        positionMoved = false;
        lastSaveNanos = System.nanoTime();
    }

    /**
     * Commits the saved offsets to the group. Only a hint (the state holds the offsets a restart seeks to), so a
     * commit the group refuses (a rebalance, a member dropped after max.poll.interval.ms) is logged, not fatal.
     */
    private void commit(KafkaConsumer<String, byte[]> c) {
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        position.forEach((tp, offset) -> offsets.put(tp, new OffsetAndMetadata(offset)));
        if (offsets.isEmpty()) {
            return;
        }
        try {
            c.commitSync(offsets);
        } catch (CommitFailedException | RebalanceInProgressException e) {
            LOG.warnf("committing %s to the group failed (%s); the saved state holds them, so nothing is lost",
                    offsets, e.toString());
        }
    }

    /** Publishes every version a save recorded but no event announced yet (after a crash: again). */
    private void announceSaved(KafkaProducer<String, byte[]> producer) {
        for (StoredCheckpoint v : trainer.unannounced()) {
            publish(producer, v);
            trainer.markAnnounced(v.runId(), v.version());
        }
    }

    /**
     * Throws away everything since the last save and replays from its offsets: the trainer is reopened from its
     * state directory and the consumer sought back.
     */
    private void resetToSaved(KafkaConsumer<String, byte[]> c) {
        trainer.close();
        trainer = OnlineTrainer.open(settings);
        restorePosition();
        seekToSaved(c, c.assignment());
    }

    /** Halts the process, as a kill would, if {@code point} is the configured fault and the run is at its step. */
    private void faultAt(FaultPoint point, long step) {
        if (config.faultPoint().orElse(null) == point && step >= config.faultAtStep()) {
            System.err.printf("steer.trainer.fault-point=%s reached at step %d: halting%n", point, step);
            System.err.flush();
            Runtime.getRuntime().halt(FAULT_EXIT_STATUS);
        }
    }

    private void fail(Throwable e) {
        failure = e.toString();
        LOG.error("the training loop stopped (liveness is DOWN); nothing saved is lost: a restart resumes from the"
                + " saved state and offsets", e);
    }

    private void handle(ConsumerRecord<String, byte[]> record, ExampleEncoder encoder,
                        KafkaProducer<String, byte[]> producer, KafkaConsumer<String, byte[]> c) {
        OnlineTrainer.Batch batch;
        try {
            batch = PairBatches.toBatch(PairBatch.parseFrom(record.value()), encoder);
        } catch (InvalidProtocolBufferException | IllegalArgumentException e) {
            String reason = (e instanceof InvalidProtocolBufferException ? "not a PairBatch: " : "invalid batch: ")
                    + e.getMessage();
            LOG.warnf("record %s-%d@%d (key %s) refused: %s", record.topic(), record.partition(), record.offset(),
                    record.key(), reason);
            invalidCounter.increment();
            deadLetter(producer, record, reason);
            handled(record);
            return;
        }
        String key = record.topic() + "-" + record.partition() + "@" + record.offset();
        int failed = failures.getOrDefault(key, 0);
        if (failed >= config.maxTrainAttempts()) {
            String reason = "failed to train " + failed + " times: " + lastFailure.get(key);
            LOG.errorf("run %s: batch %s (%s) dead-lettered: %s", batch.runId(), batch.batchId(), key, reason);
            deadLetteredFailedCounter.increment();
            deadLetter(producer, record, reason);
            failures.remove(key);
            lastFailure.remove(key);
            handled(record);
            return;
        }
        Context parent = openTelemetry.getPropagators().getTextMapPropagator()
                .extract(Context.root(), record.headers(), HEADERS);
        Span span = tracer.spanBuilder("trainer.step").setParent(parent).setSpanKind(SpanKind.CONSUMER)
                .setAttribute("steer.run_id", batch.runId())
                .setAttribute("steer.iteration", (long) batch.iteration())
                .setAttribute("steer.batch_id", batch.batchId())
                .setAttribute("messaging.kafka.offset", record.offset())
                .startSpan();
        long start = System.nanoTime();
        try (Scope ignored = span.makeCurrent()) {
            long loadsBefore = trainer.modelLoads();
            OnlineTrainer.Outcome outcome;
            try {
                outcome = train(batch);
            } catch (VersionConflictException | CheckpointException | UncheckedIOException e) {
                // the store and the state disagree, or the disk fails: not this batch's fault, and dead-lettering
                // batch after batch would drain the topic; stop, so the pod restarts and someone looks
                throw e;
            } catch (RuntimeException e) {
                failures.merge(key, 1, Integer::sum);
                lastFailure.put(key, e.toString());
                failedCounter.increment();
                span.recordException(e);
                span.setStatus(StatusCode.ERROR, e.getMessage());
                LOG.errorf(e, "run %s: batch %s (%s) failed to train (attempt %d of %d); resetting to the saved state"
                        + " and replaying from its offsets %s", batch.runId(), batch.batchId(), key,
                        failures.get(key), config.maxTrainAttempts(), trainer.position());
                resetToSaved(c);
                return;
            }
            handled(record);
            if (trainer.modelLoads() != loadsBefore) {
                span.setAttribute("steer.model_loaded", true);
                LOG.infof("run %s: model loaded for batch %s; in memory: %s", batch.runId(), batch.batchId(),
                        trainer.runs().stream().filter(OnlineTrainer.Status::loaded).map(OnlineTrainer.Status::runId)
                                .toList());
            }
            if (outcome instanceof OnlineTrainer.Trained trained) {
                failures.remove(key);
                lastFailure.remove(key);
                long step = trained.step().step();
                span.setAttribute("steer.loss", trained.step().loss());
                unsavedSteps++;
                long stepEnd = System.nanoTime();
                faultAt(FaultPoint.AFTER_STEP_BEFORE_SAVE, step);
                boolean saved = false;
                if (trained.checkpoint().isPresent()) {
                    // the state that records the version is durable before anyone hears of the version
                    persist();
                    faultAt(FaultPoint.AFTER_VERSION_BEFORE_EVENT, step);
                    announceSaved(producer);
                    faultAt(FaultPoint.AFTER_EVENT_BEFORE_COMMIT, step);
                    commit(c);
                    saved = true;
                } else if (unsavedSteps >= config.saveEverySteps()) {
                    save(c);
                    saved = true;
                }
                long end = System.nanoTime();
                trainedCounter.increment();
                stepTimer.record(end - start, TimeUnit.NANOSECONDS);
                LOG.infof("run %s iteration %d: trained batch %s (%d/%d) as step %d, loss %.4f; step %.0f ms%s",
                        batch.runId(), batch.iteration(), batch.batchId(), batch.batchIndex() + 1,
                        batch.batchesInIteration(), step, trained.step().loss(), (stepEnd - start) / 1e6,
                        saved ? String.format(", state save %.0f ms", (end - stepEnd) / 1e6)
                                : ", " + unsavedSteps + " unsaved");
            } else if (outcome instanceof OnlineTrainer.Duplicate) {
                span.setAttribute("steer.outcome", "duplicate");
                duplicateCounter.increment();
                LOG.infof("run %s: batch %s delivered again (offset %d); trained before, skipped", batch.runId(),
                        batch.batchId(), record.offset());
            } else if (outcome instanceof OnlineTrainer.Refused refused) {
                span.setAttribute("steer.outcome", refused.kind().name().toLowerCase());
                (refused.kind() == OnlineTrainer.RefusalKind.STALE ? staleCounter : invalidCounter).increment();
                LOG.warnf("run %s: batch %s refused: %s", batch.runId(), batch.batchId(), refused.reason());
                deadLetter(producer, record, refused.reason());
            }
        } catch (RuntimeException e) {
            span.recordException(e);
            span.setStatus(StatusCode.ERROR, e.getMessage());
            throw e;
        } finally {
            span.setAttribute("steer.step", trainer.status().step());
            span.end();
        }
    }

    /** Trains a batch; TRAIN_FAILS makes the configured batch throw, as a poison batch would. */
    private OnlineTrainer.Outcome train(OnlineTrainer.Batch batch) {
        if (config.faultPoint().orElse(null) == FaultPoint.TRAIN_FAILS
                && batch.batchId().equals(config.faultBatchId().orElse(null))) {
            throw new IllegalStateException("injected training failure of batch " + batch.batchId()
                    + " (steer.trainer.fault-point=TRAIN_FAILS)");
        }
        return trainer.train(batch);
    }

    /** The record is done with (trained, skipped or dead-lettered): the next save's position passes it. */
    private void handled(ConsumerRecord<String, byte[]> record) {
        position.put(new TopicPartition(record.topic(), record.partition()), record.offset() + 1);
        positionMoved = true;
    }

    /** Snapshots are written outside the version sequence and announced to no one; the run's state is unchanged. */
    private void serveCheckpointRequests() {
        CheckpointRequest request;
        while ((request = checkpointRequests.poll()) != null) {
            try {
                StoredSnapshot s = request.runId() == null ? trainer.snapshot() : trainer.snapshot(request.runId());
                LOG.infof("run %s: snapshot at step %d (iteration %d, after version %d) at %s, on request", s.runId(),
                        s.step(), s.iteration(), s.basedOnVersion(), s.location());
                request.result().complete(s);
            } catch (RuntimeException e) {
                request.result().completeExceptionally(e);
            }
        }
    }

    /** Synchronous: the event is on the broker before the state that records the version is saved. */
    private void publish(KafkaProducer<String, byte[]> producer, StoredCheckpoint c) {
        CheckpointEvent event = CheckpointEvent.newBuilder().setSchemaVersion(1).setRunId(c.runId())
                .setIteration(c.iteration()).setVersion(c.version()).setLocation(c.location().toString())
                .setStep(c.step()).putAllMetrics(c.metrics()).setCreatedUnixMs(c.createdUnixMs()).build();
        try {
            producer.send(new ProducerRecord<>(config.checkpointTopic(), c.runId(), event.toByteArray())).get(30,
                    TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("publishing checkpoint event version " + c.version() + ": " + e, e);
        }
        LOG.infof("run %s: checkpoint version %d (iteration %d, step %d) at %s, metrics %s", c.runId(), c.version(),
                c.iteration(), c.step(), c.location(), c.metrics());
    }

    private void deadLetter(KafkaProducer<String, byte[]> producer, ConsumerRecord<String, byte[]> record,
                            String reason) {
        ProducerRecord<String, byte[]> out = new ProducerRecord<>(config.deadLetterTopic(), record.key(),
                record.value());
        out.headers().add(REASON_HEADER, reasonBytes(reason));
        try {
            producer.send(out).get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("publishing to the dead-letter topic " + config.deadLetterTopic() + ": "
                    + e, e);
        }
    }

    /** The reason in UTF-8, cut to {@link RecordSizes#MAX_REASON_BYTES} so a batch at the limit still fits. */
    static byte[] reasonBytes(String reason) {
        byte[] bytes = reason.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= RecordSizes.MAX_REASON_BYTES) {
            return bytes;
        }
        String cut = reason;
        while (cut.getBytes(StandardCharsets.UTF_8).length > RecordSizes.MAX_REASON_BYTES - 3) {
            cut = cut.substring(0, cut.length() * 9 / 10);
        }
        return (cut + "...").getBytes(StandardCharsets.UTF_8);
    }

    private void updateLag(KafkaConsumer<String, byte[]> c) {
        Set<TopicPartition> assignment = c.assignment();
        if (assignment.isEmpty()) {
            return;
        }
        Map<TopicPartition, Long> ends = c.endOffsets(assignment, Duration.ofSeconds(5));
        long lag = 0;
        for (TopicPartition tp : assignment) {
            lag += Math.max(0, ends.getOrDefault(tp, 0L) - c.position(tp, Duration.ofSeconds(5)));
        }
        consumerLag.set(lag);
    }

    private Properties consumerConfig() {
        return KafkaClientSettings.consumer(kafka, config.bootstrapServers(), config.groupId(),
                config.groupInstanceId(), config.maxPollInterval(), config.maxMessageBytes());
    }

    private Properties producerConfig() {
        return KafkaClientSettings.producer(kafka, config.bootstrapServers(), config.maxMessageBytes());
    }

    /** A checkpoint asked for over gRPC, answered by the loop thread. */
    private record CheckpointRequest(String runId, CompletableFuture<StoredSnapshot> result) {
    }

    /** Reads W3C trace context from record headers (last value wins, as HTTP's would). */
    private static final TextMapGetter<Headers> HEADERS = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Headers headers) {
            List<String> keys = new ArrayList<>();
            StreamSupport.stream(headers.spliterator(), false).map(Header::key).forEach(keys::add);
            return keys;
        }

        @Override
        public String get(Headers headers, String key) {
            Header h = headers == null ? null : headers.lastHeader(key);
            return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
        }
    };
}
