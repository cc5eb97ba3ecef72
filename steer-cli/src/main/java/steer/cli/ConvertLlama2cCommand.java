package steer.cli;

import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import steer.checkpoint.HfCheckpoint;
import steer.checkpoint.Llama2cCheckpoint;
import steer.tokenizer.Llama2cTokenizerConverter;
import steer.tokenizer.Llama2cVocabulary;
import steer.tokenizer.Tokenizer;

/** Converts a llama2.c checkpoint and tokenizer to the Hugging Face layout. */
@Command(name = "convert-llama2c", mixinStandardHelpOptions = true,
        description = "Convert a llama2.c checkpoint (.bin) and tokenizer (.bin) to a Hugging Face model directory.")
final class ConvertLlama2cCommand implements Runnable {

    @Option(names = "--model", required = true, description = "llama2.c checkpoint, e.g. stories260K.bin")
    Path model;

    @Option(names = "--tokenizer", required = true, description = "llama2.c tokenizer, e.g. tok512.bin")
    Path tokenizer;

    @Option(names = "--out", required = true, description = "output directory (created if needed)")
    Path out;

    @Override
    public void run() {
        HfCheckpoint checkpoint = Llama2cCheckpoint.load(model);
        Llama2cVocabulary vocabulary = Llama2cVocabulary.read(tokenizer, checkpoint.config().vocabSize());
        checkpoint.save(out);
        Llama2cTokenizerConverter.write(vocabulary, out.resolve(Tokenizer.FILE_NAME));
        System.out.printf("wrote %s: config.json, model.safetensors (%d tensors), %s (%d tokens)%n", out,
                checkpoint.tensors().size(), Tokenizer.FILE_NAME, vocabulary.size());
    }
}
