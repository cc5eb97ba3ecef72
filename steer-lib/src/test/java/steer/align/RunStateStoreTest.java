package steer.align;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunStateStoreTest {

    @TempDir
    Path dir;

    static RunRecord aRunInItsSecondIteration() {
        RunSettings s = new RunSettings("run-7", "sso", 3, 42, 7, 20, 4, 1e-4, 2,
                new SamplingSettings(24, 0.9, null, 5, List.of(" .")), Map.of("theta", 0.2), "model", 10, false);
        SsoTriple t = new SsoTriple("add 3 4", "principle : be correct . add 3 4", "principle : be wrong . add 3 4",
                " answer : 7 .", " answer : 9 .", " answer : 8 .", "accuracy");
        IterationRecord first = IterationRecord.sampled(0, 0, List.of(t), 1, 0, 2, 3.5)
                .withPhase(IterationPhase.PUBLISHED).withPublished(List.of("run-7-it0-b0", "run-7-it0-b1"))
                .trained(1, "/ckpt/run-7/v000001", 2, Map.of("loss", 0.69, "sso_weight", 0.4))
                .withPhase(IterationPhase.LOADED).evaluated(Map.of("mean_score", 0.5, "win_rate", 0.55));
        // one triple with its sampled ids (y- without: not every response has them), one known only as text
        SsoTriple sampled = t.withTokens(new ResponseTokens(new int[] {11, 12, 2}, "eos"), null,
                new ResponseTokens(new int[] {13, 14, 15}, "length"));
        IterationRecord second = IterationRecord.sampled(1, 1, List.of(sampled, t), 0, 1, 2, 1.25)
                .withPublished(List.of("run-7-it1-b0"));
        return RunRecord.start(s, 1000).withBaseline(Map.of("mean_score", 0.45), List.of("1 2", "a b c"), 1001)
                .with(first, 1002).with(second, 1003);
    }

    @Test
    void aSavedRunReadsBackEqual() {
        RunStateStore store = new RunStateStore(dir);
        RunRecord run = aRunInItsSecondIteration();
        store.save(run);
        assertEquals(run, store.load("run-7").orElseThrow());
        assertTrue(store.load("other").isEmpty());
        assertEquals(List.of(run), store.list());
        assertEquals(1, run.completedIterations());
        assertTrue(run.iteration(0).orElseThrow().examples().isEmpty(), "examples are dropped once trained");
    }

    @Test
    void aStateWrittenBeforeTheBaselinesAnswersWereKeptReadsWithNone() throws IOException {
        RunStateStore store = new RunStateStore(dir);
        RunRecord run = aRunInItsSecondIteration();
        store.save(run);
        Path file = store.file("run-7");
        String json = Files.readString(file);
        String older = json.replaceFirst("\"baselineAnswers\"\\s*:\\s*\\[[^\\]]*\\]\\s*,?", "");
        assertTrue(older.length() < json.length(), "the answers are in the file: " + json);
        Files.writeString(file, older);
        RunRecord read = store.load("run-7").orElseThrow();
        assertEquals(List.of(), read.baselineAnswers());
        assertEquals(run.baselineMetrics(), read.baselineMetrics());
        assertEquals(run.iterations(), read.iterations());
    }

    @Test
    void aTsoRoundsPairSourcesAndFactsReadBackEqual() {
        RunStateStore store = new RunStateStore(dir);
        RunSettings st = new RunSettings("run-tso", "tso", 1, 1, 0, 6, 4, 0, 0, null, Map.of(), "", 10, true,
                "held-out", new steer.method.TsoMethod.Settings(0, 0, "", 0, "", 0, Map.of("large", "/l"),
                Map.of("small", "/s"), Map.of(), Map.of(), "", "/e"));
        List<JudgedPair> pairs = List.of(new JudgedPair("x", "a", "b", null, "reference", "small"),
                new JudgedPair("x", "c", "d", null, "self", "self").withTokens(
                        new ResponseTokens(new int[] {4, 5}, "stop"), new ResponseTokens(new int[] {6, 2}, "eos")),
                new JudgedPair("y", "e", "f", null, "large",
                        "small"));
        IterationRecord.RoundFacts facts = new IterationRecord.RoundFacts(0, 12, 8, 0, "evaluator", 0,
                IterationRecord.RoundFacts.countSources(pairs));
        assertEquals(Map.of("reference>small", 1L, "self>self", 1L, "large>small", 1L), facts.pairSources());
        RunRecord run = RunRecord.start(st, 1).with(IterationRecord.sampled(0, 0, pairs, 0, 0, 1, 1.5)
                .withFacts(facts), 2);
        store.save(run);
        RunRecord read = store.load("run-tso").orElseThrow();
        assertEquals(run, read);
        assertEquals("small", ((JudgedPair) read.iteration(0).orElseThrow().examples().get(0)).rejectedSource());
    }

    @Test
    void aSaveReplacesTheFileWholeAndLeavesNoTemporaryFile() throws IOException {
        RunStateStore store = new RunStateStore(dir);
        RunRecord run = aRunInItsSecondIteration();
        store.save(run);
        RunRecord failed = run.withStatus(RunStatus.FAILED, "generator unavailable", 2000);
        store.save(failed);
        assertEquals(failed, store.load("run-7").orElseThrow());
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(dir.resolve("run-7.json")), files.toList());
        }
    }

    @Test
    void aTemporaryFileLeftByACrashIsIgnored() throws IOException {
        RunStateStore store = new RunStateStore(dir);
        RunRecord run = aRunInItsSecondIteration();
        store.save(run);
        // a crash between creating the temporary file and the rename leaves a partial temporary file behind
        Files.writeString(dir.resolve(".run-7.json.0c1d.tmp"), "{\"schemaVersion\":1,\"settings\":{\"ru");
        assertEquals(run, store.load("run-7").orElseThrow());
        assertEquals(List.of(run), store.list());
    }

    @Test
    void aDamagedStateFileIsReportedByName() throws IOException {
        RunStateStore store = new RunStateStore(dir);
        Files.writeString(store.file("broken"), "{\"schemaVersion\":1,");
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> store.load("broken"));
        assertTrue(e.getMessage().contains("broken.json"), e.getMessage());
    }

    @Test
    void aStateWithInvalidSettingsIsRejectedOnLoad() throws IOException {
        RunStateStore store = new RunStateStore(dir);
        store.save(aRunInItsSecondIteration());
        Path f = store.file("run-7");
        Files.writeString(f, Files.readString(f).replace("\"iterations\" : 3", "\"iterations\" : 99"));
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> store.load("run-7"));
        assertTrue(e.getMessage().contains("config.iterations"), e.getMessage());
    }
}
