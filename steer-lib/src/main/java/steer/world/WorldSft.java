package steer.world;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import steer.checkpoint.DecoderConfig;
import steer.checkpoint.HfCheckpoint;
import steer.data.RecordKind;
import steer.data.TrainingDataReader;
import steer.data.TrainingDataWriter;
import steer.data.TrainingExample;
import steer.model.DecoderInit;
import steer.objective.Sft;
import steer.tokenizer.Tokenizer;
import steer.train.AdamWConfig;
import steer.train.PolicyTrainer;
import steer.train.TrainerCheckpoint;
import steer.train.TrainingConfig;
import steer.train.TrainingRun;

/**
 * Trains one of the world's SFT models from scratch: a random Llama-family decoder of the given size, the
 * world's word-level tokenizer, and the imperfect demonstrations of {@link SftDemonstrations} drawn from the
 * SFT split, in the size's number and mixture ({@link WorldModelSize}). The result is a model directory in the Hugging Face layout plus the demonstrations and the
 * training metrics; the same seed reproduces it.
 */
public final class WorldSft {

    /** Demonstrations drawn per run by default (the steps cycle over them in a seeded order). */
    public static final int DEMONSTRATIONS = 24_000;

    private WorldSft() {
    }

    /**
     * Trains and writes {@code out}: {@code config.json}, {@code model.safetensors}, {@code tokenizer.json},
     * {@code sft.jsonl} (the demonstrations) and {@code metrics.jsonl}; the run's working files go to
     * {@code out/run} and are removed at the end.
     */
    public static void train(WorldModelSize size, Path out, long seed, Consumer<PolicyTrainer.StepResult> progress) {
        try {
            Path run = out.resolve("run");
            Path init = run.resolve("init");
            Files.createDirectories(init);
            WorldVocabulary.writeTokenizer(init);
            DecoderConfig config;
            try (Tokenizer tokenizer = Tokenizer.load(init)) {
                config = size.config(tokenizer.vocabSize());
            }
            HfCheckpoint.save(init, config, DecoderInit.defaults().tensors(config, seed));

            WorldSplits splits = WorldSplits.of(seed);
            List<Demo> demos = SftDemonstrations.generate(splits.sft(), size.demonstrations(), size.mixture(), seed);
            List<Map<String, ?>> records = new ArrayList<>();
            for (Demo d : demos) {
                records.add(Map.of("prompt", d.prompt(), "response", d.response(), "kind", d.kind().name().toLowerCase()));
            }
            Path data = out.resolve("sft.jsonl");
            TrainingDataWriter.write(data, RecordKind.SFT, records);
            List<TrainingExample> examples;
            try (Tokenizer tokenizer = Tokenizer.load(init)) {
                examples = TrainingDataReader.forModel(tokenizer, config).read(data, RecordKind.SFT);
            }
            int batch = 32;
            int epochs = (int) Math.ceil(size.steps() * (double) batch / examples.size());
            ObjectNode settings = new ObjectMapper().createObjectNode();
            settings.put("objective", "sft");
            settings.put("world_seed", seed);
            settings.put("size", size.toString());
            TrainingRun.Spec spec = new TrainingRun.Spec(init, run.resolve("out"), new Sft(),
                    new TrainingConfig(AdamWConfig.defaults().withLr(size.lr()), size.schedule(), 1.0, 32), batch, epochs, size.steps(), 0, 0, seed, false,
                    settings);
            TrainingRun.run(spec, examples, false, progress);
            for (String f : new String[] {"config.json", "model.safetensors", Tokenizer.FILE_NAME, TrainingRun.METRICS_FILE}) {
                Files.copy(run.resolve("out").resolve(f), out.resolve(f), StandardCopyOption.REPLACE_EXISTING);
            }
            TrainerCheckpoint.deleteRecursively(run);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
