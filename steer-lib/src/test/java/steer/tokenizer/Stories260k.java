package steer.tokenizer;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the stories260K files for tests; skips the test where they are absent. */
final class Stories260k {

    static final int VOCAB_SIZE = 512;

    private Stories260k() {
    }

    /** {@code tok512.bin}, from the directory in system property {@code steer.stories260k.dir}. */
    static Path tokenizerBin() {
        String dir = System.getProperty("steer.stories260k.dir");
        assumeTrue(dir != null, "system property steer.stories260k.dir is not set");
        Path file = Path.of(dir, "tok512.bin");
        assumeTrue(Files.isRegularFile(file), "no " + file);
        return file;
    }

    static Llama2cVocabulary vocabulary() {
        return Llama2cVocabulary.read(tokenizerBin(), VOCAB_SIZE);
    }
}
