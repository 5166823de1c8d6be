#!/usr/bin/env bash
# `make test`: fresh Postgres and RabbitMQ on ports of their own, the topology, then every test —
# unit, integration (real servers) and end-to-end (the built executables as processes).
# Integration tests fail, never skip, when their servers are missing.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"

STACK_DIR="$REPO_DIR/.stack/test"
ENV_FILE="$STACK_DIR/syllabus.env"

"$REPO_DIR/scripts/stack.sh" up test
if [ "${1:-}" != stack ]; then
    trap '"$REPO_DIR/scripts/stack.sh" down test >/dev/null 2>&1 || true' EXIT
fi
build_all
write_service_env "$STACK_DIR" 9180 4
apply_topology "$ENV_FILE"
if [ "${1:-}" = stack ]; then
    echo "test stack ready: SYLLABUS_TEST_ENV=$ENV_FILE SYLLABUS_BIN_DIR=$BIN_DIR swift test --skip-build"
    exit 0
fi

export SYLLABUS_TEST_ENV="$ENV_FILE" SYLLABUS_BIN_DIR="$BIN_DIR"
cd "$REPO_DIR"
swift test --skip-build
