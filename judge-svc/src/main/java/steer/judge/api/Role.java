package steer.judge.api;

import java.util.Arrays;
import java.util.Locale;
import java.util.Set;
import steer.proto.v1.JudgeGrpc;

/**
 * What a caller may do. {@code compare} reads: the judging RPCs and ListModels. {@code admin} changes what the
 * service serves: LoadModel, and every Judge RPC not listed as a read, so that a state-changing RPC added later
 * needs admin until someone decides otherwise. A caller may hold both; admin does not imply compare.
 */
enum Role {
    COMPARE, ADMIN;

    /** The Judge RPCs that change nothing (ListTemplates is listed ahead of its arrival). */
    private static final Set<String> READS = Set.of("Compare", "CompareBatch", "CompareWithEmpty", "CompareWithEmptyBatch",
            "RubricScore", "RubricScoreBatch", "ListModels", "ListTemplates");

    /** The role's name in configuration and messages. */
    String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The role a call of {@code fullMethodName} ({@code steer.v1.Judge/Compare}) needs. */
    static Role requiredFor(String fullMethodName) {
        int slash = fullMethodName.indexOf('/');
        boolean judge = slash > 0 && fullMethodName.substring(0, slash).equals(JudgeGrpc.SERVICE_NAME);
        return judge && READS.contains(fullMethodName.substring(slash + 1)) ? COMPARE : ADMIN;
    }

    /** Parses a configured role; fails naming the key and the valid roles. */
    static Role parse(String key, String value) {
        for (Role r : values()) {
            if (r.id().equals(value.trim().toLowerCase(Locale.ROOT))) {
                return r;
            }
        }
        throw new IllegalArgumentException(key + ": unknown role '" + value + "'; valid roles: "
                + Arrays.stream(values()).map(Role::id).toList());
    }
}
