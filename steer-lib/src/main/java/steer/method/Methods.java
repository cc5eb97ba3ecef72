package steer.method;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import steer.align.InvalidSettingException;

/**
 * The method names a run may ask for ({@code RunConfig.algorithm}) and the settings each stands for. A family's own
 * name is its defaults; the other names are presets of a family's settings — the papers' baselines and ablations:
 *
 * <table>
 *   <caption>methods</caption>
 *   <tr><th>name</th><th>family</th><th>what it is</th></tr>
 *   <tr><td>sso</td><td>sso</td><td>SSO (Xiang et al. 2024)</td></tr>
 *   <tr><td>sso-no-w</td><td>sso</td><td>SSO with W ≡ 1 (SSO Table 12)</td></tr>
 *   <tr><td>sso-no-g</td><td>sso</td><td>SSO with θ = 0, no self-steering loss G (SSO Table 12)</td></tr>
 *   <tr><td>pbaa</td><td>sso</td><td>both: principle-based automated alignment</td></tr>
 *   <tr><td>osp</td><td>osp</td><td>OSP: ranked pairs, judged strengths, SPCE (OSP Algorithm 1)</td></tr>
 *   <tr><td>osp-dpo</td><td>osp</td><td>OSP's ranked pairs with hard labels and DPO (OSP Fig. 4c)</td></tr>
 *   <tr><td>osp-ipo</td><td>osp</td><td>the same with IPO (OSP Fig. 4c)</td></tr>
 *   <tr><td>osp-random</td><td>osp</td><td>OSP with random instead of ranked pairing (OSP Fig. 5)</td></tr>
 *   <tr><td>self-rewarding</td><td>self-rewarding</td><td>Yuan et al. 2024, online as OSP runs it</td></tr>
 *   <tr><td>tso</td><td>tso</td><td>TSO: matrix and self-scored pairs, dual-clip, mini-batch iterative training
 *       (Xu et al. 2024)</td></tr>
 *   <tr><td>tso-dpo</td><td>tso</td><td>TSO with plain DPO instead of dual-clip (TSO Table 6)</td></tr>
 *   <tr><td>tso-no-mini-batch</td><td>tso</td><td>TSO with one mini-batch per iteration (TSO Table 7)</td></tr>
 *   <tr><td>tso-matrix-only</td><td>tso</td><td>TSO's matrix pairs only</td></tr>
 *   <tr><td>tso-self-only</td><td>tso</td><td>TSO's self-scored pairs only</td></tr>
 * </table>
 */
public final class Methods {

    private static final Map<String, MethodSettings> PRESETS = new LinkedHashMap<>();

    static {
        PRESETS.put("sso", SsoMethod.Settings.defaults());
        PRESETS.put("sso-no-w", new SsoMethod.Settings(true, false, ""));
        PRESETS.put("sso-no-g", new SsoMethod.Settings(false, true, ""));
        PRESETS.put("pbaa", new SsoMethod.Settings(true, true, ""));
        PRESETS.put("osp", OspMethod.Settings.defaults());
        PRESETS.put("osp-dpo", OspMethod.Settings.defaults().withLoss("dpo"));
        PRESETS.put("osp-ipo", OspMethod.Settings.defaults().withLoss("ipo"));
        PRESETS.put("osp-random", OspMethod.Settings.defaults().withPairing("random"));
        PRESETS.put("self-rewarding", SelfRewardingMethod.Settings.defaults());
        PRESETS.put("tso", TsoMethod.Settings.defaults());
        PRESETS.put("tso-dpo", TsoMethod.Settings.defaults().withLoss("dpo"));
        PRESETS.put("tso-no-mini-batch", TsoMethod.Settings.defaults().withMiniBatches(1));
        PRESETS.put("tso-matrix-only", TsoMethod.Settings.defaults().withPairs("matrix"));
        PRESETS.put("tso-self-only", TsoMethod.Settings.defaults().withPairs("self"));
    }

    private Methods() {
    }

    /**
     * Every method name, in the table's order.
     *
     * @return the names
     */
    public static List<String> names() {
        return List.copyOf(PRESETS.keySet());
    }

    /**
     * The settings of a named method, with the client's own settings over its preset.
     *
     * @param algorithm a name from {@link #names()}
     * @param given     the settings the client sent (the {@code RunConfig} oneof), or null for none
     * @return the merged settings
     * @throws InvalidSettingException for an unknown name, or settings of another family than the name's
     */
    public static MethodSettings resolve(String algorithm, MethodSettings given) {
        MethodSettings preset = PRESETS.get(algorithm);
        if (preset == null) {
            throw new InvalidSettingException("config.algorithm", "must be one of " + names() + " (empty = sso), got '"
                    + algorithm + "'");
        }
        if (given == null) {
            return preset;
        }
        if (given.getClass() != preset.getClass()) {
            throw new InvalidSettingException("config.method_settings", "are " + family(given) + " settings, but "
                    + algorithm + " is a " + family(preset) + " method");
        }
        return given.over(preset);
    }

    /**
     * A settings record's family name.
     *
     * @return {@code sso}, {@code osp} or {@code self-rewarding}
     */
    public static String family(MethodSettings s) {
        return s.method().family();
    }
}
