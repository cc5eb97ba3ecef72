package steer.align;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.Collections;

/**
 * What a run has done in one iteration, as persisted.
 *
 * @param iteration           the iteration, from 0
 * @param phase               the last phase finished
 * @param policyVersion       the checkpoint version that sampled this iteration (= iteration)
 * @param examples            the kept triples; kept until the iteration is trained, then cleared to keep the state
 *                            file small
 * @param exampleCount        number of kept triples
 * @param dropped             degenerate triples dropped
 * @param allocationFallbacks model allocations that fell back to the rule
 * @param batches             planned pair batches
 * @param publishedBatchIds   batch ids known to be committed on the topic
 * @param checkpointVersion   the trainer's checkpoint version after this iteration, or 0 before it is seen
 * @param checkpointLocation  its directory, or empty
 * @param step                the trainer's optimizer steps so far in the run
 * @param trainMetrics        the trainer's means over the iteration's steps (loss, sso_weight, …)
 * @param evalMetrics         the oracle evaluation of the checkpoint ({@link EvalMetrics})
 * @param seconds             wall time spent on this iteration so far, over all attempts
 */
public record IterationRecord(int iteration, IterationPhase phase, long policyVersion, List<SsoTriple> examples,
                              int exampleCount, int dropped, int allocationFallbacks, int batches,
                              List<String> publishedBatchIds, long checkpointVersion, String checkpointLocation,
                              long step, Map<String, Double> trainMetrics, Map<String, Double> evalMetrics,
                              double seconds) {

    /** Copies the collections, unmodifiable; null collections become empty. */
    public IterationRecord {
        examples = examples == null ? List.of() : List.copyOf(examples);
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
    public static IterationRecord sampled(int iteration, long policyVersion, List<SsoTriple> examples, int dropped,
                                          int allocationFallbacks, int batches, double seconds) {
        return new IterationRecord(iteration, IterationPhase.SAMPLED, policyVersion, examples, examples.size(),
                dropped, allocationFallbacks, batches, List.of(), 0, "", 0, Map.of(), Map.of(), seconds);
    }

    /** This record with more published ids (phase unchanged). */
    public IterationRecord withPublished(List<String> ids) {
        return new IterationRecord(iteration, phase, policyVersion, examples, exampleCount, dropped,
                allocationFallbacks, batches, ids, checkpointVersion, checkpointLocation, step, trainMetrics,
                evalMetrics, seconds);
    }

    /** This record in another phase. */
    public IterationRecord withPhase(IterationPhase next) {
        return new IterationRecord(iteration, next, policyVersion, examples, exampleCount, dropped,
                allocationFallbacks, batches, publishedBatchIds, checkpointVersion, checkpointLocation, step,
                trainMetrics, evalMetrics, seconds);
    }

    /** This record trained: the checkpoint seen, the examples no longer needed. */
    public IterationRecord trained(long version, String location, long trainerStep, Map<String, Double> metrics) {
        return new IterationRecord(iteration, IterationPhase.TRAINED, policyVersion, List.of(), exampleCount, dropped,
                allocationFallbacks, batches, publishedBatchIds, version, location, trainerStep, metrics, evalMetrics,
                seconds);
    }

    /** This record evaluated. */
    public IterationRecord evaluated(Map<String, Double> metrics) {
        return new IterationRecord(iteration, IterationPhase.EVALUATED, policyVersion, examples, exampleCount, dropped,
                allocationFallbacks, batches, publishedBatchIds, checkpointVersion, checkpointLocation, step,
                trainMetrics, metrics, seconds);
    }

    /** This record with more wall time. */
    public IterationRecord plusSeconds(double more) {
        return new IterationRecord(iteration, phase, policyVersion, examples, exampleCount, dropped,
                allocationFallbacks, batches, publishedBatchIds, checkpointVersion, checkpointLocation, step,
                trainMetrics, evalMetrics, seconds + more);
    }
}
