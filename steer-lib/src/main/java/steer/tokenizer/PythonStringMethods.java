package steer.tokenizer;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Python's {@code str} methods that Hugging Face chat templates call on strings ({@code content.startswith(…)},
 * {@code content.split('</think>')[-1].lstrip('\n')}), for jinjava, whose strings are Java strings. Only method
 * calls on a {@link String} base with one of these names are resolved here; everything else falls through to
 * jinjava's resolver. Semantics follow Python 3's {@code str}.
 */
final class PythonStringMethods extends ELResolver {

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (!(base instanceof String) || !(method instanceof String)) {
            return null;
        }
        String s = (String) base;
        Object[] p = params == null ? new Object[0] : params;
        Object result;
        switch ((String) method) {
            case "startswith":
                result = p.length == 1 && s.startsWith(str(p[0]));
                break;
            case "endswith":
                result = p.length == 1 && s.endsWith(str(p[0]));
                break;
            case "strip":
                result = rstrip(lstrip(s, chars(p)), chars(p));
                break;
            case "lstrip":
                result = lstrip(s, chars(p));
                break;
            case "rstrip":
                result = rstrip(s, chars(p));
                break;
            case "split":
                result = split(s, p.length == 0 || p[0] == null ? null : str(p[0]));
                break;
            case "upper":
                result = s.toUpperCase(java.util.Locale.ROOT);
                break;
            case "lower":
                result = s.toLowerCase(java.util.Locale.ROOT);
                break;
            case "replace":
                if (p.length != 2) {
                    return null;
                }
                result = s.replace(str(p[0]), str(p[1]));
                break;
            default:
                return null;
        }
        context.setPropertyResolved(true);
        return result;
    }

    private static String str(Object o) {
        return o == null ? "" : o.toString();
    }

    /** Python's default strip set: whitespace. */
    private static String chars(Object[] p) {
        return p.length == 0 || p[0] == null ? null : str(p[0]);
    }

    private static boolean stripped(char c, String chars) {
        return chars == null ? Character.isWhitespace(c) : chars.indexOf(c) >= 0;
    }

    private static String lstrip(String s, String chars) {
        int i = 0;
        while (i < s.length() && stripped(s.charAt(i), chars)) {
            i++;
        }
        return s.substring(i);
    }

    private static String rstrip(String s, String chars) {
        int j = s.length();
        while (j > 0 && stripped(s.charAt(j - 1), chars)) {
            j--;
        }
        return s.substring(0, j);
    }

    /** {@code str.split(sep)}: every occurrence, empty pieces kept; {@code split()} splits on whitespace runs. */
    private static List<String> split(String s, String sep) {
        List<String> out = new ArrayList<>();
        if (sep == null) {
            for (String piece : s.trim().split("\\s+")) {
                if (!piece.isEmpty()) {
                    out.add(piece);
                }
            }
            return out;
        }
        if (sep.isEmpty()) {
            throw new IllegalArgumentException("split: empty separator");
        }
        int from = 0;
        for (int i = s.indexOf(sep); i >= 0; i = s.indexOf(sep, from)) {
            out.add(s.substring(from, i));
            from = i + sep.length();
        }
        out.add(s.substring(from));
        return out;
    }

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {
        // read-only: assignments fall through to jinjava's resolver
    }

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return false;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return Collections.emptyIterator();
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
