package steer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Checks the Kubernetes manifests ({@code k8s/}) against the services they deploy, as packaged: every STEER_*,
 * QUARKUS_* and KAFKA_* variable sets a key the service really has and every required key is set; probes, container
 * ports, Services and scrape annotations agree on the port the service listens on; each workload runs the image of its
 * own module; paths that travel between services (checkpoint store, SFT model) are the same in every pod and are
 * mounted. The base is checked as written; the overlays as {@code kubectl kustomize} renders them when kubectl is on
 * the PATH, and by their ConfigMap and image entries otherwise.
 */
class DeploymentManifestsTest {

    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();
    private static final Path K8S = ROOT.resolve("k8s");
    private static final YAMLMapper YAML = new YAMLMapper();
    private static final Map<String, String> MODULE_OF_COMPONENT = Map.of("generator", "generator-svc", "judge",
            "judge-svc", "trainer", "trainer-svc", "orchestrator", "orchestrator");
    private static final Set<String> WORKLOADS = Set.of("Deployment", "StatefulSet");
    /** The image's own files: models baked in under /opt/steer/models. */
    private static final String IMAGE_ROOT = "/opt/steer/";

    private static Map<String, ServiceConfigKeys> services;
    private static Set<String> launcherVariables;

    @BeforeAll
    static void readServices() throws IOException {
        services = new HashMap<>();
        for (String module : MODULE_OF_COMPONENT.values()) {
            services.put(module, ServiceConfigKeys.read(ROOT, module));
        }
        // variables the image's entrypoint reads itself (${NAME...} in docker/entrypoint.sh), not Quarkus
        launcherVariables = new LinkedHashSet<>();
        Matcher m = Pattern.compile("\\$\\{([A-Z][A-Z0-9_]*)").matcher(Files.readString(ROOT.resolve("docker/entrypoint.sh")));
        while (m.find()) {
            launcherVariables.add(m.group(1));
        }
        assertTrue(launcherVariables.contains("STEER_TORCH_THREADS"), "entrypoint reads " + launcherVariables);
    }

    @Test
    void everyYamlFileParsesAndNamesItsKind() throws IOException {
        List<Path> files = yamlFiles(K8S);
        assertTrue(files.size() >= 10, "YAML files under k8s/: " + files);
        for (Path f : files) {
            List<JsonNode> docs = read(f);
            assertFalse(docs.isEmpty(), f + " holds no document");
            for (JsonNode d : docs) {
                assertTrue(d.hasNonNull("apiVersion") && d.hasNonNull("kind"), f + ": a document without apiVersion/kind: " + d);
            }
        }
    }

    @Test
    void baseManifestsMatchTheServices() {
        List<JsonNode> docs = new ArrayList<>();
        JsonNode kustomization = read(K8S.resolve("base/kustomization.yaml")).get(0);
        for (JsonNode r : kustomization.get("resources")) {
            docs.addAll(read(K8S.resolve("base").resolve(r.asText())));
        }
        checkDeployment("base", docs);
    }

    @Test
    void renderedOverlaysMatchTheServices() {
        Assumptions.assumeTrue(kubectlAvailable(), "kubectl is not on the PATH; the overlays' own entries are checked"
                + " by overlayEntriesNameRealKeysAndModules");
        for (String overlay : overlays()) {
            List<JsonNode> docs = render(K8S.resolve("overlays").resolve(overlay));
            checkDeployment(overlay, docs);
            if (overlay.equals("gpu")) {
                for (JsonNode w : workloads(docs)) {
                    String component = component(w);
                    JsonNode gpu = container(w).at("/resources/limits/nvidia.com~1gpu");
                    if (component.equals("orchestrator")) {
                        assertTrue(gpu.isMissingNode(), "gpu: the orchestrator needs no GPU");
                        assertFalse(container(w).get("image").asText().contains("cu124"), "gpu: orchestrator image");
                    } else {
                        assertEquals(1, gpu.asInt(), "gpu: " + component + " limits nvidia.com/gpu");
                        assertTrue(container(w).get("image").asText().endsWith("-cu124"), "gpu: " + component + " runs a cu124 image");
                    }
                }
            }
        }
    }

    /** Without kubectl: each overlay's ConfigMap entries are keys of the services reading that ConfigMap; images name modules. */
    @Test
    void overlayEntriesNameRealKeysAndModules() {
        List<JsonNode> base = new ArrayList<>();
        for (JsonNode r : read(K8S.resolve("base/kustomization.yaml")).get(0).get("resources")) {
            base.addAll(read(K8S.resolve("base").resolve(r.asText())));
        }
        Map<String, Set<String>> readersOfConfigMap = new HashMap<>();
        for (JsonNode w : workloads(base)) {
            for (JsonNode from : container(w).path("envFrom")) {
                if (from.has("configMapRef")) {
                    readersOfConfigMap.computeIfAbsent(from.at("/configMapRef/name").asText(), k -> new LinkedHashSet<>())
                            .add(MODULE_OF_COMPONENT.get(component(w)));
                }
            }
        }
        for (String overlay : overlays()) {
            Path dir = K8S.resolve("overlays").resolve(overlay);
            JsonNode kustomization = read(dir.resolve("kustomization.yaml")).get(0);
            for (JsonNode p : kustomization.path("patches")) {
                for (JsonNode d : read(dir.resolve(p.get("path").asText()))) {
                    if (d.get("kind").asText().equals("ConfigMap")) {
                        String name = d.at("/metadata/name").asText();
                        Set<String> readers = readersOfConfigMap.get(name);
                        assertTrue(readers != null, overlay + ": patches ConfigMap " + name + ", which no workload reads");
                        d.path("data").fieldNames().forEachRemaining(var -> readers.forEach(
                                module -> assertAccepted(overlay + " ConfigMap " + name, module, var)));
                    }
                }
            }
            for (JsonNode image : kustomization.path("images")) {
                String module = lastSegment(image.get("name").asText());
                assertTrue(MODULE_OF_COMPONENT.containsValue(module), overlay + ": image " + image + " names no module");
            }
        }
    }

    /** Every check on one set of manifests (the base, or an overlay as rendered). */
    private static void checkDeployment(String where, List<JsonNode> docs) {
        Map<String, JsonNode> configMaps = byName(docs, "ConfigMap");
        Map<String, JsonNode> secrets = byName(docs, "Secret");
        List<JsonNode> workloads = workloads(docs);
        Set<String> components = new LinkedHashSet<>();
        Map<String, Map<String, String>> envOfModule = new HashMap<>();
        Map<String, JsonNode> containerOfModule = new HashMap<>();
        for (JsonNode w : workloads) {
            String name = where + " " + w.get("kind").asText() + " " + w.at("/metadata/name").asText();
            String component = component(w);
            String module = MODULE_OF_COMPONENT.get(component);
            assertTrue(module != null, name + ": component label '" + component + "' is none of " + MODULE_OF_COMPONENT.keySet());
            assertTrue(components.add(component), where + ": two workloads for " + component);
            JsonNode c = container(w);
            assertEquals(module, lastSegment(c.get("image").asText().replaceFirst(":[^/]*$", "")),
                    name + ": image " + c.get("image").asText() + " is not the " + module + " image");
            Map<String, String> env = env(name, c, configMaps, secrets);
            env.keySet().forEach(var -> assertAccepted(name, module, var));
            ServiceConfigKeys keys = services.get(module);
            keys.mapping().forEach((key, required) -> {
                if (required && !keys.properties().contains(key)) {
                    assertTrue(env.containsKey(ServiceConfigKeys.envName(key)),
                            name + ": required " + key + " (" + ServiceConfigKeys.envName(key) + ") is not set");
                }
            });
            checkPorts(name, w, c, env, keys);
            envOfModule.put(module, env);
            containerOfModule.put(module, w);
        }
        assertEquals(MODULE_OF_COMPONENT.keySet(), components, where + ": one workload per service");
        checkServices(where, docs, workloads);
        checkSharedPaths(where, envOfModule, containerOfModule);
        checkOrchestratorTargets(where, docs, workloads, envOfModule);
    }

    /**
     * The orchestrator's generator and judge addresses name Services of this deployment that select that service's
     * pods: {@code dns:///NAME:PORT} a headless one (its DNS name is every ready pod, so PORT is the pods' port),
     * {@code NAME:PORT} one with that port.
     */
    private static void checkOrchestratorTargets(String where, List<JsonNode> docs, List<JsonNode> workloads,
                                                 Map<String, Map<String, String>> envOfModule) {
        Map<String, JsonNode> byService = byName(docs, "Service");
        Map<String, String> env = envOfModule.get("orchestrator");
        for (String component : List.of("generator", "judge")) {
            String var = "STEER_ORCHESTRATOR_" + component.toUpperCase(java.util.Locale.ROOT) + "_ADDRESS";
            String address = env.get(var);
            assertTrue(address != null, where + ": the orchestrator's " + var + " is not set");
            JsonNode workload = workloads.stream().filter(w -> component(w).equals(component)).findFirst().orElseThrow();
            String module = MODULE_OF_COMPONENT.get(component);
            Map<String, String> podEnv = envOfModule.get(module);
            int podPort = podEnv.containsKey("QUARKUS_HTTP_PORT") ? Integer.parseInt(podEnv.get("QUARKUS_HTTP_PORT"))
                    : services.get(module).httpPort();
            for (String target : address.split(",")) {
                String t = target.trim();
                boolean headless = t.startsWith("dns:///");
                String hostPort = headless ? t.substring("dns:///".length()) : t;
                String name = hostPort.substring(0, hostPort.lastIndexOf(':')).split("\\.")[0];
                int port = Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
                JsonNode service = byService.get(name);
                String what = where + ": " + var + " target " + t;
                assertTrue(service != null, what + " names no Service; Services: " + byService.keySet());
                assertTrue(selects(service.at("/spec/selector"), workload.at("/spec/template/metadata/labels")),
                        what + ": Service " + name + " does not select the " + component + " pods");
                if (headless) {
                    assertEquals("None", service.at("/spec/clusterIP").asText(), what + ": dns:/// needs a headless"
                            + " Service (clusterIP: None), else the name is one virtual IP and a load reaches one pod");
                    assertEquals(podPort, port, what + ": resolved to pod addresses, so the port is the pods' port");
                } else {
                    boolean found = false;
                    for (JsonNode p : service.at("/spec/ports")) {
                        found |= p.path("port").asInt() == port;
                    }
                    assertTrue(found, what + ": Service " + name + " has no port " + port);
                }
            }
        }
    }

    private static void assertAccepted(String where, String module, String var) {
        if (launcherVariables.contains(var)) {
            return;
        }
        ServiceConfigKeys keys = services.get(module);
        Optional<String> key = keys.keyOf(var);
        assertTrue(key.isPresent(), where + ": " + var + " is no configuration key of " + module + " read at run time"
                + (var.startsWith("STEER_") ? "; its @ConfigMapping keys are " + keys.mapping().keySet() : ""));
    }

    /** Container port, probes and scrape annotations all name the port the service listens on. */
    private static void checkPorts(String name, JsonNode w, JsonNode c, Map<String, String> env, ServiceConfigKeys keys) {
        int listens = env.containsKey("QUARKUS_HTTP_PORT") ? Integer.parseInt(env.get("QUARKUS_HTTP_PORT")) : keys.httpPort();
        Map<String, Integer> ports = new HashMap<>();
        for (JsonNode p : c.path("ports")) {
            ports.put(p.path("name").asText(), p.get("containerPort").asInt());
        }
        assertEquals(listens, ports.getOrDefault("grpc", -1), name + ": container port 'grpc' must be the HTTP/gRPC port");
        Map<String, String> paths = Map.of("startupProbe", "/q/health/ready", "readinessProbe", "/q/health/ready",
                "livenessProbe", "/q/health/live");
        paths.forEach((probe, path) -> {
            JsonNode get = c.path(probe).path("httpGet");
            assertFalse(get.isMissingNode(), name + ": no " + probe + " httpGet");
            assertEquals(path, get.path("path").asText(), name + ": " + probe + " path");
            JsonNode port = get.path("port");
            int number = port.isInt() ? port.asInt() : ports.getOrDefault(port.asText(), -1);
            assertEquals(listens, number, name + ": " + probe + " port " + port);
        });
        JsonNode annotations = w.at("/spec/template/metadata/annotations");
        assertEquals("true", annotations.path("prometheus.io/scrape").asText(), name + ": prometheus.io/scrape");
        assertEquals(String.valueOf(listens), annotations.path("prometheus.io/port").asText(), name + ": prometheus.io/port");
        assertEquals("/q/metrics", annotations.path("prometheus.io/path").asText(), name + ": prometheus.io/path");
    }

    /** Each Service selects exactly one workload's pods and forwards to its gRPC port, declared as gRPC. */
    private static void checkServices(String where, List<JsonNode> docs, List<JsonNode> workloads) {
        Set<String> served = new LinkedHashSet<>();
        for (JsonNode s : docs) {
            if (!s.get("kind").asText().equals("Service")) {
                continue;
            }
            String name = where + " Service " + s.at("/metadata/name").asText();
            List<JsonNode> selected = workloads.stream().filter(w -> selects(s.at("/spec/selector"),
                    w.at("/spec/template/metadata/labels"))).toList();
            assertEquals(1, selected.size(), name + " must select exactly one workload's pods");
            JsonNode c = container(selected.get(0));
            for (JsonNode p : s.at("/spec/ports")) {
                assertEquals("grpc", p.path("name").asText(), name + ": port name");
                assertEquals("grpc", p.path("appProtocol").asText(), name + ": appProtocol");
                String target = p.path("targetPort").asText();
                boolean found = false;
                for (JsonNode cp : c.path("ports")) {
                    found |= cp.path("name").asText().equals(target) || cp.get("containerPort").asText().equals(target);
                }
                assertTrue(found, name + ": targetPort " + target + " is no port of " + c.get("name").asText());
            }
            served.add(component(selected.get(0)));
        }
        assertEquals(MODULE_OF_COMPONENT.keySet(), served, where + ": every service reachable through a Service");
    }

    /**
     * Paths travel between services (CheckpointEvent locations, LoadModel of the SFT model): they must be the same
     * everywhere, and each must be inside a volume the pod mounts (or the image's own files).
     */
    private static void checkSharedPaths(String where, Map<String, Map<String, String>> env, Map<String, JsonNode> workloads) {
        String store = env.get("trainer-svc").get("STEER_TRAINER_STORE_ROOT");
        assertEquals(store, env.get("generator-svc").get("STEER_GENERATOR_ALLOWED_ROOT"), where + ": generator allowed root");
        assertEquals(store, env.get("judge-svc").get("STEER_JUDGE_ALLOWED_ROOT"), where + ": judge allowed root");
        String model = env.get("trainer-svc").get("STEER_TRAINER_BASE_MODEL");
        assertEquals(model, env.get("generator-svc").get("STEER_GENERATOR_MODEL_LOCATION"), where + ": generator start model");
        assertEquals(model, env.get("judge-svc").get("STEER_JUDGE_MODEL_LOCATION"), where + ": judge start model");
        assertEquals(model, env.get("orchestrator").get("STEER_ORCHESTRATOR_BASE_MODEL"), where + ": orchestrator base model");
        assertEquals(env.get("generator-svc").get("STEER_GENERATOR_MODEL_NAME"),
                env.get("orchestrator").get("STEER_ORCHESTRATOR_POLICY_MODEL"), where + ": the policy's model name");
        for (String module : MODULE_OF_COMPONENT.values()) {
            JsonNode c = container(workloads.get(module));
            assertMounted(where + " " + module, c, model, true);
            assertMounted(where + " " + module, c, store, !module.equals("trainer-svc"));
        }
        assertMounted(where + " trainer-svc", container(workloads.get("trainer-svc")),
                env.get("trainer-svc").get("STEER_TRAINER_STATE_DIR"), false);
        assertMounted(where + " orchestrator", container(workloads.get("orchestrator")),
                env.get("orchestrator").get("STEER_ORCHESTRATOR_STATE_DIR"), false);
    }

    private static void assertMounted(String where, JsonNode container, String path, boolean readOnly) {
        assertTrue(path != null && path.startsWith("/"), where + ": path " + path + " must be absolute");
        if (path.startsWith(IMAGE_ROOT)) {
            return;
        }
        for (JsonNode m : container.path("volumeMounts")) {
            String mount = m.get("mountPath").asText();
            if (path.equals(mount) || path.startsWith(mount + "/")) {
                assertEquals(readOnly, m.path("readOnly").asBoolean(false), where + ": " + mount + " readOnly");
                return;
            }
        }
        fail(where + ": " + path + " is on no volume the container mounts");
    }

    /** The container's environment: envFrom ConfigMaps and Secrets in order, then env entries. */
    private static Map<String, String> env(String where, JsonNode c, Map<String, JsonNode> configMaps, Map<String, JsonNode> secrets) {
        Map<String, String> env = new LinkedHashMap<>();
        for (JsonNode from : c.path("envFrom")) {
            boolean isConfigMap = from.has("configMapRef");
            String ref = from.path(isConfigMap ? "configMapRef" : "secretRef").path("name").asText();
            JsonNode source = (isConfigMap ? configMaps : secrets).get(ref);
            assertTrue(source != null, where + ": envFrom " + ref + " does not exist");
            source.path(isConfigMap ? "data" : "stringData").fields().forEachRemaining(e -> env.put(e.getKey(), e.getValue().asText()));
        }
        for (JsonNode e : c.path("env")) {
            JsonNode secretRef = e.at("/valueFrom/secretKeyRef");
            if (!secretRef.isMissingNode()) {
                JsonNode secret = secrets.get(secretRef.get("name").asText());
                assertTrue(secret != null, where + ": secret " + secretRef.get("name").asText() + " does not exist");
                assertTrue(secret.path("stringData").has(secretRef.get("key").asText()) || secret.path("data").has(secretRef.get("key").asText()),
                        where + ": secret " + secretRef + " has no such key");
            }
            env.put(e.get("name").asText(), e.path("value").asText(""));
        }
        return env;
    }

    private static boolean selects(JsonNode selector, JsonNode labels) {
        if (selector.isMissingNode() || selector.isEmpty()) {
            return false;
        }
        var fields = selector.fields();
        while (fields.hasNext()) {
            var f = fields.next();
            if (!f.getValue().asText().equals(labels.path(f.getKey()).asText(null))) {
                return false;
            }
        }
        return true;
    }

    private static List<JsonNode> workloads(List<JsonNode> docs) {
        return docs.stream().filter(d -> WORKLOADS.contains(d.get("kind").asText())).toList();
    }

    private static String component(JsonNode workload) {
        return workload.at("/spec/template/metadata/labels/app.kubernetes.io~1component").asText();
    }

    private static JsonNode container(JsonNode workload) {
        JsonNode containers = workload.at("/spec/template/spec/containers");
        assertEquals(1, containers.size(), workload.at("/metadata/name").asText() + ": one container per pod");
        return containers.get(0);
    }

    private static Map<String, JsonNode> byName(List<JsonNode> docs, String kind) {
        Map<String, JsonNode> m = new HashMap<>();
        docs.stream().filter(d -> d.get("kind").asText().equals(kind)).forEach(d -> m.put(d.at("/metadata/name").asText(), d));
        return m;
    }

    private static String lastSegment(String image) {
        return image.substring(image.lastIndexOf('/') + 1);
    }

    private static List<String> overlays() {
        try (Stream<Path> dirs = Files.list(K8S.resolve("overlays"))) {
            List<String> names = dirs.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
            assertEquals(List.of("cpu-local", "gpu"), names, "overlays");
            return names;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<Path> yamlFiles(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(p -> p.toString().endsWith(".yaml") || p.toString().endsWith(".yml")).sorted().toList();
        }
    }

    private static List<JsonNode> read(Path file) {
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(file.toFile())) {
            return parse(it);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }

    private static List<JsonNode> parse(MappingIterator<JsonNode> it) throws IOException {
        List<JsonNode> docs = new ArrayList<>();
        while (it.hasNextValue()) {
            JsonNode d = it.nextValue();
            if (d != null && !d.isNull() && !d.isMissingNode()) {
                docs.add(d);
            }
        }
        return docs;
    }

    private static boolean kubectlAvailable() {
        String path = System.getenv("PATH");
        return path != null && Stream.of(path.split(File.pathSeparator)).anyMatch(d -> Files.isExecutable(Path.of(d, "kubectl")));
    }

    private static List<JsonNode> render(Path overlay) {
        try {
            Process p = new ProcessBuilder("kubectl", "kustomize", overlay.toString()).redirectErrorStream(false).start();
            byte[] out = p.getInputStream().readAllBytes();
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "kubectl kustomize " + overlay + " timed out");
            assertEquals(0, p.exitValue(), "kubectl kustomize " + overlay + ": " + err);
            try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(out)) {
                return parse(it);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
