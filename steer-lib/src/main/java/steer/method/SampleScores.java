package steer.method;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

/** A judge's scores of each prompt's samples, asked in one batch for the non-empty samples only. */
final class SampleScores {

    private SampleScores() {
    }

    /**
     * Scores every non-empty sample in one call and groups the scores per prompt; empty samples are never asked
     * (the judge service refuses an empty response) and get {@code emptyScore}.
     *
     * @param x          the prompts
     * @param samples    per prompt, its samples
     * @param judge      scores (prompts, responses) pairwise in order
     * @param emptyScore the score of an empty sample (may be null)
     * @return per prompt, its samples' scores, in order
     */
    static List<List<Double>> perPrompt(List<String> x, List<List<String>> samples,
                                        BiFunction<List<String>, List<String>, List<Double>> judge, Double emptyScore) {
        List<String> flatPrompts = new ArrayList<>();
        List<String> flatResponses = new ArrayList<>();
        for (int p = 0; p < x.size(); p++) {
            for (String y : samples.get(p)) {
                if (!y.isBlank()) {
                    flatPrompts.add(x.get(p));
                    flatResponses.add(y);
                }
            }
        }
        List<Double> flat = flatPrompts.isEmpty() ? List.of() : judge.apply(flatPrompts, flatResponses);
        List<List<Double>> out = new ArrayList<>(x.size());
        int at = 0;
        for (int p = 0; p < x.size(); p++) {
            List<Double> scores = new ArrayList<>(samples.get(p).size());
            for (String y : samples.get(p)) {
                scores.add(y.isBlank() ? emptyScore : flat.get(at++));
            }
            out.add(scores);
        }
        return out;
    }
}
