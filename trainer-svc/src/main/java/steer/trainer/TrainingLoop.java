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
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.StreamSupport;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jboss.logging.Logger;
import steer.checkpoint.HfConfigJson;
import steer.proto.v1.CheckpointEvent;
import steer.proto.v1.PairBatch;
import steer.store.StoredCheckpoint;
import steer.tokenizer.Tokenizer;
import steer.train.ExampleEncoder;
import steer.train.OnlineTrainer;

/**
 * The Kafka side of the trainer: one thread owns the consumer, the producer and the model, and for each pair
 * batch record trains, makes the result durable, then commits.
 *
 * <p>Delivery: auto-commit is off and one record is handled at a time ({@code max.poll.records=1}). For each
 * record: train (or skip a known batch id, or refuse), publish the checkpoint event if the step completed an
 * iteration, save the trainer state, and only then commit the record's offset + 1. A crash before the save
 * replays the record from the last saved state (the same step again); a crash between save and commit
 * redelivers a batch whose id the state already holds, which is skipped. So every batch takes effect exactly
 * once, while checkpoint events are at least once (a consumer must key them by version).
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

    private final ConcurrentLinkedQueue<CheckpointRequest> checkpointRequests = new ConcurrentLinkedQueue<>();
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
     * Queues a checkpoint of a run's policy ({@code runId} null: the run of the last trained batch); completed by
     * the loop thread between records.
     */
    CompletableFuture<StoredCheckpoint> requestCheckpoint(String runId) {
        CompletableFuture<StoredCheckpoint> f = new CompletableFuture<>();
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
            OnlineTrainer.Settings settings = config.settings();
            tokenizer = Tokenizer.load(settings.baseModel());
            ExampleEncoder encoder = ExampleEncoder.forModel(tokenizer,
                    HfConfigJson.read(settings.baseModel().resolve(HfConfigJson.FILE_NAME)));
            trainer = OnlineTrainer.open(settings);
            OnlineTrainer.Status s = trainer.status();
            LOG.infof("trainer state read: %d runs %s; last trained run %s at step %d, checkpoint version %d; models"
                    + " load on their run's next batch, at most %d in memory", trainer.runs().size(),
                    trainer.runs().stream().map(r -> r.runId() + "@" + r.step()).toList(), s.runId(), s.step(),
                    s.checkpointVersion(), settings.maxLoadedRuns());
            producer = new KafkaProducer<>(producerConfig(), new StringSerializer(), new ByteArraySerializer());
            c = new KafkaConsumer<>(consumerConfig(), new StringDeserializer(), new ByteArrayDeserializer());
            consumer = c;
            c.subscribe(List.of(config.batchTopic()), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    // nothing buffered: every handled record was committed before the next poll
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    assigned = true;
                    LOG.infof("assigned %s", partitions);
                }
            });
            while (!closed) {
                serveCheckpointRequests(producer);
                for (ConsumerRecord<String, byte[]> record : c.poll(POLL)) {
                    handle(record, encoder, producer, c);
                }
                updateLag(c);
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

    private void fail(Throwable e) {
        failure = e.toString();
        LOG.error("the training loop stopped; nothing after the last committed batch is lost, restart to resume", e);
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
            commit(c, record);
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
            OnlineTrainer.Outcome outcome = trainer.train(batch);
            if (trainer.modelLoads() != loadsBefore) {
                span.setAttribute("steer.model_loaded", true);
                LOG.infof("run %s: model loaded for batch %s; in memory: %s", batch.runId(), batch.batchId(),
                        trainer.runs().stream().filter(OnlineTrainer.Status::loaded).map(OnlineTrainer.Status::runId)
                                .toList());
            }
            if (outcome instanceof OnlineTrainer.Trained trained) {
                span.setAttribute("steer.loss", trained.step().loss());
                if (trained.checkpoint().isPresent()) {
                    publish(producer, trained.checkpoint().get());
                }
                long saveStart = System.nanoTime();
                trainer.saveState();
                long end = System.nanoTime();
                trainedCounter.increment();
                stepTimer.record(end - start, TimeUnit.NANOSECONDS);
                saveTimer.record(end - saveStart, TimeUnit.NANOSECONDS);
                LOG.infof("run %s iteration %d: trained batch %s (%d/%d) as step %d, loss %.4f; step %.0f ms, state"
                        + " save %.0f ms", batch.runId(), batch.iteration(), batch.batchId(), batch.batchIndex() + 1,
                        batch.batchesInIteration(), trained.step().step(), trained.step().loss(),
                        (saveStart - start) / 1e6, (end - saveStart) / 1e6);
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
            commit(c, record);
        } catch (RuntimeException e) {
            span.recordException(e);
            span.setStatus(StatusCode.ERROR, e.getMessage());
            throw e;
        } finally {
            span.setAttribute("steer.step", trainer.status().step());
            span.end();
        }
    }

    private void serveCheckpointRequests(KafkaProducer<String, byte[]> producer) {
        CheckpointRequest request;
        while ((request = checkpointRequests.poll()) != null) {
            try {
                StoredCheckpoint c = request.runId() == null ? trainer.checkpointNow()
                        : trainer.checkpointNow(request.runId());
                publish(producer, c);
                trainer.saveState();
                request.result().complete(c);
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
        out.headers().add(REASON_HEADER, reason.getBytes(StandardCharsets.UTF_8));
        try {
            producer.send(out).get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("publishing to the dead-letter topic " + config.deadLetterTopic() + ": "
                    + e, e);
        }
    }

    /** The committed offset is the next record to read: this one's offset + 1 (KafkaConsumer Javadoc). */
    private static void commit(KafkaConsumer<String, byte[]> c, ConsumerRecord<String, byte[]> record) {
        c.commitSync(Map.of(new TopicPartition(record.topic(), record.partition()),
                new OffsetAndMetadata(record.offset() + 1)));
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
                config.groupInstanceId());
    }

    private Properties producerConfig() {
        return KafkaClientSettings.producer(kafka, config.bootstrapServers());
    }

    /** A checkpoint asked for over gRPC, answered by the loop thread. */
    private record CheckpointRequest(String runId, CompletableFuture<StoredCheckpoint> result) {
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
