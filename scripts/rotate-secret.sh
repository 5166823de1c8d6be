#!/usr/bin/env bash
# Rotates a secret of a local stack's services, keeping the previous value honoured until it is
# pruned. The services read the keys when they start: restart them afterwards (`make stop`,
# `make run`, which writes each service's environment from .stack/keys again).
#
#   scripts/rotate-secret.sh unsubscribe [--prune] [stack dir]
#       notifications' unsubscribe secret: new links are signed with a new secret; links already
#       in learners' mailboxes, signed with the previous one, keep working until --prune.
#   scripts/rotate-secret.sh integrations-key [--prune] [stack dir]
#       content's token-vault key (Notion and Google tokens at rest): the new key seals; content
#       seals every stored token again under it at start (a hundred rows at a time, logged).
#       --prune once it logged that none is left under the previous key: tokens still under it
#       would then ask their learners to connect again.
#
# The stack directory is .stack (make run's) unless given. Identity's signing key rotates with
# `syllabus keys rotate --dir .stack/keys` (docs/operating.md). Webhook endpoints' signing secrets
# rotate through the API (POST /v1/webhooks/endpoints/{id}/secret/rotate), each endpoint on its
# own schedule; Stripe's and Mux's webhook secrets are rolled in their dashboards.
set -Eeuo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd -P)

usage() {
    echo "usage: $0 unsubscribe|integrations-key [--prune] [stack dir]" >&2
    exit 2
}

what=${1:-}
shift || usage
prune=0
if [[ ${1:-} == --prune ]]; then
    prune=1
    shift
fi
stack_dir=${1:-$REPO_DIR/.stack}
keys="$stack_dir/keys"
[[ -d $keys ]] || { echo "no keys in $keys: start the stack first (make run)" >&2; exit 1; }

# Moves the current value of <file> to the top of <file>.previous (kept: the three latest) and
# writes a new one from `generate`.
rotate_file() { # file generate...
    local file=$1
    shift
    (
        umask 077
        { cat "$file"; [[ ! -f "$file.previous" ]] || cat "$file.previous"; } | head -n 3 >"$file.previous.tmp"
        "$@" >"$file.tmp"
    )
    mv "$file.previous.tmp" "$file.previous"
    mv "$file.tmp" "$file"
}

# rotate <file> <what> <honoured by> generate...: a new value, or with --prune the previous ones dropped.
rotate() {
    local file=$1 what=$2 honoured=$3
    shift 3
    if ((prune)); then
        rm -f "$file.previous"
        echo "previous $what dropped"
    else
        rotate_file "$file" "$@"
        echo "$what rotated; $honoured"
    fi
}

case "$what" in
unsubscribe)
    rotate "$keys/unsubscribe-secret" "unsubscribe secret" "links signed with the previous one keep working until --prune" \
        openssl rand -hex 32
    ;;
integrations-key)
    rotate "$keys/integrations-key" "token-vault key" "content seals stored tokens again under the new one when it starts" \
        openssl rand -base64 32
    ;;
*) usage ;;
esac
echo "restart the services to use it (make stop && make run)"
