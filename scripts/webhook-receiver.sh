#!/usr/bin/env bash
# Runs scripts/webhook-receiver.py in its virtualenv (.stack/webhooks-venv, made on first use with
# standardwebhooks from PyPI). `webhook-receiver.sh --install` only makes the virtualenv.
set -Eeuo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd -P)
VENV="$REPO_DIR/.stack/webhooks-venv"
VERSION=1.3.0

if ! "$VENV/bin/python" -c "import standardwebhooks, sys; from importlib.metadata import version; sys.exit(version('standardwebhooks') != '$VERSION')" 2>/dev/null; then
    echo "installing standardwebhooks $VERSION into $VENV…" >&2
    mkdir -p "$REPO_DIR/.stack"
    /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "standardwebhooks==$VERSION" >&2
fi
[ "${1:-}" = --install ] && exit 0
exec "$VENV/bin/python" "$REPO_DIR/scripts/webhook-receiver.py" "$@"
