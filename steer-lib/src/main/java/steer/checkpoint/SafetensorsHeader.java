package steer.checkpoint;

import java.nio.file.Path;
import java.util.Map;

/**
 * The parsed header of one safetensors file.
 *
 * @param file     the file
 * @param tensors  the tensors by name, in header order
 * @param metadata the optional {@code __metadata__} string map (empty if absent)
 */
public record SafetensorsHeader(Path file, Map<String, SafetensorsEntry> tensors, Map<String, String> metadata) {
}
