package steer.judge.api;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.util.List;
import java.util.Optional;
import steer.serving.grpc.ModelServingConfig;

/**
 * The judge's settings, prefix {@code steer.judge}; read once at startup. The start model (OSP pins the SFT
 * model), LoadModel root, batcher and text-length keys are those of {@link ModelServingConfig}; the batchers'
 * queue capacity applies per kind (pairwise, rubric).
 */
@ConfigMapping(prefix = "steer.judge")
public interface JudgeConfig extends ModelServingConfig {

    /** Name of the model served at start; requests with an empty model field use it. */
    @Override
    @WithDefault("judge")
    String modelName();

    /** Accepted API keys, sent as {@code authorization: Bearer <key>}; none = no authentication. */
    Optional<List<String>> apiKeys();

    /**
     * Judge template files ({@code steer.judge.templates}, comma-separated paths; see judge-svc/README.md) served
     * beside the built-in ones. An invalid file stops the service at start with the file and field named.
     */
    Optional<List<java.nio.file.Path>> templates();

    /** Most items in one batch request. */
    @WithDefault("256")
    int maxItems();
}
