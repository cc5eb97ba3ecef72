package steer.data;

import java.util.List;

/**
 * A prompt and a response to imitate (SFT).
 *
 * @param prompt   prompt token ids, with BOS
 * @param response response token ids, ending in EOS when the response is complete
 */
public record Demonstration(int[] prompt, int[] response) implements TrainingExample {

    @Override
    public List<int[][]> sequences() {
        return List.<int[][]>of(new int[][] {prompt, response});
    }
}
