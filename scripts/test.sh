#!/usr/bin/env bash
# `make test`: fresh Postgres and RabbitMQ on ports of their own, the topology, then every test —
# unit, integration (real servers) and end-to-end (the built executables as processes). The fault
# tests get a second stack (`fault`), since they restart its servers; the restore drill runs next,
# on a stack with backups (`drill`), and the HA failure tests last, on the HA stack (scripts/ha.sh).
# Integration tests fail, never skip, when their servers are missing. write_service_env writes each
# stack's syllabus.env (which the tests read) and its services/<service>.env files (each service's
# own share, as make run starts them). `scripts/test.sh stack` only brings up the test stacks;
# `scripts/test.sh drill` runs the restore drill alone.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"

TEST_DIR="$REPO_DIR/.stack/test"
FAULT_DIR="$REPO_DIR/.stack/fault"
DRILL_DIR="$REPO_DIR/.stack/drill"

# The restore drill (RestoreDrillTests): its stack archives WAL and keeps backups, and the test
# restores its Postgres, so it runs alone.
restore_drill() {
    "$REPO_DIR/scripts/stack.sh" up drill
    write_service_env "$DRILL_DIR" 9580 4
    apply_topology "$DRILL_DIR/syllabus.env"
    (cd "$REPO_DIR" && SYLLABUS_DRILL_ENV="$DRILL_DIR/syllabus.env" SYLLABUS_BIN_DIR="$BIN_DIR" swift test --skip-build --filter RestoreDrillTests)
    "$REPO_DIR/scripts/stack.sh" down drill
}

if [ "${1:-}" = drill ]; then
    trap '"$REPO_DIR/scripts/stack.sh" down drill >/dev/null 2>&1 || true' EXIT
    build_all
    restore_drill
    exit 0
fi

# Short retry tiers on the fault stack, so retries and dead-lettering happen within a test.
FAULT_RETRY_DELAYS=200,400,800

"$REPO_DIR/scripts/stack.sh" up test
"$REPO_DIR/scripts/stack.sh" up fault
# A second Postgres server: identity runs on it in one journey while the others share the first.
"$REPO_DIR/scripts/stack.sh" up second
if [ "${1:-}" != stack ]; then
    trap '"$REPO_DIR/scripts/stack.sh" down test >/dev/null 2>&1 || true; "$REPO_DIR/scripts/stack.sh" down fault >/dev/null 2>&1 || true; "$REPO_DIR/scripts/stack.sh" down second >/dev/null 2>&1 || true; "$REPO_DIR/scripts/stack.sh" down drill >/dev/null 2>&1 || true; "$REPO_DIR/scripts/ha.sh" down >/dev/null 2>&1 || true' EXIT
fi
[ "${1:-}" = stack ] || build_previous_release
build_all
write_service_env "$TEST_DIR" 9180 4
write_service_env "$FAULT_DIR" 9380 4 "RETRY_DELAYS=$FAULT_RETRY_DELAYS"
apply_topology "$TEST_DIR/syllabus.env"
apply_topology "$FAULT_DIR/syllabus.env"
# The local OTLP and webhook receivers end-to-end tests start (their virtualenvs, from PyPI, made once).
"$REPO_DIR/scripts/otlp-receiver.sh" --install
"$REPO_DIR/scripts/webhook-receiver.sh" --install
if [ "${1:-}" = stack ]; then
    echo "test stacks ready: SYLLABUS_TEST_ENV=$TEST_DIR/syllabus.env SYLLABUS_FAULT_ENV=$FAULT_DIR/syllabus.env SYLLABUS_SECOND_ENV=$REPO_DIR/.stack/second/syllabus.env SYLLABUS_BIN_DIR=$BIN_DIR swift test --skip-build --skip HATests --skip RestoreDrillTests"
    exit 0
fi

export SYLLABUS_TEST_ENV="$TEST_DIR/syllabus.env" SYLLABUS_FAULT_ENV="$FAULT_DIR/syllabus.env" SYLLABUS_SECOND_ENV="$REPO_DIR/.stack/second/syllabus.env" SYLLABUS_BIN_DIR="$BIN_DIR"
cd "$REPO_DIR"
# Prometheus's rules parse, their unit tests pass (each alert fires on the series it is for, and
# only on those), and the configuration make run generates is valid.
promtool check rules ops/prometheus/*.rules.yml
promtool test rules ops/prometheus/tests/*.test.yml
scripts/observe.sh prometheus-config "$TEST_DIR" 8080 9091
promtool check config "$TEST_DIR/prometheus.yml"
# The documents the services serve are the ones in their openapi.yaml files.
/usr/bin/python3 scripts/openapi.py check
scripts/check-kubernetes.sh
# Each broker user, as it sees the test stack: every refusal the topology relies on.
/usr/bin/python3 scripts/check-broker-permissions.py "$TEST_DIR/syllabus.env" >"$TEST_DIR/broker-permissions.log" ||
    { cat "$TEST_DIR/broker-permissions.log"; exit 1; }
tail -n 1 "$TEST_DIR/broker-permissions.log"
swift test --skip-build --skip HATests --skip RestoreDrillTests

# The HA stack's failures, on servers of their own, once the test and fault stacks are down (two
# cores cannot carry all three). Every burst registers through the one gateway address, so
# identity's per-address sign-up limit is raised for this stack.
"$REPO_DIR/scripts/stack.sh" down test
"$REPO_DIR/scripts/stack.sh" down fault
"$REPO_DIR/scripts/stack.sh" down second
restore_drill
# Identity and notifications start from the previous release: the rolling-deploy test moves them to
# this build during a burst, and the failure tests then run on this build alone.
HA_PREVIOUS_SERVICES="identity notifications" HA_SERVICE_SETTINGS="IDENTITY_THROTTLE_ADDRESS=100000" "$REPO_DIR/scripts/ha.sh" up
SYLLABUS_HA_ENV="$REPO_DIR/.stack/ha/syllabus.env" swift test --skip-build --filter RollingDeployTests
SYLLABUS_HA_ENV="$REPO_DIR/.stack/ha/syllabus.env" swift test --skip-build --filter HAFailureTests
