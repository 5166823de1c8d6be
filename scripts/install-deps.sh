#!/usr/bin/env bash
# Installs the Debian packages the local stack and the build need, if any is missing.
# Idempotent and quick when everything is present. Never starts the packages' default
# service instances (the stack runs its own servers on its own ports).
set -euo pipefail

PACKAGES=(
    postgresql postgresql-contrib libpq-dev
    rabbitmq-server librabbitmq-dev
    python3-jsonschema python3-yaml python3-pika python3-icalendar
    python3-venv openssl pkg-config curl docker-compose nginx-light wrk prometheus
    patroni python3-etcd etcd-server pgbackrest
)

missing=()
# Any kubectl renders the Kubernetes manifests (kubectl kustomize); Debian's comes with
# kubernetes-client, which cannot be installed beside another package's kubectl.
if ! command -v kubectl >/dev/null; then
    PACKAGES+=(kubernetes-client)
fi
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
    # "ii " = installed; anything else (absent, half-installed, config-files) needs installing.
    if [[ "$status" != ii* ]]; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#PACKAGES[@]} packages present"
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing ${missing[*]}; run as root (or: sudo $0)" >&2
    exit 1
fi

# Keep package scripts from starting default Postgres/RabbitMQ instances.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
fi
cleanup() {
    if ((created_policy)); then rm -f "$policy"; fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
log=$(mktemp)
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "install-deps: failed to install ${missing[*]}" >&2
    exit 1
fi
rm -f "$log"
echo "install-deps: installed ${missing[*]}"
