package steer.world;

/**
 * The make-up of the SFT demonstrations ({@link SftDemonstrations}). The five weights give each kind's
 * share of draws (they are normalised, so need not sum to 1); a pairwise draw yields two demonstrations, the
 * pair in both orders.
 *
 * @param plainWeight          share of plain queries; default 0.4
 * @param principleWeight      share of principle-prefixed queries, half good and half bad; default 0.3
 * @param allocationWeight     share of allocation instructions; default 0.1
 * @param pairwiseWeight       share of pairwise judge draws; default 0.1
 * @param rubricWeight         share of rubric judge instructions; default 0.1
 * @param responses            the imperfect answers to plain queries, and the noise elsewhere; default
 *                             {@link ResponseMix#defaults()}
 * @param principleFollowRate  probability that a principle-prefixed query is answered as the principle asks
 *                             (else a {@code responses} draw), in [0, 1]; default 0.85
 * @param concisionProbability probability of adding concision to a principle's drawn feature, in [0, 1];
 *                             default 0.2 (SSO authors' code)
 * @param judgeLabelNoise      probability that a judge demonstration carries a wrong label (pairwise: flipped;
 *                             rubric: another response's score), in [0, 1]; default 0 (oracle labels)
 * @param clearViolations      whether a followed bad principle is answered by {@link Responses#violatingClearly}
 *                             (an unmistakable violation: a clearly wrong answer, 4–7 fillers, no marker)
 *                             rather than {@link Responses#violating} (a near miss); default false
 */
public record DemoMixture(double plainWeight, double principleWeight, double allocationWeight,
        double pairwiseWeight, double rubricWeight, ResponseMix responses, double principleFollowRate,
        double concisionProbability, double judgeLabelNoise, boolean clearViolations) {

    /**
     * Checks the values.
     *
     * @throws IllegalArgumentException naming a negative weight, an all-zero mixture or a rate outside [0, 1]
     */
    public DemoMixture {
        double[] weights = {plainWeight, principleWeight, allocationWeight, pairwiseWeight, rubricWeight};
        double sum = 0;
        for (double w : weights) {
            if (!(w >= 0) || Double.isInfinite(w)) {
                throw new IllegalArgumentException("mixture weights must be finite and >= 0, got " + w);
            }
            sum += w;
        }
        if (sum == 0) {
            throw new IllegalArgumentException("at least one mixture weight must be positive");
        }
        if (responses == null) {
            throw new IllegalArgumentException("responses must not be null");
        }
        ResponseMix.check("principleFollowRate", principleFollowRate);
        ResponseMix.check("concisionProbability", concisionProbability);
        ResponseMix.check("judgeLabelNoise", judgeLabelNoise);
    }

    /** A mixture whose bad principles are answered by near misses ({@code clearViolations} false). */
    public DemoMixture(double plainWeight, double principleWeight, double allocationWeight, double pairwiseWeight,
            double rubricWeight, ResponseMix responses, double principleFollowRate, double concisionProbability,
            double judgeLabelNoise) {
        this(plainWeight, principleWeight, allocationWeight, pairwiseWeight, rubricWeight, responses,
                principleFollowRate, concisionProbability, judgeLabelNoise, false);
    }

    /**
     * The default mixture.
     *
     * <p>Judge demonstrations carry the seed set's label noise (15% wrong), as human annotation would: the SFT
     * data stands in for what a team could collect, so it never holds the oracle's exact verdicts.
     *
     * @return weights 0.4 / 0.3 / 0.1 / 0.1 / 0.1, default responses, follow rate 0.85, concision 0.2, judge
     *         label noise 0.15
     */
    public static DemoMixture defaults() {
        return new DemoMixture(0.4, 0.3, 0.1, 0.1, 0.1, ResponseMix.defaults(), 0.85,
                FeatureAllocation.DEFAULT_CONCISION_PROBABILITY, JudgeSeedSet.DEFAULT_FLIP_RATE);
    }

    /**
     * The medium model's mixture ({@link WorldModelSize#MEDIUM}), the yardstick the alignment methods are
     * measured on: fewer plain queries and more principle-prefixed ones, followed more often and violated
     * clearly, so that x+ and x- steer the model apart; more pairwise judge demonstrations (with the same
     * label noise) and fewer allocation and rubric ones. Plain queries keep the default noisy answers.
     *
     * @return weights 0.20 / 0.45 / 0.05 / 0.30 / 0.05, default responses, follow rate 0.95, concision 0.2, judge
     *         label noise 0.15, clear violations
     */
    public static DemoMixture medium() {
        return new DemoMixture(0.20, 0.45, 0.05, 0.30, 0.05, ResponseMix.defaults(), 0.95,
                FeatureAllocation.DEFAULT_CONCISION_PROBABILITY, JudgeSeedSet.DEFAULT_FLIP_RATE, true);
    }
}
