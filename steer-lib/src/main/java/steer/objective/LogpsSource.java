package steer.objective;

/**
 * Supplies the log-probs an objective asks for, so a trainer can dispatch through
 * {@link Objective#lossFrom(LogpsSource)} and score only the sequences that objective reads. An implementation
 * may compute each input lazily; a source that cannot supply a kind throws {@link UnsupportedOperationException}.
 */
public interface LogpsSource {

    /** Demonstrations (x, y), for {@link Sft}. */
    default SftLogps sft() {
        throw new UnsupportedOperationException("this source has no demonstrations for SFT");
    }

    /** Preference pairs (x, y_w, y_l), for DPO, IPO, cDPO, dual-clip and SPCE. */
    default PreferenceLogps pairs() {
        throw new UnsupportedOperationException("this source has no preference pairs");
    }

    /** SSO's six sequences per example, for {@link Sso}. */
    default SsoLogps sso() {
        throw new UnsupportedOperationException("this source has no SSO triples");
    }
}
