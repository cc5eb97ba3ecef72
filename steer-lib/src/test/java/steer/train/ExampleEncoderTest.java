package steer.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.data.SsoExample;
import steer.tokenizer.Tokenizer;
import steer.world.WorldVocabulary;

class ExampleEncoderTest {

    private static final int EOS = 2;

    @TempDir
    static Path dir;

    private static Tokenizer tokenizer;

    @BeforeAll
    static void load() {
        WorldVocabulary.writeTokenizer(dir);
        tokenizer = Tokenizer.load(dir);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void anEmptySampledResponseIsEosAlone() {
        SsoExample e = new ExampleEncoder(tokenizer, EOS, 64).sso("add 3 4 :", "be correct . add 3 4 :", "be wrong . add 3 4 :",
                "answer 7 .", "", "answer 8 .");
        assertArrayEquals(new int[] {EOS}, e.yMinus());
        int[] plus = tokenizer.encodeWithoutSpecialTokens("answer 7 .");
        assertEquals(plus.length + 1, e.yPlus().length);
        assertEquals(EOS, e.yPlus()[plus.length]);
        assertArrayEquals(tokenizer.encode("add 3 4 :"), e.prompt());
    }

    @Test
    void aBlankPromptOrAnOverlongSequenceIsRefusedByName() {
        ExampleEncoder encoder = new ExampleEncoder(tokenizer, EOS, 8);
        IllegalArgumentException blank = assertThrows(IllegalArgumentException.class,
                () -> encoder.pair(" ", "answer 7 .", "answer 8 .", Double.NaN));
        assertTrue(blank.getMessage().contains("prompt"), blank.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> encoder.pair("add 3 4 :", null, "answer 8 .", Double.NaN));
        assertTrue(missing.getMessage().contains("chosen"), missing.getMessage());
        IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
                () -> encoder.pair("add 3 4 :", "answer 7 7 7 7 7 7 .", "answer 8 .", Double.NaN));
        assertTrue(tooLong.getMessage().startsWith("prompt + chosen is"), tooLong.getMessage());
    }

    @Test
    void aResponseAStopStringCutKeepsTheIdsSampledUpToTheStopWithNothingAppended() {
        ExampleEncoder encoder = new ExampleEncoder(tokenizer, EOS, 64);
        // the text was cut before the stop string " ." but the ids run to the token that completed it
        int[] sampled = tokenizer.encodeWithoutSpecialTokens("answer 7 .");
        var pair = encoder.pair("add 3 4 :", ExampleEncoder.Response.sampled("answer 7", sampled, "stop"),
                ExampleEncoder.Response.text("answer 8 ."), Double.NaN);
        assertArrayEquals(sampled, pair.chosen());
        assertEquals(tokenizer.encodeWithoutSpecialTokens("answer 8 .").length + 1, pair.rejected().length);
        IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class, () -> new ExampleEncoder(
                tokenizer, EOS, 6).pair("add 3 4 :", ExampleEncoder.Response.sampled("answer", sampled, "length"),
                ExampleEncoder.Response.text(""), Double.NaN));
        assertTrue(tooLong.getMessage().startsWith("prompt + chosen is"), tooLong.getMessage());
    }

    private static void assertEquals(int expected, int actual) {
        org.junit.jupiter.api.Assertions.assertEquals(expected, actual);
    }
}
