package steer.method;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.Map;

/**
 * A run's method and its own settings, as the run state keeps them: one record per method family, each validated
 * when it is made, each making its {@link AlignmentMethod}. {@link Methods} turns a method name and the settings a
 * client gave into one of these.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "family")
@JsonSubTypes({@JsonSubTypes.Type(value = SsoMethod.Settings.class, name = SsoMethod.FAMILY),
        @JsonSubTypes.Type(value = OspMethod.Settings.class, name = OspMethod.FAMILY),
        @JsonSubTypes.Type(value = SelfRewardingMethod.Settings.class, name = SelfRewardingMethod.FAMILY),
        @JsonSubTypes.Type(value = TsoMethod.Settings.class, name = TsoMethod.FAMILY)})
public sealed interface MethodSettings
        permits SsoMethod.Settings, OspMethod.Settings, SelfRewardingMethod.Settings, TsoMethod.Settings {

    /**
     * The method these settings configure.
     *
     * @return a method that reads them
     */
    AlignmentMethod method();

    /**
     * These settings with zero or empty fields taken from {@code preset} (flags: set in either).
     *
     * @param preset settings of the same family
     * @return the merged settings, validated
     */
    MethodSettings over(MethodSettings preset);

    /**
     * Checks what only the merged settings can show (TSO: a weight names a model the settings serve).
     *
     * @throws steer.align.InvalidSettingException naming the field at fault
     */
    default void checkComplete() {
    }

    /**
     * Checks that the run's objective overrides agree with these settings and that the objective accepts them.
     *
     * @param objectiveParams {@code RunConfig.objective_params}
     * @throws steer.align.InvalidSettingException naming the field at fault
     */
    default void checkObjective(Map<String, Double> objectiveParams) {
        AlignmentMethod.ObjectiveChoice o = method().objective(objectiveParams);
        try {
            steer.objective.ObjectiveFactory.create(o.name(), o.params());
        } catch (IllegalArgumentException e) {
            throw new steer.align.InvalidSettingException("config.objective_params", "do not fit the method's"
                    + " objective: " + e.getMessage());
        }
    }
}
