#!/usr/bin/python3
"""Checks the rendered Kubernetes manifests of deploy/kubernetes against the code.

scripts/check-kubernetes.sh renders the base and every overlay with `kubectl kustomize` and runs
this on the results:

    check-kubernetes.py --validator PATH --kubernetes-version 1.29.0 NAME=FILE [NAME=FILE ...]

For each rendering:
  - the built-in kinds validate against Kubernetes' own schemas (kubernetes-validate, strict);
  - no Secret is defined: Secrets are referenced by name and created by hand;
  - each of the seven services (ServiceConfiguration.defaultPorts) has a Deployment on its port
    with readiness and liveness probes on the health routes the code serves, requests and limits,
    a locked-down security context, a Service, a PodDisruptionBudget, an autoscaling/v2
    HorizontalPodAutoscaler on CPU and a NetworkPolicy of its own;
  - every environment variable a Deployment or the topology Job sets is one the code reads, every
    variable the code requires is set, and the secrets among them come from secretKeyRef;
  - the network policies: default deny, DNS, each service in from the Ingress controller and
    Prometheus only, out to Postgres 5432, RabbitMQ 5672 and, only for the services whose code
    calls outside systems, public addresses on the ports it calls;
  - the Ingress routes every path of every openapi.yaml to its service (and the gateway's table);
  - the operator kinds hold the fields relied on (RabbitmqCluster, CloudNativePG Cluster and
    Pooler). Those kinds are checked here only, not against the operators' own schemas.

Variables the code reads are found in the Swift sources, as ServiceConfiguration reads them: a key
such as "stripe.webhook.secret" is read from BILLING_STRIPE_WEBHOOK_SECRET, then
STRIPE_WEBHOOK_SECRET. Prints failures, one line per rendering (every check with --verbose) and a
summary; exits non-zero on any failure.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Groups whose kinds Kubernetes itself defines: these are validated by kubernetes-validate.
BUILTIN_GROUPS = {"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io"}
# The operators' kinds: checked below for the fields relied on, not against their schemas.
OPERATOR_KINDS = {("rabbitmq.com", "RabbitmqCluster"), ("postgresql.cnpg.io", "Cluster"), ("postgresql.cnpg.io", "Pooler")}

PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"]
SMTP_PORTS = {25, 465, 587}
HTTPS_PORTS = {443}
# Connections a replica holds besides its pool (the relay's session and listener, the listeners of
# revocations and queue drains); README.md "Sizing" explains the figure.
CONNECTIONS_BESIDES_POOL = 5


class Checks:
    def __init__(self, verbose):
        self.passed = 0
        self.failed = 0
        self.verbose = verbose

    def ok(self, message):
        self.passed += 1
        if self.verbose:
            print(f"ok    {message}")

    def fail(self, message):
        self.failed += 1
        print(f"FAIL  {message}", file=sys.stderr)

    def check(self, condition, message, failure=None):
        if condition:
            self.ok(message)
        else:
            self.fail(failure or message)
        return condition


def read(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as handle:
        return handle.read()


def swift_files(directory):
    root = os.path.join(REPO, directory)
    for base, _, files in os.walk(root):
        for name in sorted(files):
            if name.endswith(".swift"):
                yield os.path.join(base, name)


def text_of(directories):
    return "\n".join(open(path, encoding="utf-8").read() for d in directories for path in swift_files(d))


# ---------------------------------------------------------------------------------------------
# What the code reads


def variable(key):
    """The unprefixed variable of a configuration key: "stripe.webhook.secret" → STRIPE_WEBHOOK_SECRET."""
    return key.upper().replace(".", "_")


def key_pattern(key):
    """A regular expression for the variable of a key that may hold interpolations
    ("oauth.\\(name).\\(key)" → OAUTH_[A-Z0-9_]+_[A-Z0-9_]+)."""
    parts = re.split(r"\\\([^)]*\)", key)
    return "[A-Z0-9_]+".join(re.escape(variable(part)) for part in parts)


# configuration.string("key"…), .int("key"…), .nonEmpty("key"…), .list("key"…): the key may interpolate.
CONFIG_READ = re.compile(r'\bconfiguration\.(?:string|int|nonEmpty|list)\(\s*"((?:[^"\\]|\\.)*)"')
SECRET_RULE = re.compile(r'\.(required|optional)\(\s*"([^"]+)"')
GUARD_MISSING = re.compile(
    r'guard let \w+ = configuration\.(?:string|nonEmpty)\("([^"]+)"\)[^{]*\{\s*throw ConfigurationError\.missing', re.S)


def unconditional_guards(text):
    """Keys whose absence makes the service refuse to start: a `guard … else { throw
    ConfigurationError.missing }` that is not inside a switch case, an if or a loop."""
    keys = []
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    for match in GUARD_MISSING.finditer(text):
        if "\\(" in match.group(1):
            continue  # a key made at run time (identity's OAuth providers): required only when named
        index = max(i for i, start in enumerate(offsets) if start <= match.start())
        indent = len(lines[index]) - len(lines[index].lstrip())
        enclosing = []
        for previous in range(index - 1, -1, -1):
            stripped = lines[previous].strip()
            depth = len(lines[previous]) - len(lines[previous].lstrip())
            if stripped and depth < indent:
                enclosing.append(stripped)
                indent = depth
        if not any(re.match(r"(case |default:|if |else|} else|for |while )", line) for line in enclosing):
            keys.append(match.group(1))
    return keys


class Code:
    """What the Swift sources say about the services and the CLI."""

    def __init__(self):
        configuration = read("Shared/ServiceKit/ServiceConfiguration.swift")
        ports = re.search(r"defaultPorts[^=]*=\s*\[(.*?)\]", configuration, re.S).group(1)
        self.ports = {name: int(port) for name, port in re.findall(r"\.(\w+):\s*(\d+)", ports)}
        self.services = list(self.ports)
        self.pool_size = int(re.search(r'lookup\("database\.pool\.size"\)[^?]*\?\?\s*(\d+)', configuration).group(1))

        # Every service: the keys ServiceConfiguration and the rest of ServiceKit read.
        self.required_keys = re.findall(r'required\("([^"]+)"\)', configuration)
        shared_keys = set(self.required_keys) | set(re.findall(r'lookup\("([^"]+)"\)', configuration))
        servicekit = text_of(["Shared/ServiceKit"])
        shared_keys |= set(CONFIG_READ.findall(servicekit))
        self.shared_keys = shared_keys
        # Read from the process environment directly (tracing).
        self.shared_environment = set(re.findall(r'environment\["([A-Z0-9_]+)"\]', servicekit))
        telemetry = read("Shared/ServiceKit/Telemetry.swift")
        # The OpenTelemetry library reads the other OTEL_* variables itself, as the specification
        # defines them (Telemetry.swift says so).
        self.shared_patterns = ["OTEL_[A-Z0-9_]+"] if "OTel.makeTracingBackend" in telemetry else []
        runtime = read("Shared/ServiceKit/ServiceRuntime.swift")
        self.verifier_needs_jwks = 'ConfigurationError.missing("JWT_JWKS_FILE")' in runtime

        self.sources = {}
        for service in self.services:
            folder = next(d for d in os.listdir(os.path.join(REPO, "Services")) if d.lower() == service)
            directories = [f"Services/{folder}/Sources", f"Services/{folder}/Main"]
            # Libraries of Services/ a service imports (content runs LearningPlans).
            imports = set(re.findall(r"^import (\w+)", text_of(directories), re.M))
            for library in sorted(imports):
                if library.lower() not in self.ports and os.path.isdir(os.path.join(REPO, "Services", library, "Sources")):
                    directories.append(f"Services/{library}/Sources")
            self.sources[service] = (directories, text_of(directories))

        # What `syllabus topology apply` reads, and what it cannot run without.
        topology = read("Sources/SyllabusCLI/TopologyCommand.swift")
        apply = topology[topology.index("struct Apply"):topology.index("struct Show")]
        self.topology_required = set(re.findall(r'setting\([^,]+,\s*env:\s*"([A-Z0-9_]+)"\)', apply))
        self.topology_reads = self.topology_required | set(re.findall(r'environment\["([A-Z0-9_]+)"\]', apply))

        observability = read("Shared/ServiceKit/Observability.swift")
        self.routes = set(re.findall(r'router\.get\("(/[^"]+)"\)', observability))

    def keys(self, service):
        return self.shared_keys | set(CONFIG_READ.findall(self.sources[service][1])) | {
            key for _, key in SECRET_RULE.findall(self.main(service))}

    def main(self, service):
        directories = self.sources[service][0]
        return text_of([d for d in directories if d.endswith("/Main")])

    def allowed(self, service):
        """Regular expressions of the variables the service reads."""
        prefix = service.upper() + "_"
        patterns = set(self.shared_patterns) | {re.escape(name) for name in self.shared_environment}
        for key in self.keys(service):
            patterns.add(key_pattern(key))
            patterns.add(re.escape(prefix) + key_pattern(key))
        return [re.compile(f"^{pattern}$") for pattern in sorted(patterns)]

    def required(self, service):
        """Keys without which the service does not start."""
        text = self.sources[service][1]
        keys = set(self.required_keys)
        keys |= {key for kind, key in SECRET_RULE.findall(self.main(service)) if kind == "required"}
        keys |= set(unconditional_guards(text))
        if self.verifier_needs_jwks and "tokenVerifier()" in text:
            keys.add("jwt.jwks.file")
        return keys

    def secret_keys(self, service):
        """Keys whose values are secrets: the connection URLs the service checks for passwords and
        its SecretRules."""
        return {"database.url", "migration.database.url", "amqp.url"} | {key for _, key in SECRET_RULE.findall(self.main(service))}

    def calls_out(self, service):
        """The ports a service calls outside systems on: HTTPS through URLSession, SMTP through curl."""
        text = self.sources[service][1]
        ports = set()
        # Foundation's URLSession (through OutgoingHTTP), or SwiftNIO's HTTP client (webhooks).
        if re.search(r"\bOutgoingHTTP\b|\bURLSession\b|addHTTPClientHandlers", text):
            ports |= HTTPS_PORTS
        if "/usr/bin/curl" in text and "smtp" in text.lower():
            ports |= SMTP_PORTS
        return ports

    def openapi_paths(self, service):
        folder = next(d for d in os.listdir(os.path.join(REPO, "Services")) if d.lower() == service)
        document = yaml.safe_load(read(f"Services/{folder}/openapi.yaml"))
        return sorted(document.get("paths", {}))

    def common_paths(self):
        return sorted(yaml.safe_load(read("Shared/ServiceKit/OpenAPI/common.yaml")).get("paths", {}))


def init_sql_statements(services):
    """The statements of compose/postgres/init.sh (the same SQL as scripts/stack.sh pg_bootstrap)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ADMIN_DB_PASSWORD": "check-admin"}
    for service in services:
        env[f"{service.upper()}_DB_PASSWORD"] = "check-runtime"
        env[f"{service.upper()}_OWNER_DB_PASSWORD"] = "check-owner"
    sql = subprocess.run(["bash", os.path.join(REPO, "compose/postgres/init.sh"), "--print-sql"], env=env,
                         check=True, capture_output=True, text=True).stdout
    # DO blocks span lines; other statements end with ";" or "\\gexec", or are a psql command.
    sql = re.sub(r"DO \$\$BEGIN.*?END\$\$;", "", sql, flags=re.S)
    statements, current = [], ""
    for line in sql.splitlines():
        current = f"{current} {line.strip()}".strip()
        if current and (current.endswith(";") or current.endswith("\\gexec") or current.startswith("\\")):
            statements.append(current)
            current = ""
    return statements


def gateway_routes():
    routes = {}
    for _, path, upstream in re.findall(r"location\s+(\^~|=)\s+(\S+)\s*\{\s*proxy_pass\s+\$(\w+);", read("compose/gateway/default.conf")):
        routes[path.rstrip("/") or "/"] = upstream
    return routes


# ---------------------------------------------------------------------------------------------
# Rendered objects


def matches(selector, labels):
    """Whether a label selector (matchLabels, matchExpressions) selects these labels."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def ports_of(rule):
    result = set()
    for port in rule.get("ports") or [{}]:
        if "port" not in port:
            return None  # every port
        start = port["port"]
        end = port.get("endPort", start)
        if not isinstance(start, int):
            return None
        result |= set(range(start, end + 1))
    return result


class Rendering:
    def __init__(self, name, documents):
        self.name = name
        self.documents = [d for d in documents if d]

    def of(self, kind, group=None):
        return [d for d in self.documents if d.get("kind") == kind and (group is None or d["apiVersion"].split("/")[0] == group)]

    def named(self, kind, name):
        found = [d for d in self.of(kind) if d["metadata"]["name"] == name]
        return found[0] if found else None

    def config_map(self, name):
        return self.named("ConfigMap", name)

    def network_policies(self, labels):
        return [p for p in self.of("NetworkPolicy") if matches(p["spec"].get("podSelector", {}), labels)]


def group_of(document):
    api = document.get("apiVersion", "")
    return api.split("/")[0] if "/" in api else ""


def container_environment(rendering, container):
    """The container's variables: name → (source, value or reference)."""
    result = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            config_map = rendering.config_map(source["configMapRef"]["name"])
            for key, value in ((config_map or {}).get("data") or {}).items():
                result[(source.get("prefix") or "") + key] = ("configMap", value)
            if config_map is None:
                result[f"<envFrom {source['configMapRef']['name']}>"] = ("missing", source["configMapRef"]["name"])
        else:
            result[f"<envFrom {json.dumps(source)}>"] = ("secretRef", source)
    for entry in container.get("env") or []:
        if "value" in entry or "valueFrom" not in entry:
            result[entry["name"]] = ("value", entry.get("value", ""))
        elif "secretKeyRef" in entry["valueFrom"]:
            result[entry["name"]] = ("secret", entry["valueFrom"]["secretKeyRef"])
        elif "configMapKeyRef" in entry["valueFrom"]:
            reference = entry["valueFrom"]["configMapKeyRef"]
            config_map = rendering.config_map(reference["name"])
            value = ((config_map or {}).get("data") or {}).get(reference["key"])
            result[entry["name"]] = ("configMap", value) if value is not None else ("missing", reference["name"])
        else:
            result[entry["name"]] = ("field", entry["valueFrom"])
    return result


def check_security(checks, where, pod, container):
    pod_context = pod.get("securityContext") or {}
    context = container.get("securityContext") or {}
    non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True
    uid = context.get("runAsUser", pod_context.get("runAsUser"))
    checks.check(non_root and uid != 0, f"{where}: runs as non-root (uid {uid})", f"{where}: runAsNonRoot must be true and the uid not 0")
    checks.check(context.get("allowPrivilegeEscalation") is False and not context.get("privileged"),
                 f"{where}: no privilege escalation", f"{where}: allowPrivilegeEscalation must be false, privileged unset")
    checks.check("ALL" in ((context.get("capabilities") or {}).get("drop") or []) and not (context.get("capabilities") or {}).get("add"),
                 f"{where}: drops every capability", f"{where}: capabilities must drop ALL and add none")
    checks.check(context.get("readOnlyRootFilesystem") is True, f"{where}: read-only root filesystem",
                 f"{where}: readOnlyRootFilesystem must be true")
    resources = container.get("resources") or {}
    complete = all((resources.get(part) or {}).get(what) for part in ("requests", "limits") for what in ("cpu", "memory"))
    checks.check(complete, f"{where}: cpu and memory requests and limits", f"{where}: needs cpu and memory requests and limits")


def check_environment(checks, where, environment, allowed, required, secrets, service=None):
    """Every variable set is read; every required one is set; secrets come from Secrets."""
    unread = sorted(name for name in environment if not any(pattern.match(name) for pattern in allowed))
    checks.check(not unread, f"{where}: sets only variables the code reads ({len(environment)})",
                 f"{where}: sets {', '.join(unread)}, which the code never reads")
    missing = [name for name, (source, _) in environment.items() if source in ("missing", "secretRef")]
    checks.check(not missing, f"{where}: every envFrom and configMapKeyRef resolves",
                 f"{where}: {', '.join(missing)}: envFrom must name config maps of the manifests, and secrets one key at a time")
    for alternatives in required:
        present = [name for name in alternatives if name in environment and environment[name][1] not in ("", None)]
        checks.check(bool(present), f"{where}: sets {present[0] if present else alternatives[0]} (required)",
                     f"{where}: must set {' or '.join(alternatives)}: the code refuses to start without it")
    for alternatives in secrets:
        for name in alternatives:
            if name in environment:
                source, reference = environment[name]
                checks.check(source == "secret", f"{where}: {name} from Secret {reference.get('name') if source == 'secret' else ''}",
                             f"{where}: {name} is a secret: take it from a Secret with secretKeyRef, never a value or a config map")


def resolve_port(container, port):
    if isinstance(port, int):
        return port
    for entry in container.get("ports") or []:
        if entry.get("name") == port:
            return entry["containerPort"]
    return None


def check_rendering(checks, code, rendering, validator, kubernetes_version, sql_statements, gateway):
    name = rendering.name

    # --- kinds -----------------------------------------------------------------------------------
    builtin = [d for d in rendering.documents if group_of(d) in BUILTIN_GROUPS]
    operator = [d for d in rendering.documents if (group_of(d), d.get("kind")) in OPERATOR_KINDS]
    unknown = [f"{d.get('apiVersion')} {d.get('kind')}" for d in rendering.documents if d not in builtin and d not in operator]
    checks.check(not unknown, f"{name}: every kind is built in or an operator kind checked here",
                 f"{name}: kinds neither validated nor checked: {', '.join(unknown)}")

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump_all(builtin, handle, sort_keys=False)
    try:
        result = subprocess.run([validator, "--kubernetes-version", kubernetes_version, "--strict", "--quiet", handle.name],
                                capture_output=True, text=True)
    finally:
        os.unlink(handle.name)
    output = (result.stdout + result.stderr).strip().replace(handle.name, name)
    checks.check(result.returncode == 0 and "ERROR" not in output,
                 f"{name}: {len(builtin)} built-in objects validate against Kubernetes {kubernetes_version} (strict)",
                 f"{name}: kubernetes-validate {kubernetes_version} --strict failed:\n{output}")

    secrets = rendering.of("Secret")
    checks.check(not secrets, f"{name}: defines no Secret (referenced by name only)",
                 f"{name}: defines Secret {', '.join(s['metadata']['name'] for s in secrets)}: create secrets by hand (README.md), never in manifests")

    default_deny = [p for p in rendering.of("NetworkPolicy")
                    if p["spec"].get("podSelector") in ({}, None) and set(p["spec"].get("policyTypes") or []) == {"Ingress", "Egress"}
                    and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    checks.check(bool(default_deny), f"{name}: a default-deny network policy (ingress and egress)",
                 f"{name}: needs a NetworkPolicy selecting every pod with no rules for Ingress and Egress")

    # --- the operators ---------------------------------------------------------------------------
    clusters = rendering.of("Cluster", "postgresql.cnpg.io")
    brokers = rendering.of("RabbitmqCluster", "rabbitmq.com")
    poolers = rendering.of("Pooler", "postgresql.cnpg.io")
    checks.check(len(clusters) == 1, f"{name}: one CloudNativePG Cluster", f"{name}: needs exactly one postgresql.cnpg.io Cluster")
    checks.check(len(brokers) == 1, f"{name}: one RabbitmqCluster", f"{name}: needs exactly one rabbitmq.com RabbitmqCluster")
    checks.check(len(poolers) >= 1, f"{name}: a CloudNativePG Pooler", f"{name}: needs a postgresql.cnpg.io Pooler")
    cluster = clusters[0] if clusters else {"metadata": {"name": "?"}, "spec": {}}
    broker = brokers[0] if brokers else {"metadata": {"name": "?"}, "spec": {}}
    postgres_labels = {"cnpg.io/cluster": cluster["metadata"]["name"], "cnpg.io/podRole": "instance"}
    broker_labels = {"app.kubernetes.io/name": broker["metadata"]["name"], "app.kubernetes.io/component": "rabbitmq",
                     "app.kubernetes.io/part-of": "rabbitmq"}
    pooler_labels = [{"cnpg.io/poolerName": p["metadata"]["name"], "cnpg.io/cluster": cluster["metadata"]["name"],
                      "cnpg.io/podRole": "pooler"} for p in poolers]
    check_postgres(checks, name, code, cluster, sql_statements)
    check_rabbitmq(checks, name, broker)
    for pooler in poolers:
        spec = pooler["spec"]
        where = f"{name}: Pooler {pooler['metadata']['name']}"
        checks.check((spec.get("cluster") or {}).get("name") == cluster["metadata"]["name"], f"{where}: pools {cluster['metadata']['name']}",
                     f"{where}: spec.cluster.name must be {cluster['metadata']['name']}")
        checks.check(spec.get("type") == "rw", f"{where}: type rw", f"{where}: type must be rw")
        checks.check((spec.get("instances") or 1) >= 2, f"{where}: {spec.get('instances')} instances", f"{where}: needs at least 2 instances")
        mode = (spec.get("pgbouncer") or {}).get("poolMode")
        checks.check(mode == "session", f"{where}: session pooling (advisory locks and LISTEN survive)",
                     f"{where}: poolMode is {mode}: the outbox relay's advisory lock, LISTEN and prepared statements need session pooling (README.md)")

    # --- the services ----------------------------------------------------------------------------
    deployments = {d["metadata"]["name"]: d for d in rendering.of("Deployment")}
    extra = sorted(set(deployments) - set(code.services))
    checks.check(not extra, f"{name}: a Deployment for each service and no other",
                 f"{name}: Deployments that are not services: {', '.join(extra)}")
    retry_delays = {}
    total_connections = 0
    for service in code.services:
        where = f"{name}: {service}"
        deployment = deployments.get(service)
        if not checks.check(deployment is not None, f"{where}: Deployment", f"{where}: no Deployment named {service}"):
            continue
        pod = deployment["spec"]["template"]["spec"]
        labels = deployment["spec"]["template"]["metadata"].get("labels") or {}
        checks.check(matches(deployment["spec"]["selector"], labels), f"{where}: selector matches its pods",
                     f"{where}: the Deployment's selector does not select its own pods")
        containers = pod.get("containers") or []
        if not checks.check(len(containers) == 1, f"{where}: one container", f"{where}: expected one container"):
            continue
        container = containers[0]
        image = container.get("image", "")
        checks.check(image.split("@")[0].rsplit(":", 1)[0].endswith(f"/{service}"), f"{where}: image {image}",
                     f"{where}: image {image} is not the {service} image")
        replicas = deployment["spec"].get("replicas", 1)
        if name == "base":
            checks.check(replicas == 2, f"{where}: 2 replicas by default", f"{where}: the base runs 2 replicas (has {replicas})")
        else:
            checks.check(replicas >= 2, f"{where}: {replicas} replicas", f"{where}: at least 2 replicas (has {replicas})")

        port = code.ports[service]
        container_ports = [p["containerPort"] for p in container.get("ports") or []]
        checks.check(container_ports == [port], f"{where}: listens on {port}", f"{where}: container ports {container_ports}, the service listens on {port}")
        for probe, route in (("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live")):
            spec = (container.get(probe) or {}).get("httpGet") or {}
            checks.check(route in code.routes and spec.get("path") == route and resolve_port(container, spec.get("port")) == port,
                         f"{where}: {probe} GET {route} on {port}",
                         f"{where}: {probe} must GET {route} on port {port} (the route every service serves)")
        annotations = deployment["spec"]["template"]["metadata"].get("annotations") or {}
        checks.check("/metrics" in code.routes and annotations.get("prometheus.io/path") == "/metrics"
                     and annotations.get("prometheus.io/port") == str(port),
                     f"{where}: Prometheus scrapes /metrics on {port}", f"{where}: prometheus.io/path and port must name /metrics on {port}")
        check_security(checks, where, pod, container)
        checks.check(pod.get("automountServiceAccountToken") is False, f"{where}: no service account token",
                     f"{where}: automountServiceAccountToken must be false (the services never call the API)")

        environment = container_environment(rendering, container)
        prefix = service.upper() + "_"
        required = [[prefix + variable(key), variable(key)] for key in sorted(code.required(service))]
        secret_names = [[prefix + variable(key), variable(key)] for key in sorted(code.secret_keys(service))]
        check_environment(checks, where, environment, code.allowed(service), required, secret_names)
        for candidate in (prefix + "HTTP_PORT", "HTTP_PORT"):
            if candidate in environment:
                value = environment[candidate][1]
                checks.check(str(value) == str(port), f"{where}: {candidate}={value}", f"{where}: {candidate}={value} but the container port is {port}")
                break
        for candidate in (prefix + "RETRY_DELAYS", "RETRY_DELAYS"):
            if candidate in environment:
                retry_delays[service] = environment[candidate][1]
                break
        else:
            retry_delays[service] = None

        # Files named by *_FILE variables are mounted; the signing key into identity only.
        mounts = [m["mountPath"].rstrip("/") + "/" for m in container.get("volumeMounts") or []]
        for variable_name, (source, value) in sorted(environment.items()):
            if variable_name.endswith("_FILE") and isinstance(value, str) and value:
                checks.check(any(value.startswith(m) for m in mounts), f"{where}: {variable_name} {value} is mounted",
                             f"{where}: {variable_name}={value} is under no volume mount")

        service_objects = [s for s in rendering.of("Service") if matches({"matchLabels": s["spec"].get("selector") or {}}, labels)
                           and s["spec"].get("selector")]
        checks.check(any(any(p.get("port") == port and resolve_port(container, p.get("targetPort", p.get("port"))) == port
                             for p in s["spec"].get("ports") or []) for s in service_objects),
                     f"{where}: Service on {port}", f"{where}: needs a Service selecting its pods on port {port}")
        budgets = [b for b in rendering.of("PodDisruptionBudget") if matches(b["spec"].get("selector"), labels)]
        checks.check(len(budgets) == 1 and budgets[0]["apiVersion"] == "policy/v1" and budgets[0]["spec"].get("minAvailable") == 1,
                     f"{where}: PodDisruptionBudget minAvailable 1", f"{where}: needs one policy/v1 PodDisruptionBudget with minAvailable 1")
        autoscalers = [h for h in rendering.of("HorizontalPodAutoscaler")
                       if (h["spec"].get("scaleTargetRef") or {}).get("kind") == "Deployment" and h["spec"]["scaleTargetRef"].get("name") == service]
        if checks.check(len(autoscalers) == 1 and autoscalers[0]["apiVersion"] == "autoscaling/v2", f"{where}: autoscaling/v2 HorizontalPodAutoscaler",
                        f"{where}: needs one autoscaling/v2 HorizontalPodAutoscaler on the Deployment"):
            spec = autoscalers[0]["spec"]
            cpu = any(m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == "cpu" for m in spec.get("metrics") or [])
            low, high = spec.get("minReplicas", 1), spec.get("maxReplicas", 0)
            checks.check(cpu and 2 <= low <= high, f"{where}: scales on cpu, {low}–{high} replicas",
                         f"{where}: the autoscaler must scale on cpu with 2 <= minReplicas <= maxReplicas (has {low}–{high})")
            total_connections += high * (code.pool_size + CONNECTIONS_BESIDES_POOL)
        check_service_network(checks, where, code, rendering, service, labels, port, postgres_labels, broker_labels)

    # Everyone reaches what they need: the databases' own policies admit the services.
    service_labels = {"app.kubernetes.io/part-of": "syllabus", "app.kubernetes.io/component": "service"}
    check_admits(checks, name, rendering, postgres_labels, service_labels, 5432, "Postgres admits the services on 5432")
    check_admits(checks, name, rendering, broker_labels, service_labels, 5672, "RabbitMQ admits the services on 5672")

    values = set(retry_delays.values())
    checks.check(len(values) == 1 and None not in values, f"{name}: one RETRY_DELAYS for every service ({values.pop() if len(values) == 1 else values})",
                 f"{name}: the services' RETRY_DELAYS differ or are unset: {retry_delays}")

    max_connections = int(((cluster["spec"].get("postgresql") or {}).get("parameters") or {}).get("max_connections", 100))
    checks.check(total_connections <= max_connections,
                 f"{name}: the services at their autoscalers' upper bounds need about {total_connections} connections of max_connections {max_connections}",
                 f"{name}: the services at their autoscalers' upper bounds need about {total_connections} Postgres connections, more than max_connections {max_connections}")

    # Identity's signing key: mounted into identity alone.
    signing_key_volumes = []
    for kind in ("Deployment", "Job", "StatefulSet", "DaemonSet", "CronJob"):
        for workload in rendering.of(kind):
            template = workload["spec"].get("jobTemplate", {}).get("spec", workload["spec"])["template"]["spec"]
            for volume in template.get("volumes") or []:
                if (volume.get("secret") or {}).get("secretName") == "syllabus-identity-signing-key":
                    signing_key_volumes.append(f"{kind}/{workload['metadata']['name']}")
    checks.check(signing_key_volumes == ["Deployment/identity"], f"{name}: the signing key is mounted into identity alone",
                 f"{name}: the Secret syllabus-identity-signing-key is mounted by {signing_key_volumes or 'nothing'}; identity alone must mount it")

    check_topology_job(checks, name, code, rendering, retry_delays, broker_labels, pooler_labels)
    check_ingress(checks, name, code, rendering, gateway)


def check_service_network(checks, where, code, rendering, service, labels, port, postgres_labels, broker_labels):
    policies = rendering.network_policies(labels)
    own = [p for p in policies if (p["spec"].get("podSelector") or {}).get("matchLabels") or (p["spec"].get("podSelector") or {}).get("matchExpressions")]
    checks.check(bool(own), f"{where}: NetworkPolicy {', '.join(p['metadata']['name'] for p in own)}",
                 f"{where}: needs a NetworkPolicy of its own")
    # In: only from other namespaces' pods (the Ingress controller, Prometheus), on its port.
    bad_ingress = []
    for policy in policies:
        for rule in policy["spec"].get("ingress") or []:
            peers = rule.get("from") or [None]
            if any(peer is None or "namespaceSelector" not in peer or "ipBlock" in peer for peer in peers) or ports_of(rule) != {port}:
                bad_ingress.append(policy["metadata"]["name"])
    checks.check(not bad_ingress, f"{where}: in only from the Ingress controller's and Prometheus's namespaces, on {port}",
                 f"{where}: ingress rules of {', '.join(bad_ingress)} admit more than named namespaces on port {port}")

    calls = code.calls_out(service)
    allowed_external = set()
    bad_egress = []
    for policy in policies:
        for rule in policy["spec"].get("egress") or []:
            ports = ports_of(rule)
            peers = rule.get("to") or [None]
            description = f"{policy['metadata']['name']} to {json.dumps(rule.get('to'))} on {sorted(ports) if ports else 'every port'}"
            if ports is None or None in peers:
                bad_egress.append(description)
            elif ports == {53}:
                continue
            elif all("podSelector" in p and "namespaceSelector" not in p and "ipBlock" not in p for p in peers):
                ok = (ports == {5432} and all(matches(p["podSelector"], postgres_labels) for p in peers)) or (
                    ports == {5672} and all(matches(p["podSelector"], broker_labels) for p in peers))
                if not ok:
                    bad_egress.append(description)
            elif all("ipBlock" in p for p in peers):
                public = all(p["ipBlock"].get("cidr") == "0.0.0.0/0" and set(PRIVATE_RANGES) <= set(p["ipBlock"].get("except") or []) for p in peers)
                if public and ports <= calls:
                    allowed_external |= ports
                else:
                    bad_egress.append(description)
            else:
                bad_egress.append(description)
    checks.check(not bad_egress, f"{where}: out only to Postgres 5432, RabbitMQ 5672, DNS" + (f" and public addresses on {sorted(calls)}" if calls else ""),
                 f"{where}: egress beyond what it needs: {'; '.join(bad_egress)}")
    reaches = set()
    for target, target_port in ((postgres_labels, 5432), (broker_labels, 5672)):
        if any(ports_of(rule) and target_port in ports_of(rule) and any(p and "podSelector" in p and matches(p["podSelector"], target) for p in rule.get("to") or [])
               for policy in policies for rule in policy["spec"].get("egress") or []):
            reaches.add(target_port)
    checks.check(reaches == {5432, 5672}, f"{where}: reaches Postgres and RabbitMQ", f"{where}: egress to Postgres 5432 and RabbitMQ 5672 is not allowed")
    dns = any(ports_of(rule) == {53} for policy in policies for rule in policy["spec"].get("egress") or [])
    checks.check(dns, f"{where}: reaches DNS", f"{where}: egress to DNS (53) is not allowed")
    checks.check(allowed_external == calls, f"{where}: calls outside on {sorted(calls) or 'nothing'}, as its code does",
                 f"{where}: its code calls outside systems on {sorted(calls) or 'nothing'}, its policy allows {sorted(allowed_external) or 'nothing'}")


def check_admits(checks, name, rendering, target_labels, client_labels, port, message):
    admitted = any(ports_of(rule) and port in ports_of(rule) and any(p and "podSelector" in p and "namespaceSelector" not in p and matches(p["podSelector"], client_labels)
                                                                      for p in rule.get("from") or [])
                   for policy in rendering.network_policies(target_labels) for rule in policy["spec"].get("ingress") or [])
    checks.check(admitted, f"{name}: {message}", f"{name}: no NetworkPolicy admits {client_labels} to {target_labels} on {port}")


def check_topology_job(checks, name, code, rendering, retry_delays, broker_labels, pooler_labels):
    jobs = [j for j in rendering.of("Job")
            if any("topology" in (c.get("command") or []) + (c.get("args") or []) and "apply" in (c.get("command") or []) + (c.get("args") or [])
                   for c in j["spec"]["template"]["spec"].get("containers") or [])]
    if not checks.check(len(jobs) == 1, f"{name}: a Job runs `syllabus topology apply`", f"{name}: needs one Job running `syllabus topology apply`"):
        return
    job = jobs[0]
    where = f"{name}: Job {job['metadata']['name']}"
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    image = container.get("image", "")
    checks.check(image.split("@")[0].rsplit(":", 1)[0].endswith("/syllabus"), f"{where}: the CLI image {image}", f"{where}: image {image} is not the CLI's")
    check_security(checks, where, pod, container)
    environment = container_environment(rendering, container)
    allowed = [re.compile(f"^{re.escape(n)}$") for n in sorted(code.topology_reads)]
    # Connection URLs carry the administrator's password.
    secret_names = [[n] for n in sorted(code.topology_reads) if n.endswith("_URL")]
    check_environment(checks, where, environment, allowed, [[n] for n in sorted(code.topology_required)], secret_names)
    value = environment.get("RETRY_DELAYS", (None, None))[1]
    services = set(retry_delays.values())
    checks.check(len(services) == 1 and value in services, f"{where}: the same RETRY_DELAYS as the services",
                 f"{where}: RETRY_DELAYS {value} differs from the services' {services}: the retry tiers must agree")
    labels = job["spec"]["template"]["metadata"].get("labels") or {}
    check_admits(checks, name, rendering, broker_labels, labels, 5672, "RabbitMQ admits the topology Job on 5672")
    reaches = any(ports_of(rule) and 5672 in ports_of(rule) and any(p and "podSelector" in p and matches(p["podSelector"], broker_labels) for p in rule.get("to") or [])
                  for policy in rendering.network_policies(labels) for rule in policy["spec"].get("egress") or [])
    checks.check(reaches, f"{where}: reaches RabbitMQ", f"{where}: no egress to RabbitMQ 5672")
    for labels_of_pooler in pooler_labels:
        check_admits(checks, name, rendering, labels_of_pooler, labels, 5432, "the pooler admits the CLI's pods on 5432")


def check_postgres(checks, name, code, cluster, sql_statements):
    spec = cluster["spec"]
    where = f"{name}: Cluster {cluster['metadata']['name']}"
    instances = spec.get("instances", 1)
    synchronous = (spec.get("postgresql") or {}).get("synchronous")
    if synchronous:
        count = synchronous.get("number", 0)
        sync_ok = count >= 1 and synchronous.get("method") in ("any", "first")
    else:
        count = spec.get("maxSyncReplicas", 0)
        sync_ok = spec.get("minSyncReplicas", 0) >= 1 and count >= spec.get("minSyncReplicas", 0)
    checks.check(sync_ok, f"{where}: synchronous replication ({count} standby)", f"{where}: needs synchronous replication: minSyncReplicas >= 1 and maxSyncReplicas >= minSyncReplicas")
    checks.check(instances >= 2 and instances > count, f"{where}: {instances} instances", f"{where}: needs at least 2 instances, more than the synchronous standbys")
    checks.check(bool((spec.get("storage") or {}).get("size")), f"{where}: storage size", f"{where}: needs spec.storage.size")
    resources = spec.get("resources") or {}
    checks.check(bool((resources.get("requests") or {}).get("memory") and (resources.get("limits") or {}).get("memory")),
                 f"{where}: memory requests and limits", f"{where}: needs memory requests and limits")
    initdb = ((spec.get("bootstrap") or {}).get("initdb") or {})
    checks.check(initdb.get("database") == "syllabus", f"{where}: bootstraps the database syllabus", f"{where}: bootstrap.initdb.database must be syllabus")

    # The local stack's statements, but for those that handle passwords and attributes (managed
    # roles below), create the database (initdb does) or switch to it (postInitApplicationSQL
    # runs in it), and those of its superuser syllabus_admin.
    expected = [s for s in sql_statements
                if not re.match(r"(ALTER ROLE \S+ WITH |SELECT 'CREATE DATABASE|\\connect)", s) and "syllabus_admin" not in s]
    ours = [s.strip() for s in initdb.get("postInitApplicationSQL") or []]
    creations = {s for s in ours if re.match(r"CREATE ROLE \w+;$", s)}
    rest = [s for s in ours if s not in creations]
    checks.check(rest == expected, f"{where}: schemas and grants are those of compose/postgres/init.sh ({len(expected)} statements)",
                 f"{where}: postInitApplicationSQL differs from compose/postgres/init.sh:\n  missing: {[s for s in expected if s not in rest][:5]}\n  extra: {[s for s in rest if s not in expected][:5]}")

    roles = {r.get("name"): r for r in ((spec.get("managed") or {}).get("roles") or [])}
    for service in code.services:
        for role in (f"{service}_owner", service):
            entry = roles.get(role)
            good = entry is not None and f"CREATE ROLE {role};" in creations and entry.get("ensure", "present") == "present" and entry.get("login") is True and not any(
                entry.get(flag) for flag in ("superuser", "createdb", "createrole", "replication", "bypassrls")) and (entry.get("passwordSecret") or {}).get("name")
            checks.check(good, f"{where}: role {role} LOGIN, nothing more, password from Secret {(entry or {}).get('passwordSecret', {}).get('name')}",
                         f"{where}: role {role} must be created in postInitApplicationSQL and managed with login true, no other attribute, and a passwordSecret")


def check_rabbitmq(checks, name, broker):
    spec = broker["spec"]
    where = f"{name}: RabbitmqCluster {broker['metadata']['name']}"
    replicas = spec.get("replicas", 1)
    checks.check(replicas >= 3 and replicas % 2 == 1, f"{where}: {replicas} nodes (quorum queues keep a majority)",
                 f"{where}: needs an odd number of replicas, at least 3 (quorum queues and the archive stream)")
    checks.check(bool(spec.get("image")), f"{where}: image {spec.get('image')}", f"{where}: pin spec.image")
    checks.check(bool((spec.get("persistence") or {}).get("storage")), f"{where}: persistent storage", f"{where}: needs spec.persistence.storage")
    resources = spec.get("resources") or {}
    checks.check(bool((resources.get("requests") or {}).get("memory") and (resources.get("limits") or {}).get("memory")),
                 f"{where}: memory requests and limits", f"{where}: needs memory requests and limits")
    config = (spec.get("rabbitmq") or {}).get("additionalConfig") or ""
    settings = dict(re.findall(r"^\s*([\w.]+)\s*=\s*(\S+)", config, re.M))
    checks.check(settings.get("cluster_partition_handling") == "pause_minority", f"{where}: pause_minority on partitions",
                 f"{where}: additionalConfig needs cluster_partition_handling = pause_minority")
    definitions = settings.get("load_definitions")
    template = (((spec.get("override") or {}).get("statefulSet") or {}).get("spec") or {}).get("template", {}).get("spec") or {}
    container = next((c for c in template.get("containers") or [] if c.get("name") == "rabbitmq"), {})
    volumes = {v["name"]: v for v in template.get("volumes") or []}
    mounted = [m for m in container.get("volumeMounts") or [] if definitions and definitions.startswith(m["mountPath"].rstrip("/") + "/")]
    from_secret = bool(mounted) and "secret" in volumes.get(mounted[0]["name"], {})
    checks.check(from_secret, f"{where}: imports the definitions (users, vhost, permissions) from a Secret at boot",
                 f"{where}: additionalConfig load_definitions must name a file mounted from a Secret through spec.override (the definitions hold passwords)")
    checks.check(bool(((spec.get("secretBackend") or {}).get("externalSecret") or {}).get("name")),
                 f"{where}: default user from the Secret {((spec.get('secretBackend') or {}).get('externalSecret') or {}).get('name')}",
                 f"{where}: secretBackend.externalSecret must name the administrator's Secret, so the operator's user is the definitions' syllabus_admin")


def check_ingress(checks, name, code, rendering, gateway):
    routes = []
    for ingress in rendering.of("Ingress"):
        for rule in ingress["spec"].get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = path["backend"]["service"]
                routes.append((path["path"], path.get("pathType", "Prefix"), backend["name"], backend["port"].get("number")))
    if not checks.check(bool(routes), f"{name}: an Ingress", f"{name}: needs an Ingress routing the API"):
        return

    def route(request):
        best = None
        for path, kind, target, port in routes:
            hit = request == path if kind == "Exact" else (request == path or request.startswith(path.rstrip("/") + "/"))
            if hit and (best is None or len(path) > len(best[0])):
                best = (path, target, port)
        return best

    wrong = []
    for service in code.services:
        for path in code.openapi_paths(service):
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            found = route(concrete)
            if not found or found[1] != service or found[2] != code.ports[service]:
                wrong.append(f"{path} → {found[1] if found else 'nothing'} (should be {service})")
    checks.check(not wrong, f"{name}: the Ingress routes every path of every openapi.yaml to its service",
                 f"{name}: Ingress routes wrong: {'; '.join(wrong)}")
    exposed = [p for p in code.common_paths() if route(p)]
    checks.check(not exposed, f"{name}: the Ingress exposes no health, metrics or OpenAPI route",
                 f"{name}: the Ingress routes {', '.join(exposed)}: keep them on the service port")
    ours = {path.rstrip("/") or "/": target for path, _, target, _ in routes}
    checks.check(ours == gateway, f"{name}: the Ingress has the compose gateway's table ({len(gateway)} prefixes)",
                 f"{name}: the Ingress and compose/gateway/default.conf differ: only in the Ingress {sorted(set(ours.items()) - set(gateway.items()))}, only in the gateway {sorted(set(gateway.items()) - set(ours.items()))}")


def shape(rendering):
    """What an overlay may change: replicas, resources and autoscaling bounds."""
    result = {}
    for deployment in rendering.of("Deployment"):
        result[deployment["metadata"]["name"]] = (deployment["spec"].get("replicas"),
                                                  json.dumps(deployment["spec"]["template"]["spec"]["containers"][0].get("resources"), sort_keys=True))
    for autoscaler in rendering.of("HorizontalPodAutoscaler"):
        result["hpa/" + autoscaler["metadata"]["name"]] = (autoscaler["spec"].get("minReplicas"), autoscaler["spec"].get("maxReplicas"))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validator", required=True, help="the kubernetes-validate executable")
    parser.add_argument("--kubernetes-version", required=True)
    parser.add_argument("--passed", type=int, default=0, help="checks already passed (rendering)")
    parser.add_argument("--failed", type=int, default=0, help="checks already failed (rendering)")
    parser.add_argument("--verbose", action="store_true", help="print every check, not only failures")
    parser.add_argument("renderings", nargs="+", metavar="NAME=FILE")
    arguments = parser.parse_args()

    checks = Checks(arguments.verbose)
    checks.passed, checks.failed = arguments.passed, arguments.failed
    code = Code()
    checks.check(len(code.services) == 7, f"the code has {len(code.services)} services: {', '.join(code.services)}",
                 f"ServiceConfiguration.defaultPorts names {len(code.services)} services, expected 7")
    checks.check({"/health/live", "/health/ready"} <= code.routes and {"/health/live", "/health/ready"} <= set(code.common_paths()),
                 "the services serve /health/live and /health/ready", "the health routes moved: update the probes and this check")
    sql = init_sql_statements(code.services)
    gateway = gateway_routes()

    renderings = {}
    for argument in arguments.renderings:
        name, path = argument.split("=", 1)
        with open(path, encoding="utf-8") as handle:
            renderings[name] = Rendering(name, list(yaml.safe_load_all(handle)))
    for name in ("base", "staging", "production"):
        checks.check(name in renderings, f"{name} rendered", f"{name} is missing or did not render")
    for rendering in renderings.values():
        passed, failed = checks.passed, checks.failed
        check_rendering(checks, code, rendering, arguments.validator, arguments.kubernetes_version, sql, gateway)
        if checks.failed == failed:
            print(f"ok    {rendering.name}: {checks.passed - passed} checks passed")
        else:
            print(f"FAIL  {rendering.name}: {checks.failed - failed} of {checks.passed - passed + checks.failed - failed} checks failed", file=sys.stderr)

    if {"base", "staging", "production"} <= set(renderings):
        base, staging, production = (shape(renderings[n]) for n in ("base", "staging", "production"))
        checks.check(staging != production and staging != base and production != base,
                     "staging and production differ from the base and from each other in replicas, resources or autoscaling bounds",
                     "the overlays must differ in replicas, resources or autoscaling bounds")

    print(f"check-kubernetes: {checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
