package steer.objective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class ObjectiveFactoryTest {

    @Test
    void namesWithoutParametersGiveThePaperDefaults() {
        assertEquals(Sso.defaults(), ObjectiveFactory.create("sso", Map.of()));
        assertEquals(Sso.pbaa(), ObjectiveFactory.create("pbaa", Map.of()));
        assertEquals(Dpo.defaults(), ObjectiveFactory.create("dpo", Map.of()));
        assertEquals(Ipo.defaults(), ObjectiveFactory.create("ipo", Map.of()));
        assertEquals(Cdpo.defaults(), ObjectiveFactory.create("cdpo", Map.of()));
        assertEquals(DualClip.defaults(), ObjectiveFactory.create("dual-clip", Map.of()));
        assertEquals(Spce.defaults(), ObjectiveFactory.create("spce", Map.of()));
    }

    @Test
    void parametersOverrideOnlyWhatTheyName() {
        assertEquals(new Cdpo(0.1, 0.1, true), ObjectiveFactory.create("cdpo", Map.of("epsilon", 0.1, "per_token", 1.0)));
        assertEquals(new DualClip(0.1, 2, 1, false), ObjectiveFactory.create("dual-clip", Map.of("gamma_w", 2.0, "gamma_l", 1.0)));
        Sso s = (Sso) ObjectiveFactory.create("sso", Map.of("theta", 0.0, "base_dpo", 1.0, "authors_code_form", 1.0));
        assertEquals(new Sso(Dpo.defaults(), 0.66, 0, 1, 0, true, Sso.Form.AUTHORS_CODE), s);
        assertEquals(0.3, ((Ipo) ((Sso) ObjectiveFactory.create("sso", Map.of("beta", 0.3))).base()).beta());
    }

    @Test
    void unknownNamesParametersAndBadSwitchesAreNamed() {
        IllegalArgumentException name = assertThrows(IllegalArgumentException.class,
                () -> ObjectiveFactory.create("ppo", Map.of()));
        assertTrue(name.getMessage().contains("ppo") && name.getMessage().contains("dual-clip"), name.getMessage());
        IllegalArgumentException key = assertThrows(IllegalArgumentException.class,
                () -> ObjectiveFactory.create("dpo", Map.of("epsilon", 0.1)));
        assertTrue(key.getMessage().contains("epsilon") && key.getMessage().contains("beta"), key.getMessage());
        IllegalArgumentException flag = assertThrows(IllegalArgumentException.class,
                () -> ObjectiveFactory.create("dpo", Map.of("per_token", 0.5)));
        assertTrue(flag.getMessage().contains("per_token"), flag.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ObjectiveFactory.create("ipo", Map.of("beta", -1.0)));
    }
}
