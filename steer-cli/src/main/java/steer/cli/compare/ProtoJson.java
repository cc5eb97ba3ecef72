package steer.cli.compare;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import java.util.Base64;
import java.util.List;

/**
 * A protobuf message as a JSON tree, by its descriptor: every field under its proto name, defaults included (a
 * run's zero counts are figures too), enums by name, maps as objects, 64-bit integers as JSON numbers, bytes as
 * base64; a field with presence only when set; NaN and infinite values as null.
 */
public final class ProtoJson {

    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    private ProtoJson() {
    }

    public static ObjectNode of(Message message) {
        ObjectNode out = JSON.objectNode();
        for (FieldDescriptor field : message.getDescriptorForType().getFields()) {
            // a field with presence (a message, a oneof member, an optional) is left out when unset, not written as
            // its default
            if (field.hasPresence() && !message.hasField(field)) {
                continue;
            }
            Object value = message.getField(field);
            if (field.isMapField()) {
                ObjectNode map = out.putObject(field.getName());
                FieldDescriptor k = field.getMessageType().findFieldByName("key");
                FieldDescriptor v = field.getMessageType().findFieldByName("value");
                for (Object e : (List<?>) value) {
                    Message entry = (Message) e;
                    map.set(String.valueOf(entry.getField(k)), value(v, entry.getField(v)));
                }
            } else if (field.isRepeated()) {
                ArrayNode list = out.putArray(field.getName());
                for (Object e : (List<?>) value) {
                    list.add(value(field, e));
                }
            } else {
                out.set(field.getName(), value(field, value));
            }
        }
        return out;
    }

    private static JsonNode value(FieldDescriptor field, Object v) {
        return switch (field.getJavaType()) {
            case MESSAGE -> of((Message) v);
            case ENUM -> JSON.textNode(((EnumValueDescriptor) v).getName());
            case BYTE_STRING -> JSON.textNode(Base64.getEncoder().encodeToString(((ByteString) v).toByteArray()));
            case STRING -> JSON.textNode((String) v);
            case BOOLEAN -> JSON.booleanNode((Boolean) v);
            case INT -> field.getType() == FieldDescriptor.Type.UINT32 || field.getType() == FieldDescriptor.Type.FIXED32
                    ? JSON.numberNode(Integer.toUnsignedLong((Integer) v)) : JSON.numberNode((Integer) v);
            case LONG -> field.getType() == FieldDescriptor.Type.UINT64 || field.getType() == FieldDescriptor.Type.FIXED64
                    ? JSON.numberNode(new java.math.BigInteger(Long.toUnsignedString((Long) v))) : JSON.numberNode((Long) v);
            case FLOAT -> finite((Float) v) ? JSON.numberNode((Float) v) : JSON.nullNode();
            case DOUBLE -> finite((Double) v) ? JSON.numberNode((Double) v) : JSON.nullNode();
        };
    }

    private static boolean finite(double v) {
        return !Double.isNaN(v) && !Double.isInfinite(v);
    }
}
