package steer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HfTensorLayout;
import steer.checkpoint.HostTensor;
import steer.checkpoint.LoraCheckpoint;
import steer.checkpoint.LoraConfig;
import steer.model.Decoder;
import steer.model.LanguageModel;
import steer.model.LoraAdapter;
import steer.model.SequenceScorer;
import steer.tokenizer.WordLevelTokenizerWriter;

/** {@code sft} and {@code train} with {@code --lora-rank}, and {@code lora merge}, end to end. */
class LoraCommandTest {

    @TempDir
    static Path dir;

    static Path model;
    static Path pairs;
    static Path demos;

    @BeforeAll
    static void setUp() throws IOException {
        DecoderConfig c = new DecoderConfig("qwen2", 24, 32, 64, 2, 4, 2, 1e-6, 10000, 32, true, true, 1, 2);
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

    /**
     * LoRA SFT writes a PEFT adapter (no full model) and lowers its loss; {@code lora merge} then writes a full
     * model whose next-token logits equal the base's with the adapter hot-loaded in front, within 1e-4.
     */
    @Test
    void loraSftWritesAnAdapterAndTheMergedModelGivesTheSameLogits() throws Exception {
        Path out = dir.resolve("sft-lora");
        String printed = Stories260kTest.capture("sft", "--model", model.toString(), "--data", demos.toString(),
                "--out", out.toString(), "--batch-size", "8", "--epochs", "3", "--lr", "2e-2", "--lora-rank", "4",
                "--lora-alpha", "8", "--lora-targets", "q,k,v,o,gate,up,down");
        assertTrue(printed.contains("LoRA r 4"), printed);
        assertTrue(Files.exists(out.resolve(LoraConfig.FILE_NAME)) && Files.exists(out.resolve(LoraCheckpoint.WEIGHTS_FILE)));
        assertFalse(Files.exists(out.resolve("model.safetensors")), "a LoRA run writes no full model");
        List<JsonNode> m = metrics(out);
        assertTrue(m.get(m.size() - 1).get("loss").asDouble() < 0.7 * m.get(0).get("loss").asDouble(),
                "loss " + m.get(0) + " -> " + m.get(m.size() - 1));
        JsonNode config = new ObjectMapper().readTree(out.resolve(LoraConfig.FILE_NAME).toFile());
        assertEquals(4, config.get("r").asInt());
        assertEquals(7, config.get("target_modules").size());
        assertEquals(model.toAbsolutePath().normalize().toString(), config.get("base_model_name_or_path").asText());

        Path merged = dir.resolve("merged");
        assertEquals(0, Main.run("lora", "merge", "--base", model.toString(), "--adapter", out.toString(),
                "--out", merged.toString()));
        List<int[]> prompts = List.of(new int[] {1, 4, 5}, new int[] {1, 9, 3, 8, 16}, new int[] {1});
        try (LanguageModel base = LanguageModel.load(model); LanguageModel full = LanguageModel.load(merged);
             Decoder adapted = base.decoder().withAdapter(LoraAdapter.read(out, base.decoder()))) {
            float[][] hot = SequenceScorer.nextTokenLogits(adapted, prompts);
            float[][] folded = SequenceScorer.nextTokenLogits(full.decoder(), prompts);
            float[][] plain = SequenceScorer.nextTokenLogits(base.decoder(), prompts);
            double diff = 0, moved = 0;
            for (int i = 0; i < hot.length; i++) {
                for (int v = 0; v < hot[i].length; v++) {
                    diff = Math.max(diff, Math.abs(hot[i][v] - folded[i][v]));
                    moved = Math.max(moved, Math.abs(hot[i][v] - plain[i][v]));
                }
            }
            assertTrue(diff < 1e-4, "merged against hot-loaded adapter: max |Δ logit| " + diff);
            assertTrue(moved > 0.1, "training moved the logits by only " + moved);
        }
    }

    /** LoRA DPO through {@code train}: the reward margin grows; checkpoints hold the adapter and its moments. */
    @Test
    void loraDpoTrainsAndCheckpointsTheAdapter() throws Exception {
        Path out = dir.resolve("dpo-lora");
        assertEquals(0, Main.run("train", "--objective", "dpo", "--model", model.toString(), "--data", pairs.toString(),
                "--out", out.toString(), "--batch-size", "4", "--max-steps", "12", "--lr", "1e-2", "--lora-rank", "8",
                "--lora-targets", "q,v,down", "--save-every", "6"));
        List<JsonNode> m = metrics(out);
        assertEquals(12, m.size());
        assertTrue(m.get(11).get("reward_margin").asDouble() > m.get(0).get("reward_margin").asDouble(), m.toString());
        Path checkpoint = out.resolve("checkpoints").resolve("step-00000006");
        assertTrue(Files.exists(checkpoint.resolve(LoraCheckpoint.WEIGHTS_FILE)));
        assertFalse(Files.exists(checkpoint.resolve("model.safetensors")));
        assertEquals(8, LoraConfig.read(out.resolve(LoraConfig.FILE_NAME)).rank());
        assertEquals(2, Main.run("train", "--objective", "dpo", "--model", model.toString(), "--data", pairs.toString(),
                "--out", dir.resolve("bad").toString(), "--lora-rank", "4", "--lora-targets", "q,wq"));
    }

    private static List<JsonNode> metrics(Path out) throws IOException {
        List<JsonNode> rows = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) {
            rows.add(json.readTree(line));
        }
        return rows;
    }
}
