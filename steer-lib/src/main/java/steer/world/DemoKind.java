package steer.world;

/** What an SFT demonstration teaches. */
public enum DemoKind {
    /** A plain query answered by the imperfect {@link ResponseMix}. */
    PLAIN,
    /** A query under a good principle (SSO's x+), answered mostly as the principle asks. */
    GOOD_PRINCIPLE,
    /** A query under a bad principle (SSO's x-), answered mostly with the named features violated. */
    BAD_PRINCIPLE,
    /** A feature allocation instruction and its rule-based answer. */
    ALLOCATION,
    /** A pairwise judge instruction answered {@code A} or {@code B}. */
    JUDGE_PAIRWISE,
    /** A rubric judge instruction answered with a score 2..10. */
    JUDGE_RUBRIC
}
