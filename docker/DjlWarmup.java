import ai.djl.engine.Engine;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.util.Utils;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Image build step: loads the PyTorch engine and the Hugging Face tokenizers once, so that DJL unpacks their native
 * libraries (about 430 MB for PyTorch) into its engine cache directory ({@code ENGINE_CACHE_DIR}) at build time, not
 * in every pod's first seconds. Run with the packaged app's libraries on the class path:
 * {@code java -cp 'MODULE/target/quarkus-app/lib/main/*' docker/DjlWarmup.java path/to/tokenizer.json}.
 *
 * <p>A CUDA build may unpack but fail to initialise on a build machine without a GPU driver; that is accepted as long
 * as the libraries are in the cache, because unpacking is the slow part this step exists for.
 */
public final class DjlWarmup {

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            throw new IllegalArgumentException("usage: DjlWarmup <tokenizer.json>");
        }
        Path cache = Utils.getEngineCacheDir();
        System.out.println("DJL engine cache: " + cache + " (offline: " + Utils.isOfflineMode() + ")");
        try {
            Engine engine = Engine.getEngine("PyTorch");
            try (NDManager manager = engine.newBaseManager()) {
                NDArray sum = manager.ones(new ai.djl.ndarray.types.Shape(4)).sum();
                System.out.println("PyTorch " + engine.getVersion() + " loaded, default device " + engine.defaultDevice()
                        + ", ones(4).sum() = " + sum.getFloat());
            }
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            if (!unpacked(cache.resolve("pytorch"), "libtorch")) {
                throw e;
            }
            System.out.println("PyTorch unpacked but not initialised here (" + e + "); fine for a CUDA build without a GPU");
        }
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(Path.of(args[0]))) {
            System.out.println("tokenizers loaded: 'add 3 4' -> " + tokenizer.encode("add 3 4").getTokens().length + " tokens");
        }
        if (!unpacked(cache.resolve("pytorch"), "libtorch") || !unpacked(cache.resolve("tokenizers"), "libtokenizers")) {
            throw new IllegalStateException("native libraries missing under " + cache);
        }
    }

    private static boolean unpacked(Path dir, String prefix) throws IOException {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            return files.anyMatch(p -> p.getFileName().toString().startsWith(prefix));
        }
    }
}
