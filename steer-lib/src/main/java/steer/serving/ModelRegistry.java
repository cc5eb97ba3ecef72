package steer.serving;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import steer.model.LanguageModel;

/**
 * Named language models, each at one checkpoint version, swapped without dropping requests.
 *
 * <p>{@link #load} reads the new checkpoint completely before it touches the served entry, so a malformed
 * checkpoint leaves the old model in place. Requests hold a {@link Lease}: an instance that was swapped out
 * keeps serving the requests that leased it, and its native memory is freed when the last of them ends.
 *
 * <p>Thread model: {@link #acquire} is lock-free and may run on any thread; loads are serialised, since
 * two loads under one name racing would make "the previous version" ambiguous.
 */
public final class ModelRegistry implements AutoCloseable {

    private final Map<String, Entry> entries = new ConcurrentHashMap<>();
    private final Path allowedRoot;
    private final Function<Path, LanguageModel> loader;
    private boolean closed;

    /**
     * A registry that reads Hugging Face model directories with {@link LanguageModel#load}.
     *
     * @param allowedRoot if present, every location must lie under this directory (a public API must not
     *                    read arbitrary paths); empty allows any directory
     */
    public ModelRegistry(Optional<Path> allowedRoot) {
        this(allowedRoot, LanguageModel::load);
    }

    /**
     * A registry with its own loader.
     *
     * @param allowedRoot see {@link #ModelRegistry(Optional)}
     * @param loader      reads a model directory completely or throws
     */
    public ModelRegistry(Optional<Path> allowedRoot, Function<Path, LanguageModel> loader) {
        this.allowedRoot = allowedRoot.map(p -> p.toAbsolutePath().normalize()).orElse(null);
        this.loader = loader;
    }

    /**
     * What a load did.
     *
     * @param model    the model now served under the name
     * @param previous the model it replaced, if the name was served before
     */
    public record LoadResult(ServedModel model, Optional<ServedModel> previous) {
    }

    /**
     * Loads a checkpoint and serves it under {@code name}, replacing what was served there.
     *
     * @param name     the name; not blank
     * @param version  the checkpoint version to report with every result of this model
     * @param location the checkpoint directory
     * @return the new and the previous model
     * @throws ModelLoadException naming the file and problem if the location is not allowed or the checkpoint
     *                            is missing or malformed; the previously served model stays served
     */
    public synchronized LoadResult load(String name, long version, Path location) {
        return loadFrom(name, version, checkedLocation(location));
    }

    /**
     * Loads the model a service is configured to start with. The location comes from the operator, not from
     * a caller, so the allowed-root check (which guards {@link #load}) does not apply: the SFT model usually
     * lives outside the checkpoint store.
     */
    public synchronized LoadResult loadConfigured(String name, long version, Path location) {
        return loadFrom(name, version, location.toAbsolutePath().normalize());
    }

    private LoadResult loadFrom(String name, long version, Path dir) {
        if (closed) {
            throw new IllegalStateException("the model registry is closed");
        }
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("name: empty");
        }
        LanguageModel model;
        try {
            model = loader.apply(dir);
        } catch (RuntimeException e) {
            throw new ModelLoadException("cannot load " + dir + ": " + e.getMessage(), false, e);
        }
        ServedModel info = new ServedModel(name, version, dir, model.parameterCount(),
                model.decoder().config().maxPositionEmbeddings(), model.decoder().config().vocabSize());
        Entry old = entries.put(name, new Entry(info, model));
        if (old != null) {
            old.release(); // the registry's own reference; leases still running keep it alive
        }
        return new LoadResult(info, Optional.ofNullable(old).map(e -> e.info));
    }

    private Path checkedLocation(Path location) {
        Path dir = location.toAbsolutePath().normalize();
        if (allowedRoot != null) {
            Path real;
            try {
                // symbolic links must not lead out of the root, so compare real paths
                real = dir.toRealPath();
            } catch (java.io.IOException e) {
                throw new ModelLoadException("location: " + dir + " does not exist", true, e);
            }
            Path root;
            try {
                root = allowedRoot.toRealPath();
            } catch (java.io.IOException e) {
                root = allowedRoot;
            }
            if (!real.startsWith(root)) {
                throw new ModelLoadException("location: " + dir + " is outside the allowed checkpoint root " + allowedRoot,
                        true, null);
            }
        }
        if (!Files.isDirectory(dir)) {
            throw new ModelLoadException("location: " + dir + " is not a directory", true, null);
        }
        return dir;
    }

    /**
     * Leases the model served under {@code name}; close the lease when the request is done.
     *
     * @throws UnknownModelException if nothing is served under that name
     */
    public Lease acquire(String name) {
        while (true) {
            Entry e = entries.get(name);
            if (e == null) {
                throw new UnknownModelException("model", name, names());
            }
            if (e.retain()) {
                return new Lease(e);
            }
            // lost a race with a swap that released the last reference: the map already holds the new entry
        }
    }

    /** The model served under {@code name}, if any. */
    public Optional<ServedModel> find(String name) {
        return Optional.ofNullable(entries.get(name)).map(e -> e.info);
    }

    /** Everything served, by name. */
    public List<ServedModel> list() {
        List<ServedModel> out = new ArrayList<>();
        new TreeMap<>(entries).values().forEach(e -> out.add(e.info));
        return out;
    }

    private List<String> names() {
        return new ArrayList<>(new TreeMap<>(entries).keySet());
    }

    /** Stops serving every model; each is closed once its last lease ends. */
    @Override
    public synchronized void close() {
        closed = true;
        for (String name : names()) {
            Entry e = entries.remove(name);
            if (e != null) {
                e.release();
            }
        }
    }

    /** A model instance and its reference count: one for the registry while served, one per lease. */
    private static final class Entry {
        final ServedModel info;
        final LanguageModel model;
        final AtomicInteger references = new AtomicInteger(1);

        Entry(ServedModel info, LanguageModel model) {
            this.info = info;
            this.model = model;
        }

        /** Takes a reference unless the count already reached 0 (the instance is closed or closing). */
        boolean retain() {
            while (true) {
                int n = references.get();
                if (n == 0) {
                    return false;
                }
                if (references.compareAndSet(n, n + 1)) {
                    return true;
                }
            }
        }

        void release() {
            if (references.decrementAndGet() == 0) {
                model.close();
            }
        }
    }

    /** One request's hold on a model instance; closing it twice is harmless. */
    public static final class Lease implements AutoCloseable {
        private final Entry entry;
        private boolean released;

        private Lease(Entry entry) {
            this.entry = entry;
        }

        /** The leased model; valid until this lease is closed. */
        public LanguageModel model() {
            return entry.model;
        }

        /** Name, version and shape of the leased model. */
        public ServedModel info() {
            return entry.info;
        }

        @Override
        public synchronized void close() {
            if (!released) {
                released = true;
                entry.release();
            }
        }
    }
}
