package steer.align;

/**
 * One SSO training example in text form, as published to the trainer: the three prompts and the three responses
 * sampled under them. (The trainer tokenizes; {@link steer.data.SsoExample} is the token form.)
 *
 * @param prompt      x
 * @param promptPlus  x+
 * @param promptMinus x-
 * @param yPlus       y+, sampled under x+
 * @param yMinus      y-, sampled under x-
 * @param yOrig       y°, sampled under x
 * @param feature     the allocated features' label, for diagnostics only
 */
public record SsoTriple(String prompt, String promptPlus, String promptMinus, String yPlus, String yMinus,
                        String yOrig, String feature) implements RoundExample {
}
