#!/usr/bin/env bash
# Checks deploy/kubernetes without a cluster (nothing is applied anywhere):
#   - `kubectl kustomize` renders the base and every overlay (kubectl from Debian's
#     kubernetes-client, 1.20, or newer);
#   - the built-in kinds of each rendering validate against Kubernetes' schemas with
#     kubernetes-validate (PyPI, in the virtualenv .stack/venvs/kubernetes-validate, made on
#     first use), strictly: an unknown field fails;
#   - scripts/check-kubernetes.py checks the renderings against the code: a Deployment, Service,
#     PodDisruptionBudget, HorizontalPodAutoscaler and NetworkPolicy per service, probes on the
#     health routes, security contexts, environment variables the services read and require,
#     secrets only by reference, the topology Job, the Ingress against every openapi.yaml, and the
#     fields relied on in the RabbitmqCluster and the CloudNativePG Cluster and Pooler.
# Prints failures and one line per rendering (every check with -v); the last line is a summary.
# Fails, never skips, when kubectl or the virtualenv is missing. KUBECTL overrides the kubectl used.
set -Eeuo pipefail
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO_DIR"

VENV="$REPO_DIR/.stack/venvs/kubernetes-validate"
VALIDATE_VERSION=1.37.0
# A release kubernetes-validate ships schemas for, with autoscaling/v2 and policy/v1 GA.
KUBERNETES_VERSION=1.29.0
KUBECTL=${KUBECTL:-kubectl}

if ! command -v "$KUBECTL" >/dev/null 2>&1; then
    echo "FAIL  $KUBECTL is missing: install Debian's kubernetes-client (apt-get install kubernetes-client)" >&2
    exit 1
fi

if ! "$VENV/bin/python" -c "import sys; from importlib.metadata import version; sys.exit(version('kubernetes-validate') != '$VALIDATE_VERSION')" 2>/dev/null; then
    echo "installing kubernetes-validate $VALIDATE_VERSION into $VENV…" >&2
    mkdir -p "$(dirname "$VENV")"
    { /usr/bin/python3 -m venv "$VENV" &&
        "$VENV/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$VALIDATE_VERSION" >&2; } ||
        echo "could not make $VENV" >&2
fi
if [[ ! -x "$VENV/bin/kubernetes-validate" ]]; then
    echo "FAIL  $VENV/bin/kubernetes-validate is missing and could not be installed (pip install kubernetes-validate==$VALIDATE_VERSION)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
renderings=()
targets=(base)
for overlay in deploy/kubernetes/overlays/*/kustomization.yaml; do
    [[ -e "$overlay" ]] && targets+=("$(basename "$(dirname "$overlay")")")
done
for name in "${targets[@]}"; do
    dir=deploy/kubernetes/overlays/$name
    [[ $name == base ]] && dir=deploy/kubernetes/base
    if "$KUBECTL" kustomize "$dir" >"$tmp/$name.yaml" 2>"$tmp/$name.err"; then
        printf 'ok    %s renders (%s kustomize)\n' "$dir" "$KUBECTL"
        passed=$((passed + 1))
        renderings+=("$name=$tmp/$name.yaml")
    else
        printf 'FAIL  %s does not render:\n' "$dir" >&2
        # Newer kustomize warns about the fields kept for kubectl 1.20; only the error matters.
        grep -v '^# Warning:' "$tmp/$name.err" >&2 || true
        failed=$((failed + 1))
    fi
done

if ((${#renderings[@]} == 0)); then
    echo "check-kubernetes: $passed passed, $failed failed"
    exit 1
fi
verbose=()
[[ ${1:-} == -v ]] && verbose=(--verbose)
exec /usr/bin/python3 scripts/check-kubernetes.py "${verbose[@]}" --validator "$VENV/bin/kubernetes-validate" \
    --kubernetes-version "$KUBERNETES_VERSION" --passed "$passed" --failed "$failed" "${renderings[@]}"
