package steer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HfTensorLayout;
import steer.checkpoint.HostTensor;
import steer.model.LanguageModel;
import steer.tokenizer.WordLevelTokenizerWriter;
import steer.train.TrainerCheckpoint;

/** The offline training commands end to end: data validation, training, metrics, checkpoints and resuming. */
class TrainCommandTest {

    @TempDir
    static Path dir;

    static Path model;
    static Path pairs;
    static Path demos;

    @BeforeAll
    static void setUp() throws IOException {
        DecoderConfig c = new DecoderConfig("llama", 24, 32, 64, 2, 4, 2, 1e-5, 10000, 32, true, false, 1, 2);
        Random r = new Random(1);
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        for (HfTensorLayout.TensorSpec s : HfTensorLayout.expected(c)) {
            int n = 1;
            for (long d : s.shape()) {
                n *= (int) d;
            }
            float[] data = new float[n];
            for (int i = 0; i < n; i++) {
                data[i] = s.name().endsWith("norm.weight") ? 1f : (float) (r.nextGaussian() * 0.05);
            }
            tensors.put(s.name(), new HostTensor(s.name(), s.shape(), data));
        }
        model = dir.resolve("model");
        HfCheckpoint.save(model, c, tensors);
        List<String> words = new ArrayList<>();
        for (int i = 3; i < 24; i++) {
            words.add("w" + i);
        }
        WordLevelTokenizerWriter.write(words, model.resolve("tokenizer.json"));
        StringBuilder p = new StringBuilder();
        StringBuilder d = new StringBuilder();
        for (int i = 0; i < 48; i++) {
            String prompt = "w" + (3 + r.nextInt(7)) + " w" + (3 + r.nextInt(7));
            p.append(String.format("{\"prompt\": \"%s\", \"chosen\": \"w10 w11 w12\", \"rejected\": \"w13 w14 w15\"}%n", prompt));
            d.append(String.format("{\"prompt\": \"%s\", \"response\": \"w16 w17\"}%n", prompt));
        }
        pairs = Files.writeString(dir.resolve("pairs.jsonl"), p);
        demos = Files.writeString(dir.resolve("demos.jsonl"), d);
    }

    private static String[] dpo(Path out, String... extra) {
        List<String> args = new ArrayList<>(List.of("train", "--objective", "dpo", "--model", model.toString(), "--data",
                pairs.toString(), "--out", out.toString(), "--batch-size", "4", "--epochs", "2", "--max-steps", "20", "--lr", "1e-3"));
        args.addAll(List.of(extra));
        return args.toArray(String[]::new);
    }

    @Test
    void resumingInANewProcessGivesTheSameLossesAsNeverStopping() throws Exception {
        Path straight = dir.resolve("straight");
        assertEquals(0, Main.run(dpo(straight)));
        Path interrupted = dir.resolve("interrupted");
        assertEquals(0, Main.run(dpo(interrupted, "--stop-after", "10")));
        assertTrue(Files.isDirectory(interrupted.resolve("checkpoints").resolve(TrainerCheckpoint.name(10))));
        assertFalse(Files.exists(interrupted.resolve("model.safetensors")), "an unfinished run writes no final model");

        // the second half runs in a fresh JVM, as after a crash or preemption
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1", "-cp",
                System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")), Main.class.getName()));
        command.addAll(List.of(dpo(interrupted, "--resume")));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(5, TimeUnit.MINUTES));
        assertEquals(0, process.exitValue(), output);

        List<JsonNode> a = metrics(straight);
        List<JsonNode> b = metrics(interrupted);
        assertEquals(20, a.size());
        assertEquals(20, b.size());
        for (int i = 0; i < 20; i++) {
            assertEquals(i + 1, b.get(i).get("step").asInt());
            assertEquals(a.get(i).get("loss").asDouble(), b.get(i).get("loss").asDouble(), 1e-6, "step " + (i + 1));
            assertEquals(a.get(i).get("lr").asDouble(), b.get(i).get("lr").asDouble(), 1e-12, "lr at step " + (i + 1));
        }
        assertTrue(a.get(19).get("reward_margin").asDouble() > a.get(0).get("reward_margin").asDouble());
    }

    @Test
    void sftWritesALoadableModelAndMetricsAndLowersItsLoss() throws Exception {
        Path out = dir.resolve("sft");
        String printed = Stories260kTest.capture("sft", "--model", model.toString(), "--data", demos.toString(), "--out", out.toString(),
                "--batch-size", "8", "--epochs", "3", "--lr", "5e-3");
        assertTrue(printed.contains("step 18/18"), printed);
        List<JsonNode> m = metrics(out);
        assertEquals(18, m.size());
        assertTrue(m.get(17).get("loss").asDouble() < 0.5 * m.get(0).get("loss").asDouble(), "loss " + m.get(0) + " -> " + m.get(17));
        try (LanguageModel lm = LanguageModel.load(out)) {
            assertEquals(24, lm.decoder().config().vocabSize());
        }
    }

    /**
     * With no options a small file trains for TRL's batch 8 and 3 epochs (48 pairs: 18 steps) and the preference
     * moves; a run of a couple of steps is warned about before it starts.
     */
    @Test
    void theDefaultsTrainASmallFileEnoughToMoveAndFewStepsAreWarnedAbout() throws Exception {
        Path out = dir.resolve("defaults");
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        java.io.PrintStream oldErr = System.err;
        String printed;
        System.setErr(new java.io.PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            printed = Stories260kTest.capture("train", "--objective", "dpo", "--model", model.toString(), "--data",
                    pairs.toString(), "--out", out.toString());
        } finally {
            System.setErr(oldErr);
        }
        assertTrue(printed.contains("48 examples") && printed.contains("18 steps of 8"), printed);
        assertTrue(printed.matches("(?s).*wrote .*; peak resident memory: [0-9,]+ MB.*"), printed);
        assertFalse(err.toString(StandardCharsets.UTF_8).contains("warning"), err.toString(StandardCharsets.UTF_8));
        List<JsonNode> m = metrics(out);
        assertEquals(18, m.size());
        assertTrue(m.get(17).get("reward_margin").asDouble() > m.get(0).get("reward_margin").asDouble() + 0.05,
                "the margin moved: " + m.get(0).get("reward_margin") + " -> " + m.get(17).get("reward_margin"));

        err.reset();
        System.setErr(new java.io.PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            Stories260kTest.capture("train", "--objective", "dpo", "--model", model.toString(), "--data",
                    pairs.toString(), "--out", dir.resolve("few").toString(), "--batch-size", "32", "--epochs", "1");
        } finally {
            System.setErr(oldErr);
        }
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("only 2 optimizer steps (48 examples, batch 32, 1 epoch)"),
                err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void malformedRecordsAreReportedWithFileAndLineBeforeAnyTraining() throws IOException {
        Path bad = Files.writeString(dir.resolve("bad.jsonl"), """
                {"prompt": "w3 w4", "chosen": "w10", "rejected": "w13"}
                {"prompt": "w3 w4", "chosen": "w10"}
                {"prompt": "w3 w4", "chosen": 7, "rejected": "w13"}

                {"prompt": "w3 w4", "chosen": "", "rejected": "w13"}
                not json
                """);
        Path out = dir.resolve("never");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.run("train", "--objective", "dpo", "--model", model.toString(), "--data", bad.toString(),
                    "--out", out.toString());
        } finally {
            System.setErr(old);
        }
        String msg = err.toString(StandardCharsets.UTF_8);
        assertEquals(2, code, msg);
        for (String expected : new String[] {"bad.jsonl:2", "rejected", "bad.jsonl:3", "bad.jsonl:5", "bad.jsonl:6"}) {
            assertTrue(msg.contains(expected), "missing '" + expected + "' in: " + msg);
        }
        assertFalse(msg.contains("bad.jsonl:1:"), msg);
        assertFalse(Files.exists(out), "nothing may be written when the data is bad");
    }

    @Test
    void unknownObjectiveIsAClearError() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            assertEquals(2, Main.run("train", "--objective", "ppo", "--model", model.toString(), "--data",
                    pairs.toString(), "--out", dir.resolve("x").toString()));
        } finally {
            System.setErr(old);
        }
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("dpo, ipo, cdpo, dual-clip, spce, sso, pbaa"));
    }

    static List<JsonNode> metrics(Path out) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> lines = new ArrayList<>();
        for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) {
            lines.add(json.readTree(line));
        }
        return lines;
    }
}
