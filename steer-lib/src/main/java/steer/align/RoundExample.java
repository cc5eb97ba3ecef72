package steer.align;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/**
 * One training example a round built, in text form, as persisted in the run state and published to the trainer:
 * an SSO triple ({@link SsoTriple}) or a judged preference pair ({@link JudgedPair}). A state file written before
 * pairs existed lists triples without a kind, so the kind defaults to a triple.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "kind", defaultImpl = SsoTriple.class)
@JsonSubTypes({@JsonSubTypes.Type(value = SsoTriple.class, name = "sso"),
        @JsonSubTypes.Type(value = JudgedPair.class, name = "pair")})
public sealed interface RoundExample permits SsoTriple, JudgedPair {
}
