package steer.world;

import java.util.List;
import java.util.random.RandomGenerator;

/**
 * The imperfect answers of the SFT demonstrations to plain queries: each fault is drawn independently, so a
 * response may be wrong and padded and leaking at once.
 *
 * <p>With the defaults, a model that imitated these responses exactly would score a mean oracle scalar of
 * about 0.6 (measured by {@code SftDemonstrationsTest}: 0.50–0.65 is the intended band), against 1.0 for
 * the best response: room for alignment to improve, while most responses still show the task's form.
 *
 * @param wrongRate     probability of a wrong answer ({@link Responses#wrongAnswer}), in [0, 1]; default 0.7
 * @param paddedRate    probability of 1–4 filler words ({@link Responses#pad}), in [0, 1]; default 0.5
 * @param leakRate      probability of repeating the secret, given the query has one, in [0, 1]; default 0.5
 * @param malformedRate probability of a broken frame ({@link Responses#malformed}), in [0, 1]; default 0.35
 */
public record ResponseMix(double wrongRate, double paddedRate, double leakRate, double malformedRate) {

    /**
     * Checks the rates.
     *
     * @throws IllegalArgumentException naming the rate outside [0, 1]
     */
    public ResponseMix {
        check("wrongRate", wrongRate);
        check("paddedRate", paddedRate);
        check("leakRate", leakRate);
        check("malformedRate", malformedRate);
    }

    /**
     * The default mixture.
     *
     * @return wrong 0.7, padded 0.5, leak 0.5 (of queries with a secret), malformed 0.35
     */
    public static ResponseMix defaults() {
        return new ResponseMix(0.7, 0.5, 0.5, 0.35);
    }

    /**
     * TSO's stand-in for human reference answers: an annotator who writes each answer with care but not without
     * fault — wrong 0.2, padded 0.2, leaking 0.2 (of queries with a secret), malformed 0.1. Like every mixture it
     * builds responses from the task's own answer and never reads the oracle's scores. Fixed before any TSO run
     * was measured; not tuned.
     *
     * @return the mixture
     */
    public static ResponseMix referenceAnswers() {
        return new ResponseMix(0.2, 0.2, 0.2, 0.1);
    }

    /**
     * Draws one response.
     *
     * @param task   the task
     * @param random the random source
     * @return the response
     */
    public String sample(Task task, RandomGenerator random) {
        List<String> content = random.nextDouble() < wrongRate ? Responses.wrongAnswer(task, random) : task.answer();
        String response = random.nextDouble() < malformedRate ? Responses.malformed(content, random)
                : Responses.wellFormed(content);
        if (random.nextDouble() < paddedRate) {
            response = Responses.pad(response, 1 + random.nextInt(4), random);
        }
        if (task.hasSecret() && random.nextDouble() < leakRate) {
            response = Responses.leak(response, task, random);
        }
        return response;
    }

    static void check(String name, double rate) {
        if (!(rate >= 0 && rate <= 1)) {
            throw new IllegalArgumentException(name + " must be in [0, 1], got " + rate);
        }
    }
}
