package steer.cli.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.TreeMap;
import steer.proto.v1.TsoSettings;

/**
 * TSO's model matrix and evaluator for a local stack: the oracle world's other sizes and the committed evaluator by
 * default, each copied under a directory the generator and the judge may load from (their allowed root).
 */
public final class TsoMatrix {

    /** The world's larger size: the newest, largest model, a positive source. */
    public static final Map<String, Path> DEFAULT_LARGER = Map.of("large", Path.of("models/world/large"));
    /** The world's smaller size, a negative source. */
    public static final Map<String, Path> DEFAULT_SMALLER = Map.of("small", Path.of("models/world/small"));
    /** The evaluator `steer tso evaluator` trained from the medium model. */
    public static final Path DEFAULT_EVALUATOR = Path.of("models/world/medium-evaluator");

    private TsoMatrix() {
    }

    /**
     * The TSO settings naming copies of the matrix's models and the evaluator.
     *
     * @param root      the repository root relative paths are read from
     * @param into      the directory the copies go to, inside the services' allowed root
     * @param larger    name → model directory; null = {@link #DEFAULT_LARGER}
     * @param smaller   name → model directory; null = {@link #DEFAULT_SMALLER}
     * @param evaluator the evaluator's directory; null = {@link #DEFAULT_EVALUATOR}, left out when that does not exist
     *                  (a run of matrix pairs only needs none)
     * @return the settings, every other field at the method's default
     * @throws IllegalArgumentException naming a directory that holds no model
     */
    public static TsoSettings.Builder settings(Path root, Path into, Map<String, Path> larger, Map<String, Path> smaller,
                                               Path evaluator) throws IOException {
        TsoSettings.Builder t = TsoSettings.newBuilder();
        for (Map.Entry<String, Path> e : new TreeMap<>(larger != null ? larger : DEFAULT_LARGER).entrySet()) {
            t.putLargerModels(e.getKey(), copy(root, into.resolve("matrix"), e.getKey(), e.getValue()));
        }
        for (Map.Entry<String, Path> e : new TreeMap<>(smaller != null ? smaller : DEFAULT_SMALLER).entrySet()) {
            t.putSmallerModels(e.getKey(), copy(root, into.resolve("matrix"), e.getKey(), e.getValue()));
        }
        if (evaluator != null || Files.isDirectory(root.resolve(DEFAULT_EVALUATOR))) {
            t.setEvaluatorLocation(copy(root, into.resolve("judges"), "evaluator",
                    evaluator != null ? evaluator : DEFAULT_EVALUATOR));
        }
        return t;
    }

    private static String copy(Path root, Path folder, String name, Path dir) throws IOException {
        Path from = dir.isAbsolute() ? dir : root.resolve(dir);
        if (!Files.isRegularFile(from.resolve("config.json"))) {
            throw new IllegalArgumentException(name + ": " + from + " is not a model directory (no config.json)");
        }
        Path to = folder.resolve(name);
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, to.resolve(f.getFileName().toString()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return to.toAbsolutePath().normalize().toString();
    }
}
