package steer.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Test;

import steer.data.DataFormatException.Problem;

class DataFormatExceptionTest {

    private static final Path FILE = Path.of("data", "pairs.jsonl");

    @Test
    void oneProblemIsTheWholeMessage() {
        assertEquals(FILE + ":3: missing field \"chosen\"",
                new DataFormatException(List.of(new Problem(FILE, 3, "missing field \"chosen\""))).getMessage());
        assertEquals(FILE + ": file not found",
                new DataFormatException(List.of(new Problem(FILE, 0, "file not found"))).getMessage());
    }

    @Test
    void messageListsTheFirstTwentyProblemsAndCountsTheRest() {
        List<Problem> problems = IntStream.rangeClosed(1, 25).mapToObj(i -> new Problem(FILE, i, "bad " + i))
                .collect(Collectors.toList());
        DataFormatException e = new DataFormatException(problems);
        String expected = "25 problems in training data:"
                + IntStream.rangeClosed(1, 20).mapToObj(i -> "\n  " + FILE + ":" + i + ": bad " + i)
                        .collect(Collectors.joining())
                + "\n  ... and 5 more";
        assertEquals(expected, e.getMessage());
        assertEquals(problems, e.problems());
    }

    @Test
    void noProblemsIsAMistake() {
        assertThrows(IllegalArgumentException.class, () -> new DataFormatException(List.of()));
    }
}
