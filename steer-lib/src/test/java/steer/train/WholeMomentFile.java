package steer.train;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import steer.checkpoint.HostTensor;
import steer.checkpoint.SafetensorsWriter;

/** What {@code optimizer.safetensors} held when the moments were copied out whole first: the streamed save's yardstick. */
public final class WholeMomentFile {

    private WholeMomentFile() {
    }

    /** Writes {@code optimizer}'s moments through {@link AdamW#exportState} and the whole-collection writer. */
    public static void write(Path file, AdamW optimizer) {
        AdamWState s = optimizer.exportState();
        List<HostTensor> moments = new ArrayList<>();
        for (Map.Entry<String, float[]> e : s.firstMoments().entrySet()) {
            moments.add(new HostTensor("m." + e.getKey(), new long[] {e.getValue().length}, e.getValue()));
            float[] v = s.secondMoments().get(e.getKey());
            moments.add(new HostTensor("v." + e.getKey(), new long[] {v.length}, v));
        }
        SafetensorsWriter.write(file, moments);
    }
}
