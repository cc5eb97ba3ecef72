package steer.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import steer.model.LanguageModel;
import steer.model.SamplingParams;
import steer.model.TextCompletion;

/** Prints a prompt followed by the model's continuation. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Print the prompt followed by its continuation.")
final class GenerateCommand implements Runnable {

    @Option(names = "--model", required = true, description = "model directory (Hugging Face layout)")
    Path model;

    @Option(names = "--prompt", required = true, description = "the text to continue (with --chat: the user's message)")
    String prompt;

    @Option(names = "--chat", description = "render the prompt as a user turn through the model's chat template"
            + " (tokenizer_config.json) with the generation prompt, and answer as the assistant")
    boolean chat;

    @Option(names = "--system", description = "with --chat: a system message before the user's")
    String system;

    @Option(names = "--max-new-tokens", defaultValue = "128", description = "default: ${DEFAULT-VALUE}")
    int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "1.0", description = "0 for greedy; default: ${DEFAULT-VALUE}")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1.0", description = "nucleus sampling, (0, 1]; default: ${DEFAULT-VALUE}")
    double topP;

    @Option(names = "--top-k", defaultValue = "0", description = "0 keeps all tokens; default: ${DEFAULT-VALUE}")
    int topK;

    @Option(names = "--seed", defaultValue = "0", description = "sampling seed; default: ${DEFAULT-VALUE}")
    long seed;

    @Option(names = "--stop", description = "stop when the continuation contains this text (repeatable)")
    List<String> stop = List.of();

    @picocli.CommandLine.Mixin
    PlacementOptions placement = new PlacementOptions();

    @Option(names = "--json", description = "print one JSON object with the text, token ids and per-token log-probs")
    boolean json;

    @Override
    public void run() {
        SamplingParams params = new SamplingParams(maxNewTokens, temperature, topP, topK, seed);
        try (LanguageModel lm = LanguageModel.load(model, placement.placement())) {
            if (system != null && !chat) {
                throw new IllegalArgumentException("--system needs --chat");
            }
            TextCompletion c;
            String shown = prompt;
            if (chat) {
                List<steer.tokenizer.ChatTemplate.Message> messages = new java.util.ArrayList<>();
                if (system != null) {
                    messages.add(steer.tokenizer.ChatTemplate.Message.system(system));
                }
                messages.add(steer.tokenizer.ChatTemplate.Message.user(prompt));
                c = lm.completeChat(List.of(messages), params, stop).get(0);
                shown = lm.tokenizer().chatTemplate().orElseThrow().render(messages, true);
            } else {
                c = lm.complete(List.of(prompt), params, stop).get(0);
            }
            if (json) {
                ObjectMapper mapper = new ObjectMapper();
                ObjectNode o = mapper.createObjectNode();
                o.put("prompt", shown);
                o.put("completion", c.text());
                o.put("text", shown + c.text());
                o.putPOJO("prompt_token_ids", c.promptIds());
                o.putPOJO("token_ids", c.tokenIds());
                o.putPOJO("logprobs", c.logProbs());
                o.put("finish_reason", c.finishReason().name().toLowerCase());
                o.put("peak_resident_mb", ProcessMemory.peakResidentKb() / 1024);
                System.out.println(o);
            } else {
                System.out.println(shown + c.text());
                System.err.println(ProcessMemory.peakLine());
            }
        }
    }
}
