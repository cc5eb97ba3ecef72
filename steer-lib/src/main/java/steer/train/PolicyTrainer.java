package steer.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import steer.data.Demonstration;
import steer.data.PreferencePair;
import steer.data.SsoExample;
import steer.data.TrainingExample;
import steer.model.Decoder;
import steer.model.ResponseLogProbs;
import steer.model.SequenceScorer;
import steer.objective.LogpsSource;
import steer.objective.LossResult;
import steer.objective.Objective;
import steer.objective.PairObjective;
import steer.objective.PreferenceLogps;
import steer.objective.Sft;
import steer.objective.SftLogps;
import steer.objective.Sso;
import steer.objective.SsoLogps;
import steer.model.Scalars;

/**
 * Runs optimizer steps of one objective on a policy decoder: forward over every sequence of a micro-batch in
 * one pass, the objective's loss, backward, gradient accumulation over micro-batches, global-norm clipping,
 * then one AdamW step at the scheduled learning rate.
 *
 * <p>With a LoRA adapter ({@link Decoder#withAdapter}) only the adapter is trained: AdamW holds moments for
 * its matrices alone, and the base weights never record a gradient, so the plain base decoder can serve as the
 * reference without a second copy.
 *
 * <p>The reference model is a frozen copy of the starting checkpoint. Its log-probs come either from that copy
 * on every micro-batch ({@link #frozenReference}) or from a table computed once before training
 * ({@link #precomputeReference}), after which the copy can be closed; both give the same losses.
 *
 * <p>Memory scopes: weights and optimizer state on the policy's manager; each micro-batch in its own child
 * manager, closed before the optimizer step (AdamW creates its state lazily on the first update, which must
 * not land in a closing scope).
 */
public final class PolicyTrainer {

    private final Decoder policy;
    private final Objective<?> objective;
    private final TrainingConfig config;
    private final AdamW optimizer;
    private Decoder reference;
    private final Map<TrainingExample, double[]> referenceTable = new IdentityHashMap<>();

    /**
     * @param policy    the decoder to train; its {@link Decoder#trainableParameters()} (an adapter's matrices, or
     *                  every weight) start recording gradients
     * @param objective the loss; its kind must match the examples given to {@link #step}
     * @param config    optimizer, schedule, clipping and micro-batching
     */
    public PolicyTrainer(Decoder policy, Objective<?> objective, TrainingConfig config) {
        this.policy = policy;
        this.objective = objective;
        this.config = config;
        // with a LoRA adapter only its matrices record gradients and get moments; the base weights stay frozen
        for (Map.Entry<String, NDArray> p : policy.trainableParameters()) {
            p.getValue().setRequiresGradient(true);
        }
        this.optimizer = new AdamW(config.optimizer(), policy.trainableParameters(), AdamW.NORMS_AND_BIASES);
    }

    /** Scores reference log-probs with {@code frozen} (a copy of the starting weights) on every micro-batch. */
    public PolicyTrainer frozenReference(Decoder frozen) {
        this.reference = frozen;
        return this;
    }

    /**
     * Scores the reference log-probs of every example once, now, with {@code frozen}; {@link #step} then reads
     * them from the table and {@code frozen} may be closed.
     */
    public PolicyTrainer precomputeReference(Decoder frozen, List<? extends TrainingExample> examples) {
        for (int from = 0; from < examples.size(); from += config.microBatchSize()) {
            List<? extends TrainingExample> part = examples.subList(from, Math.min(examples.size(),
                    from + config.microBatchSize()));
            double[][] sums = referenceSums(frozen, part);
            for (int i = 0; i < part.size(); i++) {
                referenceTable.put(part.get(i), sums[i]);
            }
        }
        this.reference = null;
        return this;
    }

    /** The optimizer, for checkpointing its state. */
    public AdamW optimizer() {
        return optimizer;
    }

    /** The policy being trained. */
    public Decoder policy() {
        return policy;
    }

    /** Optimizer steps taken so far. */
    public long stepCount() {
        return optimizer.stepCount();
    }

    /**
     * One optimizer step over {@code batch}: the loss is the mean over the batch, accumulated over micro-batches
     * of at most {@link TrainingConfig#microBatchSize()} examples.
     */
    public StepResult step(List<? extends TrainingExample> batch) {
        return step(batch, objective, config.schedule().lr(config.optimizer().lr(), optimizer.stepCount() + 1));
    }

    /**
     * One optimizer step over {@code batch} with another objective and an explicit learning rate, for online
     * training where each batch names its objective and the caller owns the schedule. The optimizer (and its
     * moments) is the same one {@link #step(List)} uses.
     *
     * @param stepObjective the loss for this step; its kind must match the examples
     * @param lr            the learning rate to apply, ≥ 0
     */
    public StepResult step(List<? extends TrainingExample> batch, Objective<?> stepObjective, double lr) {
        if (!(lr >= 0 && Double.isFinite(lr))) {
            throw new IllegalArgumentException("learning rate must be finite and >= 0, got " + lr);
        }
        if (batch.isEmpty()) {
            throw new IllegalArgumentException("a training step needs at least one example");
        }
        long start = System.nanoTime();
        double loss = 0;
        Map<String, Double> diagnostics = new LinkedHashMap<>();
        long tokens = 0;
        for (int from = 0; from < batch.size(); from += config.microBatchSize()) {
            List<? extends TrainingExample> micro = batch.subList(from, Math.min(batch.size(),
                    from + config.microBatchSize()));
            double share = micro.size() / (double) batch.size();
            double[][] refs = stepObjective instanceof Sft ? null : referenceFor(micro); // SFT has no reference
            try (NDManager scope = policy.manager().newSubManager()) {
                try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    MicroBatch mb = new MicroBatch(scope, stepObjective, micro, refs);
                    LossResult r = stepObjective.lossFrom(mb);
                    // the batch loss is the mean over examples: weight each micro-batch by its share
                    collector.backward(Scalars.mul(r.loss(), share));
                    loss += share * r.loss().toType(DataType.FLOAT64, false).getDouble();
                    for (Map.Entry<String, Double> d : r.diagnostics().toMap().entrySet()) {
                        diagnostics.merge(d.getKey(), share * d.getValue(), Double::sum);
                    }
                    tokens += mb.tokens;
                }
            }
        }
        double gradNorm = optimizer.clipGradients(config.maxGradNorm());
        optimizer.step(lr);
        optimizer.zeroGradients();
        double seconds = (System.nanoTime() - start) / 1e9;
        return new StepResult(optimizer.stepCount(), loss, diagnostics, lr, gradNorm, tokens, seconds);
    }

    private double[][] referenceFor(List<? extends TrainingExample> micro) {
        if (reference != null) {
            return referenceSums(reference, micro);
        }
        double[][] out = new double[micro.size()][];
        for (int i = 0; i < micro.size(); i++) {
            out[i] = referenceTable.get(micro.get(i));
            if (out[i] == null) {
                throw new IllegalStateException("no reference log-probs for example " + i + " of this batch: give a"
                        + " frozen reference, or precompute the reference over every example before training");
            }
        }
        return out;
    }

    /** Summed reference log-probs of each example's sequences, in {@link TrainingExample#sequences()} order. */
    private static double[][] referenceSums(Decoder frozen, List<? extends TrainingExample> examples) {
        List<int[]> prompts = new ArrayList<>();
        List<int[]> responses = new ArrayList<>();
        for (TrainingExample e : examples) {
            for (int[][] s : e.sequences()) {
                prompts.add(s[0]);
                responses.add(s[1]);
            }
        }
        List<ResponseLogProbs> scored = SequenceScorer.scoreToJava(frozen, prompts, responses);
        double[][] out = new double[examples.size()][];
        int k = 0;
        for (int i = 0; i < examples.size(); i++) {
            out[i] = new double[examples.get(i).sequences().size()];
            for (int j = 0; j < out[i].length; j++) {
                out[i][j] = scored.get(k++).sum();
            }
        }
        return out;
    }

    /**
     * The log-probs of one micro-batch, scored lazily for exactly the input the objective asks for. All of the
     * micro-batch's sequences go through the policy in one forward pass, laid out sequence-major: sequence j
     * of every example, then sequence j + 1 (so each [B] slice is one role, e.g. all chosen responses).
     */
    private final class MicroBatch implements LogpsSource {

        private final NDManager scope;
        private final Objective<?> objective;
        private final List<? extends TrainingExample> examples;
        private final double[][] refs;
        long tokens;

        MicroBatch(NDManager scope, Objective<?> objective, List<? extends TrainingExample> examples, double[][] refs) {
            this.scope = scope;
            this.objective = objective;
            this.examples = examples;
            this.refs = refs;
        }

        /** Policy sums and lengths per role: [role][B] arrays. */
        private NDArray[][] score(int roles) {
            int b = examples.size();
            List<int[]> prompts = new ArrayList<>(roles * b);
            List<int[]> responses = new ArrayList<>(roles * b);
            for (int j = 0; j < roles; j++) {
                for (TrainingExample e : examples) {
                    int[][] s = e.sequences().get(j);
                    prompts.add(s[0]);
                    responses.add(s[1]);
                    tokens += s[0].length + s[1].length;
                }
            }
            SequenceScorer.Batch batch = SequenceScorer.score(policy, scope, prompts, responses);
            NDArray sums = batch.sum();                                                     // [roles*B]
            NDArray lengths = batch.lengths();                                              // [roles*B]
            NDArray[][] out = new NDArray[2][roles];
            for (int j = 0; j < roles; j++) {
                out[0][j] = sums.get("{}:{}", j * b, (j + 1) * b);
                out[1][j] = lengths.get("{}:{}", j * b, (j + 1) * b);
            }
            return out;
        }

        private NDArray referenceRole(int role) {
            double[] r = new double[examples.size()];
            for (int i = 0; i < r.length; i++) {
                r[i] = refs[i][role];
            }
            return scope.create(r).toType(policy.dtype(), false);
        }

        private PreferenceLogps pair(NDArray[][] policyLogps, int chosen, int rejected, NDArray strength) {
            return new PreferenceLogps(policyLogps[0][chosen], policyLogps[0][rejected], referenceRole(chosen),
                    referenceRole(rejected), policyLogps[1][chosen], policyLogps[1][rejected], strength);
        }

        @Override
        public SftLogps sft() {
            requireKind(Demonstration.class);
            NDArray[][] p = score(1);
            return new SftLogps(p[0][0], p[1][0]);
        }

        @Override
        public PreferenceLogps pairs() {
            requireKind(PreferencePair.class);
            NDArray[][] p = score(2);
            NDArray strength = null;
            if (!Double.isNaN(((PreferencePair) examples.get(0)).strength())) {
                double[] s = new double[examples.size()];
                for (int i = 0; i < s.length; i++) {
                    s[i] = ((PreferencePair) examples.get(i)).strength();
                }
                strength = scope.create(s);
            }
            return pair(p, 0, 1, strength);
        }

        @Override
        public SsoLogps sso() {
            requireKind(SsoExample.class);
            boolean steering = ((Sso) objective).theta() > 0;
            // PBAA (θ = 0) reads only (x, y+) and (x, y-): score two roles instead of six
            NDArray[][] p = score(steering ? 6 : 2);
            PreferenceLogps plain = pair(p, 0, 1, null);
            return steering ? new SsoLogps(plain, pair(p, 2, 3, null), pair(p, 4, 5, null))
                    : new SsoLogps(plain, null, null);
        }

        private void requireKind(Class<? extends TrainingExample> kind) {
            for (TrainingExample e : examples) {
                if (!kind.isInstance(e)) {
                    throw new IllegalArgumentException("objective " + objective.getClass().getSimpleName()
                            + " trains on " + kind.getSimpleName() + " examples, got a " + e.getClass().getSimpleName());
                }
            }
        }
    }

    /** Which example kind an objective trains on: demonstrations, preference pairs or SSO examples. */
    public static Class<? extends TrainingExample> exampleKind(Objective<?> objective) {
        if (objective instanceof Sft) {
            return Demonstration.class;
        }
        if (objective instanceof Sso) {
            return SsoExample.class;
        }
        if (objective instanceof PairObjective) {
            return PreferencePair.class;
        }
        throw new IllegalArgumentException("unknown objective " + objective);
    }

    /**
     * What one optimizer step did.
     *
     * @param step        optimizer steps taken, this one included
     * @param loss        the batch loss before the update
     * @param diagnostics the objective's {@code Diagnostics}, batch means under TRL's names
     * @param lr          the learning rate applied
     * @param gradNorm    global gradient norm before clipping
     * @param tokens      prompt + response tokens the forward pass processed
     * @param seconds     wall time of the step, reference scoring included
     */
    public record StepResult(long step, double loss, Map<String, Double> diagnostics, double lr, double gradNorm,
                             long tokens, double seconds) {
    }
}
