package steer.serving;

import java.util.List;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import steer.model.SamplingParams;

/**
 * Sampling settings as a caller sends them, with absent values, resolved against service defaults and limits.
 *
 * @param maxNewTokens 0 for the default
 * @param temperature  absent for the default; 0 is greedy
 * @param topP         absent for the default
 * @param topK         0 for off
 * @param seed         absent: the service picks one and reports it
 * @param stop         stop strings; the response ends before the first one
 */
public record SamplingRequest(int maxNewTokens, OptionalDouble temperature, OptionalDouble topP, int topK,
                              OptionalLong seed, List<String> stop) {

    /**
     * Service defaults and limits.
     *
     * @param maxNewTokens   new tokens when the caller sets none (SSO's sampling: 32)
     * @param temperature    temperature when absent (SSO: 0.7)
     * @param topP           top-p when absent (SSO: 0.8)
     * @param maxTemperature largest temperature accepted (5, as the contract says)
     * @param maxStops       most stop strings accepted
     * @param maxStopChars   longest stop string accepted
     */
    public record Defaults(int maxNewTokens, double temperature, double topP, double maxTemperature, int maxStops,
                           int maxStopChars) {

        /** SSO's sampling (temperature 0.7, top-p 0.8, 32 new tokens); temperature at most 5; 8 stop strings of 64 chars. */
        public static Defaults sso() {
            return new Defaults(32, 0.7, 0.8, 5, 8, 64);
        }
    }

    /**
     * Validates and fills in defaults.
     *
     * @param field        the path of the sampling message, e.g. {@code sampling}
     * @param defaults     service defaults and limits
     * @param maxPositions the model's context, which bounds max_new_tokens
     * @param pickedSeed   the seed to use when the caller sent none
     * @throws InvalidFieldException naming the first offending field
     */
    public SamplingParams resolve(String field, Defaults defaults, int maxPositions, long pickedSeed) {
        int newTokens = maxNewTokens == 0 ? defaults.maxNewTokens() : maxNewTokens;
        Validation.requireInRange(field + ".max_new_tokens", newTokens, 1, maxPositions - 1);
        double t = temperature.orElse(defaults.temperature());
        Validation.requireClosed(field + ".temperature", t, 0, defaults.maxTemperature());
        double p = topP.orElse(defaults.topP());
        Validation.requireOpenClosed(field + ".top_p", p, 0, 1);
        if (topK < 0) {
            throw new InvalidFieldException(field + ".top_k", topK + " is negative; 0 means off");
        }
        if (stop.size() > defaults.maxStops()) {
            throw new InvalidFieldException(field + ".stop", stop.size() + " items; at most " + defaults.maxStops());
        }
        for (int i = 0; i < stop.size(); i++) {
            String s = stop.get(i);
            if (s.isEmpty()) {
                throw new InvalidFieldException(field + ".stop[" + i + "]", "empty");
            }
            Validation.requireMaxChars(field + ".stop[" + i + "]", s, defaults.maxStopChars());
        }
        return new SamplingParams(newTokens, t, p, topK, seed.orElse(pickedSeed));
    }
}
