#!/usr/bin/env bash
# Validates compose/ without a Docker engine (nothing is built or started):
#   - docker-compose accepts compose/docker-compose.yml with compose/.env.example, with and (if
#     the tool supports profiles) without the gateway profile, and refuses it when a password
#     is missing; .env.example defines every variable the compose file uses, and no other;
#   - the Postgres init script and the RabbitMQ entrypoint parse; the SQL of init.sh is the SQL
#     of scripts/stack.sh's pg_bootstrap, and the broker definitions it renders are the ones
#     stack.sh writes (same vhost, users, tags and permission patterns), for the same passwords;
#   - in the resolved configuration, each service holds only its own credentials (no ADMIN_* or
#     SUBSCRIBER_* variable, no other service's variables or passwords), only identity and init
#     mount the signing-key volume, and the services run as distinct non-root uids;
#   - ports agree between ServiceConfiguration.swift, the Dockerfile and the compose file;
#   - `nginx -t` accepts the gateway configuration (nginx is installed through apt when
#     missing and this runs as root; otherwise that check is skipped with a message).
# Exits non-zero if any check fails.
set -Euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO_DIR"

COMPOSE_FILE=compose/docker-compose.yml
ENV_EXAMPLE=compose/.env.example
SERVICES=(identity billing content progress notifications analytics webhooks)

failures=0
pass() { printf 'ok    %s\n' "$*"; }
fail() {
    printf 'FAIL  %s\n' "$*" >&2
    failures=$((failures + 1))
}
skip() { printf 'skip  %s\n' "$*"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Debian packages, installed only as root and never started (policy-rc.d, as install-deps.sh).
apt_install() {
    [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null || return 1
    local policy=/usr/sbin/policy-rc.d created=0 rc=0
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created=1
    fi
    {
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" ||
            { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"; }
    } >"$tmp/apt.log" 2>&1 || rc=1
    ((created)) && rm -f "$policy"
    ((rc == 0)) || tail -n 5 "$tmp/apt.log" >&2
    return $rc
}

# docker-compose under an empty environment, so that only the env file counts.
compose() {
    env -i PATH="$PATH" HOME="${HOME:-/root}" docker-compose -f "$COMPOSE_FILE" "$@"
}

# ---------------------------------------------------------------------------------------------
# docker-compose

if ! command -v docker-compose >/dev/null; then
    echo "docker-compose is missing; installing the Debian package…"
    apt_install docker-compose || true
fi
if ! command -v docker-compose >/dev/null; then
    fail "docker-compose is not on PATH (install the Debian package docker-compose, as root: scripts/install-deps.sh)"
else
    if compose --env-file "$ENV_EXAMPLE" config -q 2>"$tmp/config.err"; then
        pass "docker-compose config: $COMPOSE_FILE with $ENV_EXAMPLE"
    else
        cat "$tmp/config.err" >&2
        fail "docker-compose config rejects $COMPOSE_FILE with $ENV_EXAMPLE"
    fi

    # Profiles arrived in docker-compose 1.28; older tools do not know the option.
    compose_help=$(docker-compose --help 2>/dev/null || true)
    if grep -q -- '--profile' <<<"$compose_help"; then
        if compose --env-file "$ENV_EXAMPLE" --profile gateway config -q 2>"$tmp/config.err" &&
            compose --env-file "$ENV_EXAMPLE" --profile gateway config --services 2>>"$tmp/config.err" |
            grep -qx gateway; then
            pass "docker-compose config --profile gateway"
        else
            cat "$tmp/config.err" >&2
            fail "docker-compose config --profile gateway"
        fi
    else
        skip "this docker-compose ($(docker-compose version --short 2>/dev/null)) has no --profile: the gateway profile is checked by the plain config only"
    fi

    # Each process holds only its own credentials and keys: in the resolved configuration, no
    # service sees an administrator's or the subscriber's variable, another service's variables
    # or any password of another user, and only identity (and init, which writes it) mounts the
    # signing key. Services run as distinct uids, identity's shared with init alone.
    if compose --env-file "$ENV_EXAMPLE" config >"$tmp/resolved.yml" 2>"$tmp/config.err" &&
        /usr/bin/python3 - "$tmp/resolved.yml" "$ENV_EXAMPLE" "${SERVICES[@]}" <<'PY' 2>"$tmp/isolation.err"; then
import re, sys, yaml
resolved, env_example, services = sys.argv[1], sys.argv[2], sys.argv[3:]
config = yaml.safe_load(open(resolved))["services"]
example = {}
for line in open(env_example):
    m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line.rstrip("\n"))
    if m:
        example[m[1]] = m[2].strip("\"'")
users = ["ADMIN", "SUBSCRIBER"] + [s.upper() for s in services]
passwords = {k: v for k, v in example.items()
             if re.fullmatch(r"(%s)_(OWNER_)?(DB|AMQP)_PASSWORD" % "|".join(users), k) and v}
problems = []

def volume_sources(spec):
    out = []
    for v in spec.get("volumes") or []:
        out.append(v.get("source") if isinstance(v, dict) else str(v).split(":", 1)[0])
    return out

for s in services:
    S = s.upper()
    spec = config.get(s)
    if spec is None:
        problems.append(f"{s}: not in the resolved configuration"); continue
    if spec.get("env_file"):
        problems.append(f"{s}: has an env_file (every variable must be named per service)")
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    for key, value in env.items():
        prefix = key.split("_", 1)[0]
        if prefix in ("ADMIN", "SUBSCRIBER"):
            problems.append(f"{s}: environment has {key}")
        elif prefix in users and prefix != S:
            problems.append(f"{s}: environment has another service's {key}")
        for pkey, pvalue in passwords.items():
            if pkey.startswith(S + "_"):
                continue
            if pvalue in str(value):
                problems.append(f"{s}: {key} holds the value of {pkey}")
    if s != "identity" and any("SIGNING_KEY_FILE" in k for k in env):
        problems.append(f"{s}: is told where the signing key is")
    if not any(src == "jwks" for src in volume_sources(spec)):
        problems.append(f"{s}: does not mount the jwks volume")
mounts = sorted(name for name, spec in config.items() if "signing-key" in volume_sources(spec))
if mounts != ["identity", "init"]:
    problems.append(f"the signing-key volume is mounted by {mounts}, not by identity and init alone")
uids = {}
for s in services:
    user = str(config[s].get("user") or "")
    uid = user.split(":", 1)[0]
    if not uid or uid == "0" or not uid.isdigit():
        problems.append(f"{s}: no numeric non-root user ({user!r})")
    uids.setdefault(uid, []).append(s)
for uid, names in uids.items():
    if len(names) > 1:
        problems.append(f"uid {uid} is shared by {', '.join(names)}")
init_uid = str(config.get("init", {}).get("user") or "").split(":", 1)[0]
if init_uid != str(config["identity"].get("user") or "").split(":", 1)[0]:
    problems.append("init (which writes the signing key) and identity run as different uids")
for p in problems:
    print(p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
        pass "each service gets only its own credentials (no ADMIN_*, no other service's passwords); only identity and init mount the signing key; distinct uids"
    else
        cat "$tmp/config.err" "$tmp/isolation.err" >&2
        fail "a service's resolved configuration holds what is not its own"
    fi

    # A missing password must stop compose, not start a service with an empty one.
    grep -v '^IDENTITY_DB_PASSWORD=' "$ENV_EXAMPLE" >"$tmp/missing.env"
    if compose --env-file "$tmp/missing.env" config -q >/dev/null 2>&1; then
        fail "docker-compose accepts the file without IDENTITY_DB_PASSWORD"
    else
        pass "docker-compose refuses a missing password"
    fi
fi

# Every variable of the compose file is in .env.example, and .env.example has no other.
used=$(grep -v '^\s*#' "$COMPOSE_FILE" | grep -o '\${[A-Za-z_][A-Za-z0-9_]*' | tr -d '${' | sort -u)
defined=$(grep -oE '^[A-Za-z_][A-Za-z0-9_]*=' "$ENV_EXAMPLE" | tr -d '=' | grep -v '^COMPOSE_' | sort -u)
missing=$(comm -23 <(echo "$used") <(echo "$defined"))
unused=$(comm -13 <(echo "$used") <(echo "$defined"))
if [[ -z "$missing" && -z "$unused" ]]; then
    pass ".env.example defines exactly the $(echo "$used" | wc -l) variables the compose file uses"
else
    [[ -n "$missing" ]] && fail ".env.example lacks: $(echo $missing)"
    [[ -n "$unused" ]] && fail ".env.example defines variables the compose file never uses: $(echo $unused)"
fi

# ---------------------------------------------------------------------------------------------
# Scripts run inside the containers

for script in compose/postgres/init.sh compose/rabbitmq/entrypoint.sh; do
    if bash -n "$script"; then
        pass "bash -n $script"
    else
        fail "bash -n $script"
    fi
done
# Executable, so the postgres entrypoint runs it instead of sourcing it into its own shell.
[[ -x compose/postgres/init.sh ]] && pass "compose/postgres/init.sh is executable" ||
    fail "compose/postgres/init.sh is not executable"
if command -v shellcheck >/dev/null; then
    if shellcheck -S warning compose/postgres/init.sh compose/rabbitmq/entrypoint.sh scripts/check-compose.sh; then
        pass "shellcheck"
    else
        fail "shellcheck"
    fi
fi

# The example's values, as the containers would see them (one layer of quotes removed).
load_env_example() {
    local line key value
    while IFS= read -r line || [[ -n "$line" ]]; do
        [[ "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
        key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
        if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
        export "$key=$value"
    done <"$ENV_EXAMPLE"
}

# A function of scripts/stack.sh, by name, to run here with stubs around it.
stack_function() {
    awk -v name="$1" '$0 ~ "^" name "\\(\\) \\{" { on = 1 } on { print } on && /^}/ { exit }' scripts/stack.sh
}

# Postgres: the SQL of init.sh is the SQL the local stack runs.
(
    load_env_example
    SERVICES=(identity billing content progress notifications analytics webhooks)
    LOG_DIR="$tmp/stack-pg"
    mkdir -p "$LOG_DIR"
    psql_super() { cat; }
    die() { echo "$*" >&2; exit 1; }
    eval "$(stack_function pg_bootstrap)"
    pg_bootstrap
    compose/postgres/init.sh --print-sql >"$tmp/compose.sql"
    diff -u "$LOG_DIR/pg-bootstrap.log" "$tmp/compose.sql" >"$tmp/sql.diff"
) 2>"$tmp/sql.err"
if [[ $? -eq 0 && -s "$tmp/compose.sql" ]]; then
    pass "compose/postgres/init.sh runs the same SQL as stack.sh pg_bootstrap ($(grep -c . "$tmp/compose.sql") lines)"
else
    cat "$tmp/sql.err" "$tmp/sql.diff" >&2 2>/dev/null
    fail "compose/postgres/init.sh differs from stack.sh pg_bootstrap"
fi

# RabbitMQ: the rendered definitions are the ones the local stack loads.
(
    load_env_example
    SERVICES=(identity billing content progress notifications analytics webhooks)
    RMQ_DIR="$tmp/stack-rmq" RMQ_HOME="$tmp/stack-rmq/home" RMQ_LOG_DIR="$tmp/stack-rmq/log" MGMT_PORT=15672 TLS=0
    RMQ_DEFINITIONS="$RMQ_DIR/definitions.json"
    eval "$(stack_function rmq_write_config)"
    rmq_write_config
    SYLLABUS_DEFINITIONS_TEMPLATE=compose/rabbitmq/definitions.json \
        SYLLABUS_DEFINITIONS_FILE="$tmp/compose-definitions.json" \
        bash compose/rabbitmq/entrypoint.sh --render-only >/dev/null
    python3 - "$RMQ_DEFINITIONS" "$tmp/compose-definitions.json" <<'PY'
import json, sys
stack, compose = (json.load(open(p)) for p in sys.argv[1:3])
for key in ("vhosts", "users", "permissions"):
    a = sorted(stack.get(key, []), key=json.dumps)
    b = sorted(compose.get(key, []), key=json.dumps)
    if a != b:
        sys.exit(f"{key} differ:\n  stack.sh: {json.dumps(a)}\n  compose:  {json.dumps(b)}")
extra = set(compose) - {"vhosts", "users", "permissions"}
if extra:
    sys.exit(f"compose definitions have more than stack.sh's: {sorted(extra)}")
if any(u["name"] == "guest" for u in compose["users"]):
    sys.exit("compose definitions define guest")
PY
) 2>"$tmp/defs.err"
if [[ $? -eq 0 ]]; then
    pass "compose/rabbitmq definitions (rendered) equal stack.sh's: vhost, users, permissions"
else
    cat "$tmp/defs.err" >&2
    fail "compose/rabbitmq definitions differ from stack.sh's"
fi

# The entrypoint refuses a password that would break a URL or the JSON.
if ADMIN_AMQP_PASSWORD='a"b' SUBSCRIBER_AMQP_PASSWORD=x IDENTITY_AMQP_PASSWORD=x BILLING_AMQP_PASSWORD=x \
    CONTENT_AMQP_PASSWORD=x PROGRESS_AMQP_PASSWORD=x NOTIFICATIONS_AMQP_PASSWORD=x ANALYTICS_AMQP_PASSWORD=x \
    WEBHOOKS_AMQP_PASSWORD=x \
    SYLLABUS_DEFINITIONS_TEMPLATE=compose/rabbitmq/definitions.json SYLLABUS_DEFINITIONS_FILE="$tmp/bad.json" \
    bash compose/rabbitmq/entrypoint.sh --render-only >/dev/null 2>&1; then
    fail "compose/rabbitmq/entrypoint.sh accepts a password with a quote"
else
    pass "compose/rabbitmq/entrypoint.sh refuses unsafe passwords"
fi

if grep -qx 'load_definitions = /etc/rabbitmq/definitions.json' compose/rabbitmq/rabbitmq.conf &&
    grep -q 'SYLLABUS_DEFINITIONS_FILE:-/etc/rabbitmq/definitions.json}' compose/rabbitmq/entrypoint.sh; then
    pass "rabbitmq.conf loads the file the entrypoint renders"
else
    fail "rabbitmq.conf load_definitions and entrypoint.sh target differ"
fi

# ---------------------------------------------------------------------------------------------
# Ports: ServiceConfiguration.swift, Dockerfile, compose file

if python3 - "${SERVICES[@]}" <<'PY'; then
import re, sys
services = sys.argv[1:]
swift = open("Shared/ServiceKit/ServiceConfiguration.swift").read()
ports = dict(re.findall(r"\.(\w+): (\d{4})", swift.split("defaultPorts", 1)[1].split("\n\n", 1)[0]))
docker = open("compose/Dockerfile").read()
compose = open("compose/docker-compose.yml").read()
gateway = open("compose/gateway/default.conf").read()
problems = []
for s in services:
    p = ports.get(s)
    if not p:
        problems.append(f"{s}: no default port in ServiceConfiguration.swift"); continue
    stage = re.search(rf"FROM service AS image-{s}\n(.*?)(?:\n\n|\Z)", docker, re.S)
    if not stage or f"EXPOSE {p}" not in stage.group(1) or f"SYLLABUS_DEFAULT_PORT={p}" not in stage.group(1):
        problems.append(f"{s}: Dockerfile stage image-{s} does not expose {p}")
    if f"{s.upper()}_HTTP_PORT: {p}" not in compose or f":{p}:{p}\"" not in compose:
        problems.append(f"{s}: compose does not run or publish it on {p}")
    if f"http://{s}:{p};" not in gateway:
        problems.append(f"{s}: the gateway does not send to {s}:{p}")
if "FROM runtime AS image-syllabus" not in docker:
    problems.append("Dockerfile has no image-syllabus stage (the CLI)")
for p in problems:
    print(p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
    pass "ports agree: ServiceConfiguration.swift, Dockerfile, compose file, gateway"
else
    fail "ports disagree between ServiceConfiguration.swift, Dockerfile, compose file and gateway"
fi

# ---------------------------------------------------------------------------------------------
# Gateway: nginx -t

if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
    echo "nginx is missing; installing the Debian package nginx-light (not started)…"
    apt_install nginx-light || true
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [[ -x "$NGINX" ]]; then
    # The image's nginx.conf includes conf.d/*.conf inside http { }: the same here, with
    # runtime files under a scratch prefix.
    mkdir -p "$tmp/nginx/logs"
    cat >"$tmp/nginx/nginx.conf" <<EOF
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log;
events {}
http {
    access_log off;
    include $REPO_DIR/compose/gateway/default.conf;
}
EOF
    if "$NGINX" -t -q -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" 2>"$tmp/nginx.err"; then
        pass "nginx -t compose/gateway/default.conf ($("$NGINX" -v 2>&1 | sed 's/.*: //'))"
    else
        cat "$tmp/nginx.err" >&2
        fail "nginx -t rejects compose/gateway/default.conf"
    fi
else
    skip "nginx -t: nginx is not installed and could not be installed through apt"
fi

echo
if ((failures)); then
    echo "check-compose: $failures check(s) failed" >&2
    exit 1
fi
echo "check-compose: all checks passed (compose is validated only; no image is built here)"
