package steer.cli.compare;

import java.util.List;
import java.util.Map;

/**
 * What {@code steer compare} knows about methods: their display names and which pairs it compares. Nothing else:
 * a method is the {@code RunConfig.algorithm} string, and the orchestrator alone decides what it means.
 */
public final class Methods {

    private Methods() {
    }

    /** A named comparison: {@code method} against {@code baseline}, differences taken as method − baseline. */
    public record Pair(String method, String baseline) {
    }

    private static final Map<String, String> DISPLAY = Map.ofEntries(
            Map.entry("sso", "SSO"),
            Map.entry("sso-no-w", "SSO without W"),
            Map.entry("sso-no-g", "SSO without G"),
            Map.entry("pbaa", "PBAA"),
            Map.entry("osp", "OSP"),
            Map.entry("osp-dpo", "OSP with DPO"),
            Map.entry("osp-ipo", "OSP with IPO"),
            Map.entry("osp-random", "OSP, random pairs"),
            Map.entry("self-rewarding", "Self-Rewarding"),
            Map.entry("tso", "TSO"),
            Map.entry("tso-dpo", "TSO with DPO"),
            Map.entry("tso-no-mini-batch", "TSO without mini-batches"),
            Map.entry("tso-matrix-only", "TSO, matrix pairs only"),
            Map.entry("tso-self-only", "TSO, self pairs only"));

    /** The named pairs, in the order they are reported. */
    public static final List<Pair> PAIRS = List.of(
            new Pair("osp", "osp-ipo"),
            new Pair("osp", "osp-dpo"),
            new Pair("osp", "osp-random"),
            new Pair("osp", "self-rewarding"),
            new Pair("osp-ipo", "osp-dpo"),
            new Pair("sso", "sso-no-w"),
            new Pair("sso", "sso-no-g"),
            new Pair("sso", "pbaa"),
            new Pair("tso", "tso-dpo"),
            new Pair("tso", "tso-no-mini-batch"),
            new Pair("tso", "tso-matrix-only"),
            new Pair("tso", "tso-self-only"));

    /** The method's display name; a name not known here is shown as it is. */
    public static String display(String method) {
        return DISPLAY.getOrDefault(method, method);
    }

    /** The named pairs whose both methods are among {@code methods}. */
    public static List<Pair> pairsAmong(List<String> methods) {
        return PAIRS.stream().filter(p -> methods.contains(p.method()) && methods.contains(p.baseline())).toList();
    }
}
