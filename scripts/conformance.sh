#!/usr/bin/env bash
# API conformance: schemathesis (from PyPI, in a virtualenv under .stack/) against running services,
# each with the document it serves at /openapi.yaml. Responses must conform to the document and no
# generated input may cause a 5xx. Bounded examples per operation keep it short.
#
#   scripts/conformance.sh http://127.0.0.1:8081 [http://127.0.0.1:8082 …]
set -Eeuo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd -P)
VENV="$REPO_DIR/.stack/venv"
SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${CONFORMANCE_EXAMPLES:-25}

if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV…"
    /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# With CONFORMANCE_TOKEN (an access token), authenticated operations are exercised too.
auth=()
[ -n "${CONFORMANCE_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $CONFORMANCE_TOKEN")

status=0
for base in "$@"; do
    echo "== $base"
    if ! "$VENV/bin/st" run "$base/openapi.yaml" --url "$base" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
        --max-examples "$EXAMPLES" --request-timeout 10 --seed 20261122 "${auth[@]}"; then
        status=1
    fi
done
exit $status
