package steer.judge.api;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;
import steer.judge.CalibrationFile;
import steer.serving.ModelRegistry;
import steer.serving.ServedModel;

/**
 * The calibration temperatures of the served judge models, read from each checkpoint's {@value CalibrationFile#FILE}
 * once per checkpoint directory and version. A temperature applies only to the model version it was read with: a comparison
 * judged by another version (a hot swap in between) gets no calibrated value.
 */
final class Calibrations {

    private static final Logger LOG = Logger.getLogger(Calibrations.class);

    private final ModelRegistry registry;
    private final Map<String, Map<String, Double>> byCheckpoint = new ConcurrentHashMap<>();

    Calibrations(ModelRegistry registry) {
        this.registry = registry;
    }

    /** The temperature of {@code template} for {@code model} at {@code version}, if its checkpoint carries one. */
    OptionalDouble temperature(String model, long version, String template) {
        Optional<ServedModel> served = registry.find(model);
        if (served.isEmpty() || served.get().version() != version) {
            return OptionalDouble.empty();
        }
        Path dir = served.get().location();
        Map<String, Double> t = byCheckpoint.computeIfAbsent(dir + "@" + version, key -> {
            try {
                return CalibrationFile.read(dir);
            } catch (IllegalArgumentException e) {
                // a malformed file must not fail comparisons: they are served uncalibrated, and the log says why
                LOG.warnf("model '%s': %s; serving it uncalibrated", model, e.getMessage());
                return Map.of();
            }
        });
        Double value = t.get(template);
        return value == null ? OptionalDouble.empty() : OptionalDouble.of(value);
    }
}
