package steer.judge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collections;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/**
 * A judge checkpoint's calibration: a temperature per pairwise template, in {@value #FILE} beside its weights, so a
 * judge service that loads the checkpoint serves the calibrated probability with the raw one. Written by
 * {@code steer judge calibrate --save-to-model}.
 */
public final class CalibrationFile {

    /** The file's name in the checkpoint directory. */
    public static final String FILE = "judge_calibration.json";
    private static final String FORMAT = "steer-judge-calibration-1";
    private static final ObjectMapper JSON = new ObjectMapper();

    private CalibrationFile() {
    }

    /**
     * The temperatures a checkpoint carries.
     *
     * @param modelDir the checkpoint directory
     * @return template id → T; empty when there is no file
     * @throws IllegalArgumentException naming the file when it is malformed or a temperature is not positive
     */
    public static Map<String, Double> read(Path modelDir) {
        Path file = modelDir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            return Map.of();
        }
        try {
            JsonNode root = JSON.readTree(file.toFile());
            if (root == null || !FORMAT.equals(root.path("format").asText()) || !root.path("temperatures").isObject()) {
                throw new IllegalArgumentException(file + ": not a judge calibration (expected format '" + FORMAT
                        + "' and an object 'temperatures')");
            }
            Map<String, Double> out = new TreeMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = root.get("temperatures").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                double t = e.getValue().asDouble(Double.NaN);
                if (!(t > 0) || !Double.isFinite(t)) {
                    throw new IllegalArgumentException(file + ": temperatures." + e.getKey() + " must be a positive"
                            + " number, got " + e.getValue());
                }
                out.put(e.getKey(), t);
            }
            return Collections.unmodifiableMap(out);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Records a template's temperature in a checkpoint, keeping the others', atomically (a temporary file renamed).
     *
     * @param modelDir the checkpoint directory
     * @param template the pairwise template's id
     * @param t        the temperature, positive
     */
    public static void write(Path modelDir, String template, double t) {
        if (!(t > 0) || !Double.isFinite(t)) {
            throw new IllegalArgumentException("temperature must be positive, got " + t);
        }
        Map<String, Double> all = new TreeMap<>(read(modelDir));
        all.put(template, t);
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        ObjectNode temps = root.putObject("temperatures");
        all.forEach(temps::put);
        Path tmp = modelDir.resolve("." + FILE + ".tmp");
        try {
            JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), root);
            Files.move(tmp, modelDir.resolve(FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("could not write " + modelDir.resolve(FILE), e);
        }
    }

    /**
     * p(A better) with temperature scaling: each order's answer-logit difference divided by T, both orders averaged.
     *
     * @param ab the logits with A shown first
     * @param ba the logits with B shown first
     * @param t  the temperature
     * @return the calibrated probability
     */
    public static double calibrated(PairwiseJudge.OrderLogits ab, PairwiseJudge.OrderLogits ba, double t) {
        double first = 1 / (1 + Math.exp(-((double) ab.a() - ab.b()) / t));
        double swapped = 1 / (1 + Math.exp(-((double) ba.a() - ba.b()) / t));
        return (first + 1 - swapped) / 2;
    }
}
