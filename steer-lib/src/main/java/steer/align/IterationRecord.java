package steer.align;

import com.fasterxml.jackson.annotation.JsonCreator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.Collections;

/**
 * What a run has done in one round, as persisted. A round is a whole iteration for SSO and PBAA, and a slice of an
 * iteration split for online methods (OSP, Self-Rewarding); each round ends with a checkpoint version.
 *
 * @param iteration           the round, from 0 (named for SSO, where a round is an iteration)
 * @param phase               the last phase finished
 * @param policyVersion       the checkpoint version that sampled this round
 * @param examples            the kept examples (SSO triples or judged pairs); kept until the round is trained, then
 *                            cleared to keep the state file small
 * @param exampleCount        number of kept examples
 * @param dropped             degenerate examples dropped
 * @param allocationFallbacks model allocations that fell back to the rule
 * @param batches             planned pair batches
 * @param publishedBatchIds   batch ids known to be committed on the topic
 * @param checkpointVersion   the trainer's checkpoint version after this iteration, or 0 before it is seen
 * @param checkpointLocation  its directory, or empty
 * @param step                the trainer's optimizer steps so far in the run
 * @param trainMetrics        the trainer's means over the iteration's steps (loss, sso_weight, …)
 * @param evalMetrics         the oracle evaluation of the checkpoint ({@link EvalMetrics})
 * @param seconds             wall time spent on this round so far, over all attempts
 * @param facts               what the round was built from and spent (split, samples, judge, reference)
 */
public record IterationRecord(int iteration, IterationPhase phase, long policyVersion, List<RoundExample> examples,
                              int exampleCount, int dropped, int allocationFallbacks, int batches,
                              List<String> publishedBatchIds, long checkpointVersion, String checkpointLocation,
                              long step, Map<String, Double> trainMetrics, Map<String, Double> evalMetrics,
                              double seconds, RoundFacts facts) {

    /**
     * What a round was built from and what it spent.
     *
     * @param split             the iteration split its prompts come from
     * @param samplesDrawn      responses sampled from the policy
     * @param judgeComparisons  judge calls (each covers both orders)
     * @param referenceVersion  the version its losses are measured against (0 = the SFT model)
     * @param judgeModel        the judge model it asked, or empty
     * @param judgeModelVersion that model's version
     * @param pairSources       the kept pairs by where their responses came from, {@code chosen>rejected} (TSO's
     *                          matrix; empty when no pair names its sources)
     */
    public record RoundFacts(int split, long samplesDrawn, long judgeComparisons, long referenceVersion,
                             String judgeModel, long judgeModelVersion, Map<String, Long> pairSources) {

        /** Null text becomes empty; the sources sorted, unmodifiable. */
        @JsonCreator
        public RoundFacts {
            judgeModel = judgeModel == null ? "" : judgeModel;
            pairSources = pairSources == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(pairSources));
        }

        /** Facts without pair sources. */
        public RoundFacts(int split, long samplesDrawn, long judgeComparisons, long referenceVersion,
                          String judgeModel, long judgeModelVersion) {
            this(split, samplesDrawn, judgeComparisons, referenceVersion, judgeModel, judgeModelVersion, Map.of());
        }

        /** Nothing known (a state file written before rounds had facts). */
        public static RoundFacts none() {
            return new RoundFacts(0, 0, 0, 0, "", 0);
        }

        /**
         * Counts examples by their pairs' sources.
         *
         * @param examples a round's kept examples
         * @return {@code chosen>rejected} → pairs, for the pairs that name their sources
         */
        public static Map<String, Long> countSources(List<? extends RoundExample> examples) {
            Map<String, Long> counts = new TreeMap<>();
            for (RoundExample e : examples) {
                if (e instanceof JudgedPair p && !p.chosenSource().isEmpty()) {
                    counts.merge(p.chosenSource() + ">" + p.rejectedSource(), 1L, Long::sum);
                }
            }
            return counts;
        }
    }

    /** Copies the collections, unmodifiable; null collections become empty. */
    public IterationRecord {
        examples = examples == null ? List.of() : List.copyOf(examples);
        facts = facts == null ? RoundFacts.none() : facts;
        publishedBatchIds = publishedBatchIds == null ? List.of() : List.copyOf(publishedBatchIds);
        checkpointLocation = checkpointLocation == null ? "" : checkpointLocation;
        trainMetrics = sorted(trainMetrics);
        evalMetrics = sorted(evalMetrics);
    }

    private static Map<String, Double> sorted(Map<String, Double> m) {
        return m == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(m));
    }

    /**
     * A freshly sampled iteration.
     *
     * @return the record in phase {@link IterationPhase#SAMPLED}
     */
    public static IterationRecord sampled(int iteration, long policyVersion, List<? extends RoundExample> examples,
                                          int dropped, int allocationFallbacks, int batches, double seconds) {
        return new IterationRecord(iteration, IterationPhase.SAMPLED, policyVersion, List.copyOf(examples),
                examples.size(), dropped, allocationFallbacks, batches, List.of(), 0, "", 0, Map.of(), Map.of(),
                seconds, RoundFacts.none());
    }

    /** This record with the round's facts. */
    public IterationRecord withFacts(RoundFacts f) {
        return new IterationRecord(iteration, phase, policyVersion, examples, exampleCount, dropped,
                allocationFallbacks, batches, publishedBatchIds, checkpointVersion, checkpointLocation, step,
                trainMetrics, evalMetrics, seconds, f);
    }

    /** This record with more published ids (phase unchanged). */
    public IterationRecord withPublished(List<String> ids) {
        return new IterationRecord(iteration, phase, policyVersion, examples, exampleCount, dropped,
                allocationFallbacks, batches, ids, checkpointVersion, checkpointLocation, step, trainMetrics,
                evalMetrics, seconds, facts);
    }

    /** This record in another phase. */
    public IterationRecord withPhase(IterationPhase next) {
        return new IterationRecord(iteration, next, policyVersion, examples, exampleCount, dropped,
                allocationFallbacks, batches, publishedBatchIds, checkpointVersion, checkpointLocation, step,
                trainMetrics, evalMetrics, seconds, facts);
    }

    /** This record trained: the checkpoint seen, the examples no longer needed. */
    public IterationRecord trained(long version, String location, long trainerStep, Map<String, Double> metrics) {
        return new IterationRecord(iteration, IterationPhase.TRAINED, policyVersion, List.of(), exampleCount, dropped,
                allocationFallbacks, batches, publishedBatchIds, version, location, trainerStep, metrics, evalMetrics,
                seconds, facts);
    }

    /** This record evaluated. */
    public IterationRecord evaluated(Map<String, Double> metrics) {
        return new IterationRecord(iteration, IterationPhase.EVALUATED, policyVersion, examples, exampleCount, dropped,
                allocationFallbacks, batches, publishedBatchIds, checkpointVersion, checkpointLocation, step,
                trainMetrics, metrics, seconds, facts);
    }

    /** This record with more wall time. */
    public IterationRecord plusSeconds(double more) {
        return new IterationRecord(iteration, phase, policyVersion, examples, exampleCount, dropped,
                allocationFallbacks, batches, publishedBatchIds, checkpointVersion, checkpointLocation, step,
                trainMetrics, evalMetrics, seconds + more, facts);
    }
}
