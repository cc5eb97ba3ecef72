package steer.serving.grpc;

import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.Optional;
import org.jboss.logging.Logger;
import steer.proto.v1.ListModelsRequest;
import steer.proto.v1.ListModelsResponse;
import steer.proto.v1.LoadModelRequest;
import steer.proto.v1.LoadModelResponse;
import steer.proto.v1.ModelInfo;
import steer.serving.InvalidFieldException;
import steer.model.LanguageModel;
import steer.serving.ModelRegistry;
import steer.serving.ServedModel;
import steer.serving.UnknownModelException;
import steer.serving.Validation;

/**
 * The models a serving service holds, and the calls about them that the Generator and Judge APIs share
 * (ListModels, LoadModel). The start model named by the config loads on its own thread, so the HTTP server
 * (health, metrics) is up at once; {@link StartModelReadiness} reports ready once it is served.
 *
 * <p>A service builds one instance in its model catalog bean and produces it as a bean for the readiness check.
 */
public final class ServedModels implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(ServedModels.class);

    private final ModelServingConfig config;
    private final String configPrefix;
    private final ModelRegistry registry;
    private volatile String startFailure;

    /**
     * @param config       the service's settings
     * @param configPrefix the prefix of the service's config keys ({@code steer.generator}), for messages
     */
    public ServedModels(ModelServingConfig config, String configPrefix) {
        this.config = config;
        this.configPrefix = configPrefix;
        steer.model.Placement placement;
        try {
            placement = config.placement();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(configPrefix + ".device / " + configPrefix + ".precision: "
                    + e.getMessage(), e);
        }
        this.registry = new ModelRegistry(config.allowedRoot(), budgetBytes(config.memoryBudgetMb(), configPrefix),
                dir -> LanguageModel.load(dir, placement));
    }

    /**
     * The memory budget in bytes.
     *
     * @throws IllegalArgumentException naming the key and the valid range, so a bad value fails startup
     */
    static long budgetBytes(long mib, String configPrefix) {
        long most = Long.MAX_VALUE >> 20;
        if (mib < 0 || mib > most) {
            throw new IllegalArgumentException(configPrefix + ".memory-budget-mb: " + mib + " is outside 0.." + most
                    + " (MiB of model weights served at once; 0 = unbounded)");
        }
        return mib << 20;
    }

    public ModelRegistry registry() {
        return registry;
    }

    /** The name requests with an empty model field get. */
    public String startModelName() {
        return config.modelName();
    }

    /**
     * The served model a request names.
     *
     * @param field     the request field, named in the error
     * @param requested the field's value; empty = the start model
     * @throws UnknownModelException if no model of that name is served
     */
    public ServedModel served(String field, String requested) {
        String name = requested.isEmpty() ? config.modelName() : requested;
        return registry.find(name).orElseThrow(() -> new UnknownModelException(field, name,
                registry.list().stream().map(ServedModel::name).toList()));
    }

    /** Starts loading the configured start model on a daemon thread; a failure is kept for readiness. */
    public void loadStartModel() {
        Optional<Path> location = config.modelLocation();
        if (location.isEmpty()) {
            startFailure = configPrefix + ".model-location is not set";
            LOG.warn(startFailure + "; serving nothing until LoadModel");
            return;
        }
        Thread loader = new Thread(() -> {
            try {
                var loaded = registry.loadConfigured(config.modelName(), config.modelVersion(), location.get());
                LOG.infof("serving %s version %d from %s (%d parameters, %d bytes; memory budget %s)",
                        loaded.model().name(), loaded.model().version(), loaded.model().location(),
                        loaded.model().parameters(), loaded.model().memoryBytes(),
                        registry.memoryBudgetBytes() == 0 ? "unbounded" : registry.memoryBudgetBytes() + " bytes");
            } catch (RuntimeException e) {
                startFailure = e.getMessage();
                LOG.error("cannot load the start model", e);
            }
        }, "start-model-loader");
        loader.setDaemon(true);
        loader.start();
    }

    /** Whether the start model is served. */
    public boolean ready() {
        return registry.find(config.modelName()).isPresent();
    }

    /** Why the start model is not served, if loading it failed. */
    public Optional<String> startFailure() {
        return Optional.ofNullable(startFailure);
    }

    /** ListModels: every served model, and the memory budget and what of it is used. */
    public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> response) {
        ListModelsResponse.Builder out = ListModelsResponse.newBuilder().setMemoryBudgetBytes(registry.memoryBudgetBytes());
        long used = 0;
        for (ServedModel m : registry.list()) {
            out.addModels(toProto(m));
            used += m.memoryBytes();
        }
        // summed from the listed models, so the total always matches them even while a load runs
        out.setMemoryUsedBytes(used);
        response.onNext(out.build());
        response.onCompleted();
    }

    /**
     * LoadModel: reads a checkpoint, or a LoRA adapter to apply onto the base served under the name
     * ({@link ModelRegistry}), and swaps it in under the name (empty = the start model's); blocks while reading.
     */
    public void loadModel(LoadModelRequest request, StreamObserver<LoadModelResponse> response) {
        try {
            String name = request.getName().isEmpty() ? config.modelName() : request.getName();
            if (request.getLocation().isEmpty()) {
                throw new InvalidFieldException("location", "empty; this service has no checkpoint store, so a load "
                        + "needs the checkpoint directory");
            }
            Validation.requireInRange("version", request.getVersion(), 0, Long.MAX_VALUE);
            ModelRegistry.LoadResult loaded = registry.load(name, request.getVersion(), Path.of(request.getLocation()));
            LoadModelResponse.Builder out = LoadModelResponse.newBuilder().setModel(toProto(loaded.model()));
            loaded.previous().ifPresent(p -> out.setPrevious(toProto(p)));
            for (ServedModel evicted : loaded.evicted()) {
                LOG.infof("evicted %s version %d (%d bytes, least recently used) to fit %s version %d (%d bytes) in the "
                                + "memory budget of %d bytes", evicted.name(), evicted.version(), evicted.memoryBytes(),
                        name, loaded.model().version(), loaded.model().memoryBytes(), registry.memoryBudgetBytes());
                out.addEvicted(toProto(evicted));
            }
            response.onNext(out.build());
            response.onCompleted();
        } catch (RuntimeException e) {
            response.onError(GrpcErrors.toStatus(e));
        }
    }

    public ModelInfo toProto(ServedModel m) {
        return ModelInfo.newBuilder().setName(m.name()).setVersion(m.version()).setLocation(m.location().toString())
                .setParameters(m.parameters()).setMaxPositions(m.maxPositions()).setVocabSize(m.vocabSize())
                .setMemoryBytes(m.memoryBytes()).setPinned(registry.pinned(m.name()))
                .setBaseLocation(m.base().map(Path::toString).orElse("")).build();
    }

    @Override
    public void close() {
        registry.close();
    }
}
