#!/usr/bin/env bash
# `make bench-http`: the services' HTTP paths in release builds on the bench stack, each beside a
# baseline measured in the same run (a bare route of the same process; pgbench running the same
# statements at the same concurrency), driven by wrk. Prints a table and writes it to
# .stack/bench/http-results.md. Postgres runs with fsync on, as in production.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"

BENCH_DIR="$REPO_DIR/.stack/bench"
PORT_BASE=9580
command -v wrk >/dev/null || { echo "bench-http needs wrk (scripts/install-deps.sh installs it)" >&2; exit 1; }

"$REPO_DIR/scripts/stack.sh" up bench
trap 'stop_services "$BENCH_DIR/pids" >/dev/null 2>&1 || true; "$REPO_DIR/scripts/stack.sh" down bench >/dev/null 2>&1 || true' EXIT
echo "building (release)…"
(cd "$REPO_DIR" && swift build -c release)
BIN_DIR=$(cd "$REPO_DIR" && swift build -c release --show-bin-path)
export BIN_DIR
# bcrypt at the production cost would make registering the bench's learners the slow part.
write_service_env "$BENCH_DIR" "$PORT_BASE" 10 "CONTENT_DEMO_COURSE=true"
apply_topology "$BENCH_DIR/syllabus.env"
(set -a && . "$BENCH_DIR/syllabus.env" && "$BIN_DIR/syllabus" migrate identity >/dev/null)
start_services "$BENCH_DIR" "$BENCH_DIR/logs" "$BENCH_DIR/pids"
wait_ready "$PORT_BASE" "$BENCH_DIR/logs" 90
sleep 2 # the demo course is seeded and announced
/usr/bin/python3 "$REPO_DIR/scripts/http-bench.py" "$BENCH_DIR/syllabus.env" "$PORT_BASE" "$BENCH_DIR/pids" | tee "$BENCH_DIR/http-results.md"
echo "written to $BENCH_DIR/http-results.md"
