package steer.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import steer.checkpoint.HfConfigJson;
import steer.model.LanguageModel;
import steer.model.SamplingParams;
import steer.tokenizer.Tokenizer;

/** The SFT checkpoints committed under models/world are the world's sizes, with the world's tokenizer, and run. */
class CommittedModelsTest {

    @TempDir
    static Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"small", "medium", "large"})
    void committedCheckpointIsTheNamedSizeWithTheWorldTokenizer(String size) throws Exception {
        Path model = Path.of(System.getProperty("steer.world.models.dir")).resolve(size);
        int vocab;
        Path reference = WorldVocabulary.writeTokenizer(dir.resolve(size));
        try (Tokenizer t = Tokenizer.load(model)) {
            vocab = t.vocabSize();
        }
        assertEquals(Files.readString(reference), Files.readString(model.resolve(Tokenizer.FILE_NAME)),
                "tokenizer.json is the one WorldVocabulary writes");
        assertEquals(WorldModelSize.named(size).config(vocab), HfConfigJson.read(model.resolve(HfConfigJson.FILE_NAME)));
        try (LanguageModel lm = LanguageModel.load(model)) {
            String query = WorldSplits.of(0).heldOut().get(0).query();
            String answer = lm.complete(List.of(query), new SamplingParams(16, 0, 1, 0, 0), List.of()).get(0).text();
            assertTrue(WorldVocabulary.isKnown(answer.strip()), "greedy answer in the world's language: " + answer);
        }
    }
}
