#!/usr/bin/env bash
# `make bench-http`: the services' HTTP paths in release builds on the bench stack, each beside a
# baseline measured in the same run (a bare route of the same process; pgbench running the same
# statements at the same concurrency), driven by wrk. Prints a table and writes it to
# .stack/bench/http-results.md; then the whole system under load on the same services
# (scripts/bench-load.py) into .stack/bench/load-results.md, and the growth curves
# (scripts/bench-growth.py) into .stack/bench/growth-results.md. Postgres runs with fsync on, as
# in production.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"

BENCH_DIR="$REPO_DIR/.stack/bench"
PORT_BASE=9580
command -v wrk >/dev/null || { echo "bench-http needs wrk (scripts/install-deps.sh installs it)" >&2; exit 1; }
# BENCH_HTTP_ONLY=paths,observability,load,growth runs only those parts (all by default), to profile one.
ONLY=",${BENCH_HTTP_ONLY:-paths,observability,load,growth},"
part() { [[ $ONLY == *",$1,"* ]]; }

"$REPO_DIR/scripts/stack.sh" up bench
trap 'stop_services "$BENCH_DIR/pids" >/dev/null 2>&1 || true; "$REPO_DIR/scripts/stack.sh" down bench >/dev/null 2>&1 || true' EXIT
echo "building (release)…"
(cd "$REPO_DIR" && swift build -c release)
BIN_DIR=$(cd "$REPO_DIR" && swift build -c release --show-bin-path)
export BIN_DIR
# bcrypt at the production cost would make registering the bench's learners the slow part. The
# load bench's learners come as if through a gateway, each from an address of its own.
bench_env() { # [extra KEY=value lines…]
    write_service_env "$BENCH_DIR" "$PORT_BASE" 10 "CONTENT_DEMO_COURSE=true" \
        "IDENTITY_TRUSTED_PROXIES=127.0.0.1" "ANALYTICS_TRUSTED_PROXIES=127.0.0.1" "$@"
}
restart_services() { # [extra KEY=value lines…]
    stop_services "$BENCH_DIR/pids" >/dev/null
    bench_env "$@"
    start_services "$BENCH_DIR" "$BENCH_DIR/logs" "$BENCH_DIR/pids"
    wait_ready "$PORT_BASE" "$BENCH_DIR/logs" 90
}
bench_env
apply_topology "$BENCH_DIR/syllabus.env"
(set -a && . "$BENCH_DIR/syllabus.env" && "$BIN_DIR/syllabus" migrate identity >/dev/null)
ensure_admin "$BENCH_DIR/syllabus.env" "$BENCH_DIR" # authoring, for the growth curves
start_services "$BENCH_DIR" "$BENCH_DIR/logs" "$BENCH_DIR/pids"
wait_ready "$PORT_BASE" "$BENCH_DIR/logs" 90
if part paths; then
    /usr/bin/python3 "$REPO_DIR/scripts/http-bench.py" "$BENCH_DIR/syllabus.env" "$PORT_BASE" "$BENCH_DIR/pids" "$BENCH_DIR/logs/postgres.log" | tee "$BENCH_DIR/http-results.md"
    echo "written to $BENCH_DIR/http-results.md"
fi
if part observability; then
    # What metrics, access logs and tracing cost: the services restarted in each mode and the same two
    # paths measured each time. Spans go to a local receiver that discards them unread, as a collector
    # on another machine would take them off this one.
    RECEIVER_PORT=14319
    "$REPO_DIR/scripts/observe.sh" start-receiver "$BENCH_DIR" "$RECEIVER_PORT" --discard
    trap '"$REPO_DIR/scripts/observe.sh" stop "$BENCH_DIR"; stop_services "$BENCH_DIR/pids" >/dev/null 2>&1 || true; "$REPO_DIR/scripts/stack.sh" down bench >/dev/null 2>&1 || true' EXIT
    : >"$BENCH_DIR/observability.jsonl"
    for mode in off metrics tracing; do
        case $mode in
        off) restart_services METRICS=off ACCESS_LOG=off ;;
        metrics) restart_services ;;
        tracing) restart_services "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RECEIVER_PORT" ;;
        esac
        /usr/bin/python3 "$REPO_DIR/scripts/bench-observability.py" measure "$mode" "$BENCH_DIR/syllabus.env" "$PORT_BASE" >>"$BENCH_DIR/observability.jsonl"
    done
    /usr/bin/python3 "$REPO_DIR/scripts/bench-observability.py" table "$BENCH_DIR/observability.jsonl" | tee "$BENCH_DIR/observability-results.md"
    echo "written to $BENCH_DIR/observability-results.md"
    restart_services
fi
if part load; then
    # The whole system under load, on the same services (BENCH_LOAD_SECONDS, BENCH_LOAD_LEARNERS).
    /usr/bin/python3 "$REPO_DIR/scripts/bench-load.py" "$BENCH_DIR/syllabus.env" "$PORT_BASE" "$BENCH_DIR/pids" | tee "$BENCH_DIR/load-results.md"
    echo "written to $BENCH_DIR/load-results.md"
fi
if part growth; then
    # Last, as it leaves the most behind: costs as the work grows (10k learners, 1M events, …).
    /usr/bin/python3 "$REPO_DIR/scripts/bench-growth.py" "$BENCH_DIR/syllabus.env" "$PORT_BASE" | tee "$BENCH_DIR/growth-results.md"
    echo "written to $BENCH_DIR/growth-results.md"
fi
