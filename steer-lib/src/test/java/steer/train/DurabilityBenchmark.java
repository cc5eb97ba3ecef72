package steer.train;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.HfConfigJson;
import steer.data.SsoExample;
import steer.objective.ObjectiveFactory;
import steer.store.CheckpointStore;
import steer.tokenizer.Tokenizer;

/**
 * What durability costs the online trainer: the wall time of one {@link OnlineTrainer#saveState(Map)} (weights,
 * AdamW moments, trained ids and offsets, forced to disk) against one SSO optimizer step, on the oracle world's
 * large model ({@code models/world/large}; {@code -Dsteer.bench.model=DIR} for another, {@code =qwen2.5-0.5b} for a
 * random-weight checkpoint of Qwen2.5-0.5B-Instruct's shape), B examples per step
 * ({@code -Dsteer.bench.batch}, default 16). Also an iteration end's version write. Medians and minima of 7 after one
 * warm-up (the minimum is the better estimate on a machine shared with other work).
 * Run: {@code ./mvnw -o -q -pl steer-lib test -Dtest=DurabilityBenchmark -Dsteer.bench=true
 * -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@EnabledIfSystemProperty(named = "steer.bench", matches = "true")
class DurabilityBenchmark {

    @Test
    void printSaveCostPerStep(@TempDir Path root) throws Exception {
        // -Dsteer.bench.model=qwen2.5-0.5b: a random-weight checkpoint of Qwen2.5-0.5B-Instruct's shape, written here
        String named = System.getProperty("steer.bench.model", "../models/world/large");
        Path model = named.equals("qwen2.5-0.5b")
                ? steer.checkpoint.QwenHalfBillionCheckpoint.write(root.resolve("qwen2.5-0.5b"), 3)
                : Path.of(named).toAbsolutePath();
        int batch = Integer.getInteger("steer.bench.batch", 16);
        int runs = Integer.getInteger("steer.bench.steps", 7);
        // -Dsteer.bench.lora-rank=R: the run trains a LoRA adapter (alpha 2R, all seven targets) and saves only it
        int loraRank = Integer.getInteger("steer.bench.lora-rank", 0);
        steer.checkpoint.LoraConfig lora = loraRank == 0 ? null : new steer.checkpoint.LoraConfig(loraRank,
                2.0 * loraRank, steer.checkpoint.LoraConfig.parseTargets("q,k,v,o,gate,up,down"), 0, null);
        List<OnlineTrainer.Batch> batches = new ArrayList<>();
        try (Tokenizer t = Tokenizer.load(model)) {
            ExampleEncoder encoder = ExampleEncoder.forModel(t, HfConfigJson.read(model.resolve(HfConfigJson.FILE_NAME)));
            Random r = new Random(3);
            // one iteration of runs + 1 batches, so that the last one writes the version
            for (int i = 0; i <= runs; i++) {
                List<SsoExample> examples = new ArrayList<>();
                for (int e = 0; e < batch; e++) {
                    examples.add(OnlineTrainerTest.ssoExample(encoder, r));
                }
                batches.add(new OnlineTrainer.Batch("bench", 0, "b" + i, 0, ObjectiveFactory.create("sso", Map.of()),
                        i, runs + 2, 0, 0, examples));
            }
            batches.add(new OnlineTrainer.Batch("bench", 0, "last", 0, ObjectiveFactory.create("sso", Map.of()),
                    runs + 1, runs + 2, 0, 0, batches.get(0).examples()));
        }
        if (lora != null) {
            batches.replaceAll(b -> b.withLora(lora));
        }
        OnlineTrainer.Settings s = new OnlineTrainer.Settings(model, root.resolve("state"),
                new CheckpointStore(root.resolve("store")), null, AdamWConfig.defaults().withLr(1e-4), 1.0, 32, 1);
        double[] step = new double[runs];
        double[] save = new double[runs];
        double version;
        double lastStepWithVersion;
        try (OnlineTrainer t = OnlineTrainer.open(s)) {
            t.train(batches.get(0));
            t.saveState(Map.of("p-0", 1L));
            for (int i = 0; i < runs; i++) {
                long t0 = System.nanoTime();
                t.train(batches.get(i + 1));
                long t1 = System.nanoTime();
                t.saveState(Map.of("p-0", i + 2L));
                long t2 = System.nanoTime();
                step[i] = (t1 - t0) / 1e9;
                save[i] = (t2 - t1) / 1e9;
            }
            long t0 = System.nanoTime();
            OnlineTrainer.Outcome o = t.train(batches.get(runs + 1));
            lastStepWithVersion = (System.nanoTime() - t0) / 1e9;
            if (!(o instanceof OnlineTrainer.Trained trained) || trained.checkpoint().isEmpty()) {
                throw new AssertionError("the last batch should have written the version: " + o);
            }
        }
        long stateBytes;
        Path newest = TrainerCheckpoint.latest(root.resolve("state/runs/bench/states")).orElseThrow();
        try (var files = Files.walk(newest)) {
            stateBytes = files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
        double st = median(step), sv = median(save);
        double stMin = Arrays.stream(step).min().orElseThrow(), svMin = Arrays.stream(save).min().orElseThrow();
        if (lora != null) {
            // an adapter version is written inside the iteration's last step: that step less a median step
            System.out.printf("durability on %s with LoRA r %d (all seven targets), %d SSO examples per step: median"
                    + " step %.3f s, state save %.3f s (%.2f MB: the adapter and its moments) = %.1f%% of a step"
                    + " (minima: %.3f s, %.3f s = %.1f%%); saving per step at save-every-steps=N: %.3f s / N; the"
                    + " step that wrote the adapter version %.3f s (a median step %.3f s)%n", model, loraRank, batch,
                    st, sv, stateBytes / 1e6, 100 * sv / st, stMin, svMin, 100 * svMin / stMin, sv,
                    lastStepWithVersion, st);
            System.out.printf("steps %s%nsaves %s%n", Arrays.toString(step), Arrays.toString(save));
            return;
        }
        // a version alone: the weights as the store writes them at an iteration's end (config, safetensors,
        // tokenizer, checkpoint.json, every file forced, renamed)
        HfCheckpoint weights = HfCheckpoint.load(newest);
        CheckpointStore versions = new CheckpointStore(root.resolve("versions"));
        double[] write = new double[runs];
        for (int i = 0; i < runs; i++) {
            long t0 = System.nanoTime();
            versions.write("bench", i + 1, 0, i, Map.of(), weights, model);
            write[i] = (System.nanoTime() - t0) / 1e9;
        }
        version = median(write);
        System.out.printf("durability on %s, %d SSO examples per step: median step %.3f s, state save %.3f s"
                + " (%.1f MB) = %.1f%% of a step (minima: %.3f s, %.3f s = %.1f%%); saving per step at"
                + " save-every-steps=N: %.3f s / N; a version write %.3f s (median)%n", model, batch, st, sv,
                stateBytes / 1e6, 100 * sv / st, stMin, svMin, 100 * svMin / stMin, sv, version);
        System.out.printf("steps %s%nsaves %s%n", Arrays.toString(step), Arrays.toString(save));
    }

    private static double median(double[] x) {
        double[] c = x.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
