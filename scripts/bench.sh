#!/usr/bin/env bash
# `make bench`: the bus's speed, then the HTTP paths (scripts/bench-http.sh), as ratios against
# baselines measured in the same run, on servers of its own (the `bench` stack). Prints the tables
# and writes them to .stack/bench/*.md.
# Tests never time anything; this does. BENCH_CONFIG=debug skips the (slower) release build;
# Postgres runs with fsync on, as in production (SYLLABUS_BENCH_FSYNC=off for the other figure).
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"

BENCH_DIR="$REPO_DIR/.stack/bench"
CONFIG=${BENCH_CONFIG:-release}

"$REPO_DIR/scripts/stack.sh" up bench
trap '"$REPO_DIR/scripts/stack.sh" down bench >/dev/null 2>&1 || true' EXIT
echo "building ($CONFIG)…"
(cd "$REPO_DIR" && swift build -c "$CONFIG" --product syllabus-bench && swift build -c "$CONFIG" --product syllabus)
BIN_DIR=$(cd "$REPO_DIR" && swift build -c "$CONFIG" --show-bin-path)
(set -a && . "$BENCH_DIR/syllabus.env" && "$BIN_DIR/syllabus" topology apply >/dev/null)
# The relay and the consumer are measured with metrics and tracing off, with metrics on, and with
# tracing on as well: spans go to a local receiver that discards them unread.
RECEIVER_PORT=14319
"$REPO_DIR/scripts/observe.sh" start-receiver "$BENCH_DIR" "$RECEIVER_PORT" --discard
trap '"$REPO_DIR/scripts/observe.sh" stop "$BENCH_DIR"; "$REPO_DIR/scripts/stack.sh" down bench >/dev/null 2>&1 || true' EXIT
(set -a && . "$BENCH_DIR/syllabus.env" && OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RECEIVER_PORT" \
    BENCH_OUTPUT="$BENCH_DIR/results.md" "$BIN_DIR/syllabus-bench")
"$REPO_DIR/scripts/observe.sh" stop "$BENCH_DIR"
# Then the HTTP paths, the growth curves and the whole system under load, on the same stack
# (BENCH_HTTP=0 leaves them out).
if [ "${BENCH_HTTP:-1}" != 0 ]; then
    "$REPO_DIR/scripts/stack.sh" down bench >/dev/null # bench-http.sh starts it afresh
    "$REPO_DIR/scripts/bench-http.sh"
fi
