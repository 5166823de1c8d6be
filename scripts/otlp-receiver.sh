#!/usr/bin/env bash
# Runs scripts/otlp-receiver.py in its virtualenv (.stack/otel-venv, made on first use with
# opentelemetry-proto from PyPI). `otlp-receiver.sh --install` only makes the virtualenv.
set -Eeuo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd -P)
VENV="$REPO_DIR/.stack/otel-venv"
PROTO_VERSION=1.29.0

if ! "$VENV/bin/python" -c "import opentelemetry.proto, sys; from importlib.metadata import version; sys.exit(version('opentelemetry-proto') != '$PROTO_VERSION')" 2>/dev/null; then
    echo "installing opentelemetry-proto $PROTO_VERSION into $VENV…" >&2
    mkdir -p "$REPO_DIR/.stack"
    /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "opentelemetry-proto==$PROTO_VERSION" >&2
fi
[ "${1:-}" = --install ] && exit 0
exec "$VENV/bin/python" "$REPO_DIR/scripts/otlp-receiver.py" "$@"
