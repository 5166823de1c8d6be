#!/usr/bin/env bash
# Prometheus and the local OTLP trace receiver beside a stack's services.
#
#   observe.sh prometheus-config <stack_dir> <port_base> <listen_port>   write <stack_dir>/prometheus.yml
#   observe.sh start-prometheus <stack_dir> <port_base> <listen_port>    start it (data in <stack_dir>/prometheus)
#   observe.sh wait-targets <listen_port> <timeout_seconds>              until every service's target is up
#   observe.sh start-receiver <stack_dir> <port> [--discard]             spans to <stack_dir>/traces/spans.jsonl
#   observe.sh stop <stack_dir>                                          stop both
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"

prometheus_config() { # stack_dir port_base listen_port
    local stack_dir=$1 base=$2 s
    mkdir -p "$stack_dir"
    {
        echo "# Written by scripts/observe.sh; edits here are overwritten."
        echo "global:"
        echo "  scrape_interval: 5s"
        echo "  evaluation_interval: 15s"
        echo "rule_files:"
        echo "  - $REPO_DIR/ops/prometheus/recording.rules.yml"
        echo "  - $REPO_DIR/ops/prometheus/alerts.rules.yml"
        echo "scrape_configs:"
        echo "  - job_name: syllabus"
        echo "    static_configs:"
        for s in "${SERVICES[@]}"; do
            echo "      - targets: ['127.0.0.1:$(service_port "$s" "$base")']"
            echo "        labels: {service: $s}"
        done
    } >"$stack_dir/prometheus.yml"
    echo "$stack_dir/prometheus.yml"
}

stop_pid() { # pid_file
    [ -f "$1" ] || return 0
    local pid
    pid=$(cat "$1")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$1"
}

case ${1:-} in
prometheus-config)
    prometheus_config "$2" "$3" "$4" >/dev/null
    ;;
start-prometheus)
    stack_dir=$2 base=$3 port=$4
    command -v prometheus >/dev/null || { echo "prometheus is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
    config=$(prometheus_config "$stack_dir" "$base" "$port")
    mkdir -p "$stack_dir/pids" "$stack_dir/logs" "$stack_dir/prometheus"
    stop_pid "$stack_dir/pids/prometheus.pid"
    promtool check config "$config" >/dev/null
    nohup prometheus --config.file="$config" --storage.tsdb.path="$stack_dir/prometheus" \
        --storage.tsdb.retention.time=7d --web.listen-address="127.0.0.1:$port" \
        >>"$stack_dir/logs/prometheus.log" 2>&1 </dev/null &
    echo $! >"$stack_dir/pids/prometheus.pid"
    ;;
wait-targets)
    port=$2 timeout=$3
    deadline=$((SECONDS + timeout))
    while true; do
        status=$(curl -fs "http://127.0.0.1:$port/api/v1/targets?state=active" 2>/dev/null | /usr/bin/python3 -c '
import json, sys
targets = [t for t in json.load(sys.stdin)["data"]["activeTargets"] if t["labels"].get("job") == "syllabus"]
for t in sorted(targets, key=lambda t: t["labels"]["instance"]):
    print(t["labels"]["service"], t["scrapeUrl"], t["health"], t.get("lastError", ""))
' 2>/dev/null || true)
        if [ -n "$status" ] && [ "$(echo "$status" | grep -c ' up')" -eq "${#SERVICES[@]}" ]; then
            echo "$status" | awk '{print "  " $1 " " $2 " " $3}'
            exit 0
        fi
        if ((SECONDS >= deadline)); then
            echo "Prometheus (127.0.0.1:$port) does not report every service up after ${timeout}s:" >&2
            echo "${status:-  no answer}" >&2
            exit 1
        fi
        sleep 1
    done
    ;;
start-receiver)
    stack_dir=$2 port=$3 keep=(--out "$stack_dir/traces/spans.jsonl")
    # --discard: spans are taken and dropped unread (for benchmarks).
    [ "${4:-}" = --discard ] && keep=(--discard)
    mkdir -p "$stack_dir/pids" "$stack_dir/logs" "$stack_dir/traces"
    stop_pid "$stack_dir/pids/otlp-receiver.pid"
    "$REPO_DIR/scripts/otlp-receiver.sh" --install
    rm -f "$stack_dir/traces/receiver.ready"
    nohup "$REPO_DIR/scripts/otlp-receiver.sh" --port "$port" "${keep[@]}" \
        --ready-file "$stack_dir/traces/receiver.ready" >>"$stack_dir/logs/otlp-receiver.log" 2>&1 </dev/null &
    echo $! >"$stack_dir/pids/otlp-receiver.pid"
    for _ in $(seq 100); do [ -f "$stack_dir/traces/receiver.ready" ] && exit 0; sleep 0.1; done
    echo "the OTLP receiver did not start; see $stack_dir/logs/otlp-receiver.log" >&2
    exit 1
    ;;
stop)
    stop_pid "$2/pids/prometheus.pid"
    stop_pid "$2/pids/otlp-receiver.pid"
    ;;
*)
    sed -n '2,9p' "$0" >&2
    exit 2
    ;;
esac
