package steer.serving;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import steer.checkpoint.LoraCheckpoint;
import steer.checkpoint.LoraConfig;
import steer.model.LanguageModel;

/**
 * Named language models, each at one checkpoint version, swapped without dropping requests.
 *
 * <p>{@link #load} reads the new checkpoint completely before it touches the served entry, so a malformed
 * checkpoint leaves the old model in place. Requests hold a {@link Lease}: an instance that was swapped out
 * keeps serving the requests that leased it, and its native memory is freed when the last of them ends.
 *
 * <p>Memory budget (TSO's model matrix: sizes × versions served at once). Each served model counts the bytes its
 * weights take as held ({@link ServedModel#memoryBytes}). With a budget, a load that would take the served total
 * over it first evicts the least recently acquired names that are not pinned ({@link #loadConfigured} pins the
 * service's start model), oldest first, until the new model fits; the name being loaded counts its old size as
 * freed and is never a candidate. If evicting every unpinned model would still not make room, the load fails with
 * {@link MemoryBudgetException} and nothing is evicted. An evicted name is no longer served, but its instance
 * finishes the requests that leased it, like a swapped-out one. The budget bounds what is served, not the process:
 * a load holds the new model beside the served ones until it is placed, and evicted or swapped-out instances stay
 * in memory until their last lease ends.
 *
 * <p>LoRA adapters. A location that holds {@code adapter_config.json} is a PEFT adapter, not a full model: it is
 * applied onto the base weights already served under the name ({@link LanguageModel#withAdapter}), with nothing of
 * the base copied, so a trainer's new version is a few MB to read instead of the whole model. If the name serves an
 * adapter already, the new one goes onto that adapter's base and replaces it (adapters do not stack). An adapted
 * entry holds a reference on its base's instance, so the base's weights live as long as any adapter on them is
 * served or leased, although the name no longer serves the plain base; the adapter's own matrices are freed when
 * its last lease ends, like a swapped-out model's. Its {@link ServedModel#memoryBytes} counts the base's weights
 * and the adapter's, since the base is held for it alone. A full checkpoint loaded under the name later replaces
 * both.
 *
 * <p>Thread model: {@link #acquire} is lock-free and may run on any thread; loads (and so evictions) are
 * serialised, since two loads under one name racing would make "the previous version" ambiguous, and the served
 * total an eviction plans with must not change under it. An acquire racing an eviction either leases the instance
 * (which then finishes that request) or finds the name gone.
 */
public final class ModelRegistry implements AutoCloseable {

    private static final long MIB = 1L << 20;

    private final Map<String, Entry> entries = new ConcurrentHashMap<>();
    private final Set<String> pinned = ConcurrentHashMap.newKeySet();
    /** Orders acquires for LRU: a counter, not a clock, so two acquires never tie. */
    private final AtomicLong uses = new AtomicLong();
    private final Path allowedRoot;
    private final long memoryBudgetBytes;
    private final Function<Path, LanguageModel> loader;
    private boolean closed;

    /**
     * A registry that reads Hugging Face model directories with {@link LanguageModel#load}.
     *
     * @param allowedRoot if present, every location must lie under this directory (a public API must not
     *                    read arbitrary paths); empty allows any directory
     */
    public ModelRegistry(Optional<Path> allowedRoot) {
        this(allowedRoot, 0, LanguageModel::load);
    }

    /**
     * A registry that reads Hugging Face model directories with {@link LanguageModel#load} within a memory budget.
     *
     * @param allowedRoot       see {@link #ModelRegistry(Optional)}
     * @param memoryBudgetBytes most bytes of weights served at once; 0 = unbounded
     * @throws IllegalArgumentException if the budget is negative
     */
    public ModelRegistry(Optional<Path> allowedRoot, long memoryBudgetBytes) {
        this(allowedRoot, memoryBudgetBytes, LanguageModel::load);
    }

    /**
     * A registry with its own loader and no memory budget.
     *
     * @param allowedRoot see {@link #ModelRegistry(Optional)}
     * @param loader      reads a model directory completely or throws
     */
    public ModelRegistry(Optional<Path> allowedRoot, Function<Path, LanguageModel> loader) {
        this(allowedRoot, 0, loader);
    }

    /**
     * A registry with its own loader.
     *
     * @param allowedRoot       see {@link #ModelRegistry(Optional)}
     * @param memoryBudgetBytes most bytes of weights served at once; 0 = unbounded
     * @param loader            reads a model directory completely or throws
     * @throws IllegalArgumentException if the budget is negative
     */
    public ModelRegistry(Optional<Path> allowedRoot, long memoryBudgetBytes, Function<Path, LanguageModel> loader) {
        if (memoryBudgetBytes < 0) {
            throw new IllegalArgumentException("memory budget: " + memoryBudgetBytes + " bytes is negative; 0 = unbounded");
        }
        this.allowedRoot = allowedRoot.map(p -> p.toAbsolutePath().normalize()).orElse(null);
        this.memoryBudgetBytes = memoryBudgetBytes;
        this.loader = loader;
    }

    /**
     * What a load did.
     *
     * @param model    the model now served under the name
     * @param previous the model it replaced, if the name was served before
     * @param evicted  the models evicted to fit it in the memory budget, least recently used first; usually empty
     */
    public record LoadResult(ServedModel model, Optional<ServedModel> previous, List<ServedModel> evicted) {
    }

    /**
     * Loads a checkpoint and serves it under {@code name}, replacing what was served there.
     *
     * @param name     the name; not blank
     * @param version  the checkpoint version to report with every result of this model
     * @param location the checkpoint directory, or a PEFT adapter directory to apply onto the base served under
     *                 {@code name} (see the class comment)
     * @return the new and the previous model
     * @throws ModelLoadException    naming the file and problem if the location is not allowed or the checkpoint
     *                               is missing or malformed, or an adapter has nothing to go onto or does not fit
     *                               the base's shapes; the previously served model stays served
     * @throws MemoryBudgetException if the model does not fit the budget even with every unpinned model evicted;
     *                               nothing is evicted and the previously served model stays served
     */
    public synchronized LoadResult load(String name, long version, Path location) {
        return loadFrom(name, version, checkedLocation(location), false);
    }

    /**
     * Loads the model a service is configured to start with and pins its name, so the memory budget never
     * evicts it. The location comes from the operator, not from a caller, so the allowed-root check (which guards
     * {@link #load}) does not apply: the SFT model usually lives outside the checkpoint store.
     *
     * @throws ModelLoadException    see {@link #load}
     * @throws MemoryBudgetException see {@link #load}
     */
    public synchronized LoadResult loadConfigured(String name, long version, Path location) {
        return loadFrom(name, version, location.toAbsolutePath().normalize(), true);
    }

    private LoadResult loadFrom(String name, long version, Path dir, boolean pin) {
        if (closed) {
            throw new IllegalStateException("the model registry is closed");
        }
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("name: empty");
        }
        Entry base = LoraCheckpoint.isAdapter(dir) ? retainBaseFor(name, dir) : null;
        LanguageModel model;
        try {
            model = base != null ? base.model.withAdapter(dir) : loader.apply(dir);
        } catch (RuntimeException e) {
            if (base != null) {
                base.release();
                throw new ModelLoadException("cannot apply the adapter " + dir + " onto '" + name + "' (base "
                        + base.info.location() + "): " + e.getMessage(), false, e);
            }
            throw new ModelLoadException("cannot load " + dir + ": " + e.getMessage(), false, e);
        }
        ServedModel info = new ServedModel(name, version, dir, Optional.ofNullable(base).map(b -> b.info.location()),
                model.parameterCount(), model.decoder().config().maxPositionEmbeddings(),
                model.decoder().config().vocabSize(), model.parameterBytes());
        List<Entry> evicted;
        try {
            evicted = evictionsToFit(info);
        } catch (MemoryBudgetException e) {
            model.close();
            if (base != null) {
                base.release();
            }
            throw e;
        }
        for (Entry e : evicted) {
            entries.remove(e.info.name());
        }
        if (pin) {
            pinned.add(name);
        }
        Entry old = entries.put(name, new Entry(info, model, uses.incrementAndGet(), base));
        // the registry's own references; leases still running keep those instances alive
        evicted.forEach(Entry::release);
        if (old != null) {
            old.release();
        }
        return new LoadResult(info, Optional.ofNullable(old).map(e -> e.info), evicted.stream().map(e -> e.info).toList());
    }

    /**
     * The plain model an adapter loaded under {@code name} goes onto, with a reference taken for the adapted entry:
     * the model served under the name, or its base when that is itself adapted. Called under the lock, where the
     * served entry (or the adapted entry holding the base) keeps the count above zero, so the reference is granted.
     *
     * @throws ModelLoadException if nothing is served under the name
     */
    private Entry retainBaseFor(String name, Path dir) {
        Entry served = entries.get(name);
        if (served == null) {
            throw new ModelLoadException("location: " + dir + " is a LoRA adapter (" + LoraConfig.FILE_NAME
                    + ") but no model is served under '" + name + "' to apply it onto; load its base model under that"
                    + " name first", false, null);
        }
        Entry base = served.base != null ? served.base : served;
        if (!base.retain()) {
            throw new IllegalStateException("the base of '" + name + "' was closed while still referenced");
        }
        return base;
    }

    /**
     * The served entries to evict so that {@code incoming} fits the budget, least recently acquired first; the
     * entry under the incoming name is replaced, so it counts as freed and is never evicted. Called under the lock.
     */
    private List<Entry> evictionsToFit(ServedModel incoming) {
        if (memoryBudgetBytes == 0) {
            return List.of();
        }
        long others = 0;
        for (Entry e : entries.values()) {
            if (!e.info.name().equals(incoming.name())) {
                others += e.info.memoryBytes();
            }
        }
        long excess = others + incoming.memoryBytes() - memoryBudgetBytes;
        if (excess <= 0) {
            return List.of();
        }
        List<Entry> candidates = entries.values().stream()
                .filter(e -> !e.info.name().equals(incoming.name()) && !pinned.contains(e.info.name()))
                .sorted(Comparator.comparingLong(e -> e.lastUsed)).toList();
        List<Entry> out = new ArrayList<>();
        long freed = 0;
        for (Entry e : candidates) {
            if (freed >= excess) {
                break;
            }
            out.add(e);
            freed += e.info.memoryBytes();
        }
        if (freed < excess) {
            long pinnedBytes = others - candidates.stream().mapToLong(e -> e.info.memoryBytes()).sum();
            Set<String> pinnedNames = new TreeSet<>(pinned);
            pinnedNames.retainAll(entries.keySet());
            pinnedNames.remove(incoming.name());
            throw new MemoryBudgetException("model '" + incoming.name() + "' from " + incoming.location() + " needs "
                    + size(incoming.memoryBytes()) + " but the memory budget of " + size(memoryBudgetBytes)
                    + " leaves at most " + size(memoryBudgetBytes - pinnedBytes) + " with every unpinned model evicted"
                    + " (pinned: " + (pinnedNames.isEmpty() ? "none" : String.join(", ", pinnedNames)) + ", "
                    + size(pinnedBytes) + "); nothing was evicted");
        }
        return out;
    }

    private static String size(long bytes) {
        return bytes + " bytes (" + String.format(Locale.ROOT, "%.1f", bytes / (double) MIB) + " MiB)";
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
                e.lastUsed = uses.incrementAndGet();
                return new Lease(e);
            }
            // lost a race with a swap that released the last reference: the map already holds the new entry
        }
    }

    /** The model served under {@code name}, if any. */
    public Optional<ServedModel> find(String name) {
        return Optional.ofNullable(entries.get(name)).map(e -> e.info);
    }

    /** Whether {@code name} is pinned: the memory budget never evicts it. */
    public boolean pinned(String name) {
        return pinned.contains(name);
    }

    /** Most bytes of weights served at once; 0 = unbounded. */
    public long memoryBudgetBytes() {
        return memoryBudgetBytes;
    }

    /** Bytes of weights served now: the sum of {@link ServedModel#memoryBytes} over {@link #list}. */
    public long memoryUsedBytes() {
        return entries.values().stream().mapToLong(e -> e.info.memoryBytes()).sum();
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

    /**
     * A model instance and its reference count: one for the registry while served, one per lease, and for a base,
     * one per adapted entry on it; and when it was last acquired, on the registry's use counter.
     */
    private static final class Entry {
        final ServedModel info;
        final LanguageModel model;
        final Entry base; // for an adapter: the entry whose weights it shares, referenced until this one closes
        final AtomicInteger references = new AtomicInteger(1);
        volatile long lastUsed;

        Entry(ServedModel info, LanguageModel model, long lastUsed, Entry base) {
            this.info = info;
            this.model = model;
            this.lastUsed = lastUsed;
            this.base = base;
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

        /** Drops a reference; the last one closes the instance (an adapter's matrices only) and releases its base. */
        void release() {
            if (references.decrementAndGet() == 0) {
                model.close();
                if (base != null) {
                    base.release();
                }
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
