/**
 * The orchestration logic of an alignment run that is not glue: which prompts an iteration uses, how SSO's
 * x / x+ / x- are built and the sampled triples filtered, how examples become pair batches with stable ids, the
 * persisted state of a run, and where a restarted run continues. Plain Java over plain data, so that every
 * decision the orchestrator service takes can be tested without a generator, a trainer or a broker.
 *
 * <p>An SSO iteration (Xiang et al. 2024, arXiv 2410.17131, Algorithm 1), as the service drives it:
 *
 * <pre>
 * prompts    {@link steer.align.RunWorld#iterationTasks}         the iteration's split of the oracle world
 * allocate   {@link steer.align.SsoTriples#allocateByRule} or {@link steer.align.SsoTriples#allocateFromAnswers}
 * sample     y° under x, y+ under x+, y- under x- (the generator, outside this package)
 * filter     {@link steer.align.SsoTriples#build}                 drops degenerate triples
 * batch      {@link steer.align.BatchPlan#plan}                   batch ids {@code <run>-it<i>-b<k>}
 * persist    {@link steer.align.RunStateStore}                   one JSON file per run, written atomically
 * resume     {@link steer.align.RunProgress#next}                what to do next after a restart
 * </pre>
 *
 * <p>Nothing here imports protobuf, gRPC, Kafka or Quarkus; the service converts its messages to and from these
 * records.
 */
package steer.align;
