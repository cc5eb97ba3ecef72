package steer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The configuration keys one packaged service really accepts, read from what it runs: its {@code @ConfigMapping}
 * interfaces (compiled, in {@code quarkus-app/app}), the Quarkus extensions' config models in its libraries
 * ({@code META-INF/quarkus-config-doc/quarkus-config-model.json}) and its {@code application.properties}.
 *
 * @param module     the module name (generator-svc, ...)
 * @param mapping    the {@code @ConfigMapping} keys (e.g. {@code steer.generator.model-location}), true if required
 * @param quarkus    environment variable name to Quarkus key, for every run-time key the extensions document
 * @param properties the keys of application.properties and the names its {@code ${...}} expressions read
 * @param httpPort   {@code quarkus.http.port} of application.properties (8080 if absent)
 * @param kafkaMap   whether the service hands Quarkus's whole {@code kafka.*} configuration to its Kafka clients
 *                   (it injects the {@code default-kafka-broker} map), so that any KAFKA_* variable reaches them
 */
record ServiceConfigKeys(String module, Map<String, Boolean> mapping, Map<String, String> quarkus, Set<String> properties,
        int httpPort, boolean kafkaMap) {

    private static final byte[] KAFKA_MAP = "default-kafka-broker".getBytes(java.nio.charset.StandardCharsets.UTF_8);

    private static final Pattern EXPRESSION = Pattern.compile("\\$\\{([^:}]+)");
    private static final String QUARKUS_CONFIG_MODEL = "META-INF/quarkus-config-doc/quarkus-config-model.json";

    /** Reads the keys of the service packaged under {@code <repo>/<module>/target/quarkus-app}. */
    static ServiceConfigKeys read(Path repo, String module) {
        Path app = repo.resolve(module).resolve("target/quarkus-app");
        if (!Files.isRegularFile(app.resolve("quarkus-run.jar"))) {
            throw new IllegalStateException(app + " is missing: the checks read the packaged service; build it with"
                    + " ./mvnw -B -pl steer-cli -am verify (or -DskipTests package)");
        }
        List<Path> appJars = jars(app.resolve("app"));
        List<Path> libJars = jars(app.resolve("lib/main"));
        Properties props = applicationProperties(appJars);
        Set<String> propertyKeys = new TreeSet<>();
        for (String key : props.stringPropertyNames()) {
            if (!key.startsWith("%")) {
                propertyKeys.add(key);
            }
            Matcher m = EXPRESSION.matcher(props.getProperty(key));
            while (m.find()) {
                propertyKeys.add(m.group(1));
            }
        }
        int port = Integer.parseInt(props.getProperty("quarkus.http.port", "8080"));
        return new ServiceConfigKeys(module, mappingKeys(appJars, libJars), quarkusKeys(libJars), propertyKeys, port,
                usesKafkaMap(appJars));
    }

    /** The environment variable Quarkus maps onto {@code key}: each character neither letter nor digit becomes _, upper case. */
    static String envName(String key) {
        StringBuilder b = new StringBuilder(key.length());
        for (char c : key.toCharArray()) {
            b.append(Character.isLetterOrDigit(c) ? Character.toUpperCase(c) : '_');
        }
        return b.toString();
    }

    /** The key an environment variable sets in this service, or empty if the service has no such key. */
    Optional<String> keyOf(String envVar) {
        for (String key : mapping.keySet()) {
            if (envName(key).equals(envVar)) {
                return Optional.of(key);
            }
        }
        if (quarkus.containsKey(envVar)) {
            return Optional.of(quarkus.get(envVar));
        }
        if (kafkaMap && envVar.startsWith("KAFKA_")) {
            return Optional.of(envVar.toLowerCase(java.util.Locale.ROOT).replace('_', '.'));
        }
        // quarkus.* keys only through the extensions' model above, which knows whether they are read at run time
        return properties.stream().filter(k -> !k.startsWith("quarkus.") && envName(k).equals(envVar)).findFirst();
    }

    private static boolean usesKafkaMap(List<Path> appJars) {
        for (Path jar : appJars) {
            try (JarFile f = new JarFile(jar.toFile())) {
                for (Enumeration<JarEntry> e = f.entries(); e.hasMoreElements(); ) {
                    JarEntry entry = e.nextElement();
                    if (entry.getName().endsWith(".class")) {
                        try (InputStream in = f.getInputStream(entry)) {
                            if (contains(in.readAllBytes(), KAFKA_MAP)) {
                                return true;
                            }
                        }
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return false;
    }

    private static boolean contains(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    private static List<Path> jars(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.toString().endsWith(".jar")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Properties applicationProperties(List<Path> appJars) {
        for (Path jar : appJars) {
            try (JarFile f = new JarFile(jar.toFile())) {
                JarEntry e = f.getJarEntry("application.properties");
                if (e != null) {
                    Properties p = new Properties();
                    try (InputStream in = f.getInputStream(e)) {
                        p.load(in);
                    }
                    return p;
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        throw new IllegalStateException("no application.properties in " + appJars);
    }

    /** Every key of every {@code @ConfigMapping} interface in the service's own jar, with whether it is required. */
    private static Map<String, Boolean> mappingKeys(List<Path> appJars, List<Path> libJars) {
        List<URL> urls = new ArrayList<>();
        for (Path p : Stream.concat(appJars.stream(), libJars.stream()).toList()) {
            try {
                urls.add(p.toUri().toURL());
            } catch (MalformedURLException e) {
                throw new IllegalStateException(e);
            }
        }
        // the service's own class path, isolated from this test's: the interfaces are read, never run
        try (URLClassLoader loader = new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader())) {
            Class<? extends Annotation> configMapping = annotation(loader, "io.smallrye.config.ConfigMapping");
            Map<String, Boolean> keys = new LinkedHashMap<>();
            for (Path jar : appJars) {
                for (String className : classNames(jar)) {
                    Class<?> type = Class.forName(className, false, loader);
                    Annotation a = type.isInterface() ? type.getAnnotation(configMapping) : null;
                    if (a != null) {
                        String prefix = (String) configMapping.getMethod("prefix").invoke(a);
                        addKeys(loader, type, prefix, keys);
                    }
                }
            }
            if (keys.isEmpty()) {
                throw new IllegalStateException("no @ConfigMapping interface in " + appJars);
            }
            return keys;
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void addKeys(ClassLoader loader, Class<?> type, String prefix, Map<String, Boolean> keys)
            throws ReflectiveOperationException {
        Class<? extends Annotation> withName = annotation(loader, "io.smallrye.config.WithName");
        Class<? extends Annotation> withDefault = annotation(loader, "io.smallrye.config.WithDefault");
        for (Method m : type.getMethods()) {
            if (m.isDefault() || Modifier.isStatic(m.getModifiers()) || m.getParameterCount() > 0) {
                continue;
            }
            Annotation name = m.getAnnotation(withName);
            String key = prefix + "." + (name != null ? (String) withName.getMethod("value").invoke(name) : kebab(m.getName()));
            Class<?> r = m.getReturnType();
            if (r.isInterface() && r.getClassLoader() == loader && !r.getName().startsWith("java.")
                    && r.getName().startsWith(type.getPackageName())) {
                addKeys(loader, r, key, keys);  // a nested group of the same service
                continue;
            }
            // a map of named groups (judge-svc's callers) is empty when none is configured, never required
            boolean optional = r == Optional.class || r == OptionalInt.class || r == OptionalLong.class
                    || r == OptionalDouble.class || r == Map.class;
            Annotation fallback = m.getAnnotation(withDefault);
            keys.put(key, !optional && fallback == null);
            if (fallback != null) {
                // a default of "${other.key:value}" reads other.key at run time too (a setting shared by services)
                java.util.regex.Matcher shared = java.util.regex.Pattern.compile("\\$\\{([a-z0-9.-]+)[:}]")
                        .matcher((String) withDefault.getMethod("value").invoke(fallback));
                while (shared.find()) {
                    keys.putIfAbsent(shared.group(1), false);
                }
            }
        }
    }

    /** SmallRye's default naming: {@code maxBatchSize} is {@code max-batch-size}. */
    static String kebab(String camel) {
        StringBuilder b = new StringBuilder();
        for (char c : camel.toCharArray()) {
            if (Character.isUpperCase(c)) {
                b.append('-').append(Character.toLowerCase(c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    @SuppressWarnings("unchecked")
    private static Class<? extends Annotation> annotation(ClassLoader loader, String name) throws ClassNotFoundException {
        return (Class<? extends Annotation>) Class.forName(name, false, loader);
    }

    private static List<String> classNames(Path jar) throws IOException {
        List<String> names = new ArrayList<>();
        try (JarFile f = new JarFile(jar.toFile())) {
            for (Enumeration<JarEntry> e = f.entries(); e.hasMoreElements(); ) {
                String n = e.nextElement().getName();
                if (n.endsWith(".class") && !n.equals("module-info.class") && !n.contains("META-INF")) {
                    names.add(n.substring(0, n.length() - ".class".length()).replace('/', '.'));
                }
            }
        }
        return names;
    }

    /** Environment variable to key, from the config model every Quarkus extension jar carries. */
    private static Map<String, String> quarkusKeys(List<Path> libJars) {
        ObjectMapper json = new ObjectMapper();
        Map<String, String> keys = new HashMap<>();
        for (Path jar : libJars) {
            try (JarFile f = new JarFile(jar.toFile())) {
                JarEntry e = f.getJarEntry(QUARKUS_CONFIG_MODEL);
                if (e != null) {
                    try (InputStream in = f.getInputStream(e)) {
                        collectProperties(json.readTree(in), keys);
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        if (keys.isEmpty()) {
            throw new IllegalStateException("no Quarkus config model in " + libJars.size() + " libraries");
        }
        return keys;
    }

    /**
     * Only keys read at run time: a build-time key (quarkus.application.name, phase BUILD_AND_RUN_TIME_FIXED) set in
     * the environment is ignored by the packaged app, with a warning.
     */
    private static void collectProperties(JsonNode node, Map<String, String> keys) {
        JsonNode path = node.path("path");
        if (path.has("environmentVariable") && path.has("property") && "RUN_TIME".equals(node.path("phase").asText())) {
            String property = path.get("property").asText();
            if (!property.contains("\"")) {  // map entries (quarkus.log.category."x".level) have no fixed name
                keys.put(path.get("environmentVariable").asText(), property);
            }
        }
        for (JsonNode child : node) {
            collectProperties(child, keys);
        }
    }
}
