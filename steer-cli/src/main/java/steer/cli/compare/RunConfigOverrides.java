package steer.cli.compare;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import steer.proto.v1.RunConfig;

/**
 * {@code --set METHOD.KEY=VALUE}: a setting of one method's runs ({@code *} for every method), applied to its
 * {@link RunConfig} by the field names of the protobuf message, so that new settings need no change here.
 * KEY is a field of RunConfig ({@code batch_size}, {@code learning_rate}), a path into one of its messages
 * ({@code sampling.temperature}, {@code osp.samples_per_prompt}, {@code self_rewarding.beta}), an entry of
 * {@code objective_params} ({@code objective_params.alpha}), or a bare name that is no field of RunConfig, which is
 * taken as an objective parameter ({@code alpha} is {@code objective_params.alpha}). Whether a setting suits the
 * method is the orchestrator's to decide: it refuses, say, OSP settings for an SSO run, and that run fails.
 */
public final class RunConfigOverrides {

    /** Every method. */
    public static final String ALL = "*";

    /** Set by the command's own options for every run alike. */
    private static final Set<String> COMMAND_OPTIONS = Set.of("run_id", "algorithm", "seed", "iterations",
            "prompts_per_iteration", "evaluation_split");
    /** What decides the prompts and the evaluation: the same for every method or the comparison is not one. */
    private static final Set<String> SHARED_ONLY = Set.of("world_seed", "eval_queries");

    /** One {@code --set}. */
    public record Setting(String method, String key, String value) {

        @Override
        public String toString() {
            return method + "." + key + "=" + value;
        }
    }

    private RunConfigOverrides() {
    }

    /** Parses {@code METHOD.KEY=VALUE}; the method is checked against {@code methods} (or is {@code *}). */
    public static Setting parse(String spec, List<String> methods) {
        int eq = spec.indexOf('=');
        int dot = spec.indexOf('.');
        if (eq < 0 || dot < 0 || dot > eq || dot == 0 || dot == eq - 1) {
            throw new IllegalArgumentException("--set " + spec + ": expected METHOD.KEY=VALUE, e.g. osp.osp.samples_per_prompt=4 "
                    + "or '*.batch_size=16'");
        }
        String method = spec.substring(0, dot);
        String key = spec.substring(dot + 1, eq);
        String value = spec.substring(eq + 1);
        if (!method.equals(ALL) && !methods.contains(method)) {
            throw new IllegalArgumentException("--set " + spec + ": " + method + " is not one of --methods " + methods);
        }
        String field = key.contains(".") ? key.substring(0, key.indexOf('.')) : key;
        if (COMMAND_OPTIONS.contains(field)) {
            throw new IllegalArgumentException("--set " + spec + ": " + field + " is set by the command's own options");
        }
        if (field.equals("skip_evaluation")) {
            throw new IllegalArgumentException("--set " + spec + ": a comparison needs its evaluations");
        }
        if (SHARED_ONLY.contains(field) && !method.equals(ALL)) {
            throw new IllegalArgumentException("--set " + spec + ": " + field + " must be the same for every method; use *."
                    + key + "=" + value);
        }
        // fail now, not after the first runs: the key must resolve and the value parse
        Setting setting = new Setting(method, key, value);
        apply(RunConfig.getDefaultInstance(), List.of(setting), method);
        return setting;
    }

    /** The settings for {@code method} (its own and those for every method), applied in order. */
    public static List<Setting> forMethod(List<Setting> settings, String method) {
        return settings.stream().filter(s -> s.method().equals(ALL) || s.method().equals(method)).toList();
    }

    /** {@code config} with the settings for {@code method} applied in order (a later one wins). */
    public static RunConfig apply(RunConfig config, List<Setting> settings, String method) {
        Message out = config;
        for (Setting s : forMethod(settings, method)) {
            String key = s.key();
            if (!key.contains(".") && RunConfig.getDescriptor().findFieldByName(key) == null) {
                key = "objective_params." + key;
            }
            try {
                out = set(out, List.of(key.split("\\.", -1)), s.value());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--set " + s + ": " + e.getMessage(), e);
            }
        }
        return (RunConfig) out;
    }

    private static Message set(Message message, List<String> path, String value) {
        Descriptor type = message.getDescriptorForType();
        String name = path.get(0);
        FieldDescriptor field = type.findFieldByName(name);
        if (field == null) {
            throw new IllegalArgumentException(type.getName() + " has no field " + name + " (it has "
                    + type.getFields().stream().map(FieldDescriptor::getName).toList() + ")");
        }
        Message.Builder builder = message.toBuilder();
        if (field.isMapField()) {
            if (path.size() != 2 || path.get(1).isEmpty()) {
                throw new IllegalArgumentException(name + " is a map: name one entry, " + name + ".KEY=VALUE");
            }
            Message.Builder entry = builder.newBuilderForField(field);
            FieldDescriptor k = entry.getDescriptorForType().findFieldByName("key");
            FieldDescriptor v = entry.getDescriptorForType().findFieldByName("value");
            Object keyValue = scalar(k, path.get(1));
            entry.setField(k, keyValue).setField(v, scalar(v, value));
            List<Object> kept = new ArrayList<>();
            for (Object e : (List<?>) builder.getField(field)) {
                if (!((Message) e).getField(k).equals(keyValue)) {
                    kept.add(e);
                }
            }
            builder.clearField(field);
            kept.forEach(e -> builder.addRepeatedField(field, e));
            builder.addRepeatedField(field, entry.build());
        } else if (field.isRepeated()) {
            throw new IllegalArgumentException(name + " is a list, which --set does not set");
        } else if (field.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
            if (path.size() < 2) {
                throw new IllegalArgumentException(name + " is a message: name one of its fields, " + name + ".FIELD=VALUE");
            }
            builder.setField(field, set((Message) builder.getField(field), path.subList(1, path.size()), value));
        } else {
            if (path.size() != 1) {
                throw new IllegalArgumentException(name + " is a " + field.getType().name().toLowerCase(java.util.Locale.ROOT)
                        + ", not a message");
            }
            builder.setField(field, scalar(field, value));
        }
        return builder.build();
    }

    private static Object scalar(FieldDescriptor field, String value) {
        String what = field.getName() + ": " + value + " is not ";
        try {
            return switch (field.getJavaType()) {
                case INT -> field.getType() == FieldDescriptor.Type.UINT32 || field.getType() == FieldDescriptor.Type.FIXED32
                        ? Integer.parseUnsignedInt(value) : Integer.parseInt(value);
                case LONG -> field.getType() == FieldDescriptor.Type.UINT64 || field.getType() == FieldDescriptor.Type.FIXED64
                        ? Long.parseUnsignedLong(value) : Long.parseLong(value);
                case FLOAT -> Float.parseFloat(value);
                case DOUBLE -> Double.parseDouble(value);
                case BOOLEAN -> switch (value) {
                    case "true" -> true;
                    case "false" -> false;
                    default -> throw new IllegalArgumentException(what + "true or false");
                };
                case STRING -> value;
                case ENUM -> {
                    EnumValueDescriptor e = field.getEnumType().findValueByName(value);
                    if (e == null) {
                        throw new IllegalArgumentException(what + "one of " + field.getEnumType().getValues().stream()
                                .map(EnumValueDescriptor::getName).toList());
                    }
                    yield e;
                }
                default -> throw new IllegalArgumentException(field.getName() + " cannot be set from the command line");
            };
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + "a " + field.getType().name().toLowerCase(java.util.Locale.ROOT) + " number");
        }
    }
}
