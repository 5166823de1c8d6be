#!/usr/bin/env bash
# `make run`: install what is missing, start Postgres and RabbitMQ, build, declare the topology,
# migrate identity's schema and create the first admin (before identity accepts a single
# registration), then start the seven services, each with only its own .stack/services/<s>.env,
# and wait until each is ready. Stays in the foreground; Ctrl-C (or `make stop`) stops everything
# it started. With SYLLABUS_DETACH=1 it returns once all is ready and leaves it running. Beside
# them: Prometheus on 127.0.0.1:9091 scraping every service with the rules of ops/prometheus/, and
# (unless OTEL_EXPORTER_OTLP_ENDPOINT names a tracing backend) an OTLP receiver on 4318 keeping
# spans in .stack/traces/.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"

STACK_DIR="$REPO_DIR/.stack"
LOGS="$STACK_DIR/logs"
PIDS="$STACK_DIR/pids"
ENV_FILE="$STACK_DIR/syllabus.env"
PORT_BASE=8080
PROMETHEUS_PORT=9091
RECEIVER_PORT=4318

stop_all() {
    stop_services "$PIDS"
    "$REPO_DIR/scripts/observe.sh" stop "$STACK_DIR"
    "$REPO_DIR/scripts/stack.sh" down run
}

if [ "${1:-}" = stop ]; then
    stop_all
    exit 0
fi

"$REPO_DIR/scripts/stack.sh" up run
build_all
# Spans go to the tracing backend the caller names (OTEL_EXPORTER_OTLP_ENDPOINT), else to a
# receiver of the stack's own that keeps them in .stack/traces/spans.jsonl for `syllabus trace`.
if [ -n "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ]; then
    tracing=("OTEL_EXPORTER_OTLP_ENDPOINT=$OTEL_EXPORTER_OTLP_ENDPOINT")
    traces_at="$OTEL_EXPORTER_OTLP_ENDPOINT"
else
    "$REPO_DIR/scripts/observe.sh" start-receiver "$STACK_DIR" "$RECEIVER_PORT"
    tracing=("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RECEIVER_PORT" "SYLLABUS_TRACES_FILE=$STACK_DIR/traces/spans.jsonl")
    traces_at=".stack/traces/spans.jsonl (syllabus trace --last)"
fi
write_service_env "$STACK_DIR" "$PORT_BASE" 12 "CONTENT_DEMO_COURSE=true" "LOG_FORMAT=json" "OTEL_BSP_SCHEDULE_DELAY=1000" "${tracing[@]}"
stop_services "$PIDS" # a previous run's services, if any are left (before the topology changes under them)
apply_topology "$ENV_FILE"
# The first admin exists before identity serves: nobody can register first and race for it.
(set -a && . "$ENV_FILE" && "$BIN_DIR/syllabus" migrate identity >/dev/null)
ensure_admin "$ENV_FILE" "$STACK_DIR"
start_services "$STACK_DIR" "$LOGS" "$PIDS"
trap 'echo; echo "stopping…"; stop_all; exit 0' INT TERM
if ! wait_ready "$PORT_BASE" "$LOGS" 90; then
    stop_all
    exit 1
fi
"$REPO_DIR/scripts/observe.sh" start-prometheus "$STACK_DIR" "$PORT_BASE" "$PROMETHEUS_PORT"
echo "Prometheus targets:"
if ! "$REPO_DIR/scripts/observe.sh" wait-targets "$PROMETHEUS_PORT" 30; then
    stop_all
    exit 1
fi

cat <<MSG

Syllabus is running.
  identity       http://127.0.0.1:8081   (POST /v1/auth/register, /.well-known/jwks.json)
  billing        http://127.0.0.1:8082
  content        http://127.0.0.1:8083   (GET /v1/course: a demo course is seeded when empty)
  progress       http://127.0.0.1:8084   (GET /v1/progress)
  notifications  http://127.0.0.1:8085
  analytics      http://127.0.0.1:8086   (admin reports: /v1/analytics/admin/…)
  webhooks       http://127.0.0.1:8087   (admin endpoints: /v1/webhooks/endpoints; receiver: scripts/webhook-receiver.sh)
  every service: /health/ready, /metrics, /openapi.yaml
  Postgres       127.0.0.1:5442, TLS only (database syllabus; URLs in .stack/syllabus.env, each
                 service's own share in .stack/services/<service>.env; CA .stack/tls/ca.pem);
                 WAL archived and backed up by pgBackRest (make backup, make backups)
  RabbitMQ       amqps://localhost:5682/syllabus, management http://127.0.0.1:15682
  mail           .stack/mail/*.eml
  logs           .stack/logs/ (JSON lines, with trace_id and span_id)
  Prometheus     http://127.0.0.1:$PROMETHEUS_PORT (rules and alerts: ops/prometheus/; Grafana dashboard: ops/grafana/)
  traces         $traces_at
  admin          $SYLLABUS_ADMIN_EMAIL / $SYLLABUS_ADMIN_PASSWORD  (SYLLABUS_ADMIN_EMAIL/_PASSWORD to choose)

Try:
  curl -s -X POST http://127.0.0.1:8081/v1/auth/register -H 'content-type: application/json' \\
       -d '{"email":"ada@example.com","password":"correct horse","name":"Ada"}'
  ls .stack/mail
MSG

if [ "${SYLLABUS_DETACH:-0}" = 1 ]; then
    trap - INT TERM
    echo "Left running; \`make stop\` stops it."
    exit 0
fi
echo "Ctrl-C stops everything."
while true; do
    for s in "${SERVICES[@]}"; do
        if ! kill -0 "$(cat "$PIDS/$s.pid" 2>/dev/null || echo 0)" 2>/dev/null; then
            echo "$s exited; see $LOGS/$s.log" >&2
            stop_all
            exit 1
        fi
    done
    sleep 1 &
    wait $! || true
done
