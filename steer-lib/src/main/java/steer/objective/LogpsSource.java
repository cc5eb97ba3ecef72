package steer.objective;

/**
 * Supplies the log-probs an objective asks for, so a trainer can dispatch through
 * {@link Objective#lossFrom(LogpsSource)} and score only the sequences that objective reads. An implementation
 * may compute each input lazily; a source holding another kind of example throws IllegalArgumentException.
 */
public interface LogpsSource {

    /** Demonstrations (x, y), for {@link Sft}. */
    SftLogps sft();

    /** Preference pairs (x, y_w, y_l), for DPO, IPO, cDPO, dual-clip and SPCE. */
    PreferenceLogps pairs();

    /** SSO's six sequences per example, for {@link Sso}. */
    SsoLogps sso();
}
