#!/usr/bin/env bash
# The highly available stack on one machine, from Debian's packages: a three-node RabbitMQ
# cluster, Postgres under Patroni (a primary and a synchronous replica, etcd as the store),
# two replicas of each service, and nginx in front of them on one port. Everything is under
# .stack/ha and starts from empty data on every `up`.
#
#   scripts/ha.sh up                  start it all (installs what is missing, builds the services)
#   scripts/ha.sh down                stop it all
#   scripts/ha.sh status              what runs where
#   scripts/ha.sh kill-broker N       kill -9 RabbitMQ node N (1–3)
#   scripts/ha.sh stop-broker N       stop node N politely, keeping its data
#   scripts/ha.sh start-broker N      start node N again on its data; it rejoins the cluster
#   scripts/ha.sh kill-postgres N     kill -9 Patroni node N and its Postgres (the whole node dies)
#   scripts/ha.sh start-postgres N    start Patroni node N again; it rejoins as a replica
#   scripts/ha.sh switchover          hand the primary to the replica (Patroni's REST API)
#   scripts/ha.sh primary             the name of the Patroni node that is primary now (pg1, pg2)
#   scripts/ha.sh kill-service S R    kill -9 replica R (1, 2) of service S
#   scripts/ha.sh start-service S R   start replica R of service S again
#   scripts/ha.sh roll-service S R    stop replica R of service S gracefully and start it from this
#                                     build (a rolling deploy, one replica)
#
# HA_PREVIOUS_SERVICES="identity notifications" with PREVIOUS_BIN_DIR (scripts/lib.sh's
# build_previous_release) starts those services from the previous release's executables, which
# migrate their schemas: the rolling-deploy test then rolls them to this build.
#
# Ports (loopback only):
#   gateway (nginx)        8800
#   services, replica 1    9601–9607, replica 2 9611–9617 (identity … webhooks, as in make run)
#   RabbitMQ nodes 1–3     AMQP 5722–5724, distribution 25722–25724, management 15722–15724
#   Postgres (Patroni)     pg1 5732, pg2 5733; Patroni's REST API 18732, 18733
#   etcd                   client 2479, peer 2480
set -Eeuo pipefail
HA_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=stack.sh
. "$HA_SCRIPT_DIR/stack.sh"
# shellcheck source=lib.sh
. "$HA_SCRIPT_DIR/lib.sh"

HA_DIR="$ROOT_STACK_DIR/ha"
HA_LOGS="$HA_DIR/logs"
HA_PIDS="$HA_DIR/pids"
GATEWAY_PORT=8800
REPLICA_BASES=(9600 9610)
BROKER_NODES=(1 2 3)
PG_NODES=(1 2)
ETCD_CLIENT_PORT=2479
ETCD_PEER_PORT=2480
PATRONI_SCOPE=syllabus-ha

# The settings stack.sh's functions read, for the whole HA profile.
set_ha_profile() {
    PROFILE=ha
    STACK_DIR="$HA_DIR"
    THROWAWAY=1 DURABLE=1 POSTGRES_ONLY=0
    # Plain connections, stated as such in every URL (sslmode=disable, amqp://): the HA stack
    # tests failures, and the local profiles test TLS.
    TLS=0
    BACKUPS=0 # Patroni's nodes archive no WAL here: backups are the local profiles' (see docs/operating.md)
    LOG_DIR="$HA_LOGS"
    MAIL_DIR="$HA_DIR/mail"
    SECRETS_FILE="$HA_DIR/secrets.env"
    ENV_FILE="$HA_DIR/syllabus.env"
    LOCK_FILE="$ROOT_STACK_DIR/.ha.lock"
    RMQ_DEFINITIONS="$HA_DIR/definitions.json"
    # Two cores carry three brokers, two Postgres and fourteen services: one scheduler per node,
    # and no busy-waiting schedulers burning the CPU the others need.
    RMQ_EXTRA_ERL_ARGS="+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none"
}

# RabbitMQ node N: its name, ports and files. Each node serves the management API, so that it
# stays reachable whichever node is down.
set_broker_node() {
    local n=$1
    NODE_NAME="syllabus-ha$n@localhost"
    AMQP_PORT=$((5721 + n))
    DIST_PORT=$((25721 + n))
    MGMT_PORT=$((15721 + n))
    CTL_DIST_PORT_MIN=$((35712 + 10 * n))
    RMQ_DIR="$HA_DIR/rabbitmq$n"
    RMQ_HOME="$RMQ_DIR/home"
    RMQ_LOG_DIR="$HA_LOGS/rabbitmq$n"
    RMQ_PID_FILE="$RMQ_DIR/$NODE_NAME.pid"
}

# Patroni node N (pg1, pg2).
set_pg_node() {
    local n=$1
    PG_NODE="pg$n"
    PG_PORT=$((5731 + n))
    PATRONI_PORT=$((18731 + n))
    PG_DIR="$HA_DIR/$PG_NODE"
    PG_DATA="$PG_DIR/data"
    PG_SOCKET_DIR="$HA_DIR/$PG_NODE-socket"
    PATRONI_CONFIG="$PG_DIR/patroni.yml"
    PATRONI_LOG="$HA_LOGS/patroni-$PG_NODE.log"
}

pg_hosts() {
    local n hosts=()
    for n in "${PG_NODES[@]}"; do hosts+=("127.0.0.1:$((5731 + n))"); done
    (IFS=, && echo "${hosts[*]}")
}

# Every URL names both Postgres nodes; libpq tries them in turn and keeps the one that takes writes.
pg_url() { echo "postgresql://$1:$2@$(pg_hosts)/syllabus?target_session_attrs=read-write&sslmode=disable"; }
# One URL per broker node; the clients connect to the first that answers.
amqp_url() {
    local n urls=()
    for n in "${BROKER_NODES[@]}"; do urls+=("amqp://$1:$2@127.0.0.1:$((5721 + n))/syllabus"); done
    (IFS=, && echo "${urls[*]}")
}

# ---------------------------------------------------------------------------------------------
# etcd

etcd_pid() { pgrep -f -- "--data-dir $HA_DIR/etcd" || true; }

etcd_start() {
    require_free_ports etcd "$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT"
    mkdir -p "$HA_DIR/etcd"
    chmod 700 "$HA_DIR/etcd"
    # Started as a simple command, so no waiting subshell is left holding the lock descriptors.
    nohup etcd --name ha --data-dir "$HA_DIR/etcd" \
        --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster "ha=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
        >"$HA_LOGS/etcd.log" 2>&1 8>&- 9>&- &
    local i
    for i in $(seq 100); do
        curl -fs "http://127.0.0.1:$ETCD_CLIENT_PORT/health" 2>/dev/null | grep -q '"health":"true"' && return 0
        sleep 0.1
    done
    tail -n 20 "$HA_LOGS/etcd.log" >&2
    die "etcd did not become healthy"
}

# ---------------------------------------------------------------------------------------------
# Postgres under Patroni

patroni_write_config() {
    set_pg_node "$1"
    mkdir -p "$PG_DIR" "$PG_SOCKET_DIR"
    cat >"$PATRONI_CONFIG" <<EOF
# Written by scripts/ha.sh on every up; edits here are overwritten.
scope: $PATRONI_SCOPE
name: $PG_NODE
log:
  level: INFO
restapi:
  listen: 127.0.0.1:$PATRONI_PORT
  connect_address: 127.0.0.1:$PATRONI_PORT
etcd3:
  hosts: 127.0.0.1:$ETCD_CLIENT_PORT
bootstrap:
  dcs:
    # A dead primary's leader key expires after ttl seconds; then the replica takes over.
    # (Patroni's minimums: ttl 20, loop_wait 1; loop_wait + 2 × retry_timeout ≤ ttl.)
    ttl: 20
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    # A commit is acknowledged only once the synchronous replica has it: a primary that dies
    # loses nothing a client was told is done.
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: 300
        password_encryption: scram-sha-256
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - auth-local: trust
    - auth-host: scram-sha-256
postgresql:
  listen: 127.0.0.1:$PG_PORT
  connect_address: 127.0.0.1:$PG_PORT
  data_dir: $PG_DATA
  bin_dir: $PG_BIN
  pgpass: $PG_DIR/pgpass
  authentication:
    superuser:
      username: postgres
      password: $HA_PG_SUPERUSER_PASSWORD
    replication:
      username: replicator
      password: $HA_PG_REPLICATION_PASSWORD
    rewind:
      username: rewinder
      password: $HA_PG_REWIND_PASSWORD
  parameters:
    unix_socket_directories: '$PG_SOCKET_DIR'
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
EOF
    chown -R "$PG_OS_USER:$PG_OS_USER" "$PG_DIR" "$PG_SOCKET_DIR"
    chmod 700 "$PG_DIR" "$PG_SOCKET_DIR"
    chmod 600 "$PATRONI_CONFIG"
}

# Patroni's own process (not the runuser that started it).
patroni_pid() { pgrep -f -- "^/usr/bin/python3 /usr/bin/patroni $HA_DIR/pg$1/patroni.yml" | head -n1 || true; }

patroni_start() {
    set_pg_node "$1"
    touch "$PATRONI_LOG"
    chown "$PG_OS_USER:$PG_OS_USER" "$PATRONI_LOG"
    (cd / && exec runuser -u "$PG_OS_USER" -- nohup /usr/bin/python3 /usr/bin/patroni "$PATRONI_CONFIG" \
        >>"$PATRONI_LOG" 2>&1 8>&- 9>&-) &
}

# The role of node N as Patroni reports it (primary, replica, …), or nothing.
patroni_role() {
    curl -fs "http://127.0.0.1:$((18731 + $1))/patroni" 2>/dev/null |
        /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("role",""), d.get("state",""))' 2>/dev/null || true
}

cmd_primary() {
    local n
    for n in "${PG_NODES[@]}"; do
        # /primary answers 200 on the node that holds the leader key and runs as primary.
        if [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((18731 + n))/primary")" == 200 ]]; then
            echo "pg$n"
            return 0
        fi
    done
    return 1
}

# Waits until one node is primary and the other streams from it as the synchronous standby.
wait_pg_cluster() { # timeout_seconds
    local deadline=$((SECONDS + $1)) n sync
    while ((SECONDS < deadline)); do
        sync=0
        for n in "${PG_NODES[@]}"; do
            [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((18731 + n))/sync")" == 200 ]] && sync=1
        done
        if cmd_primary >/dev/null && ((sync)); then return 0; fi
        sleep 0.5
    done
    for n in "${PG_NODES[@]}"; do tail -n 15 "$HA_LOGS/patroni-pg$n.log" >&2 || true; done
    die "Patroni did not settle on a primary and a synchronous replica within $1 s"
}

cmd_switchover() {
    local from to n t
    t=$(now_us)
    from=$(cmd_primary) || die "no primary to switch over from"
    for n in "${PG_NODES[@]}"; do [[ "pg$n" != "$from" ]] && to="pg$n"; done
    local code
    code=$(curl -s -o "$HA_LOGS/switchover.out" -w '%{http_code}' -X POST \
        "http://127.0.0.1:$((18731 + ${from#pg}))/switchover" -d "{\"leader\":\"$from\",\"candidate\":\"$to\"}")
    [[ "$code" == 200 ]] || { cat "$HA_LOGS/switchover.out" >&2; die "switchover refused ($code)"; }
    wait_pg_cluster 60
    log "switchover $from → $to ($(elapsed_since "$t") s); primary now $(cmd_primary)"
}

cmd_kill_postgres() {
    local n=$1 pid postmaster
    set_pg_node "$n"
    pid=$(patroni_pid "$n")
    postmaster=$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)
    [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
    [[ "$postmaster" =~ ^[0-9]+$ ]] && kill -KILL "$postmaster" 2>/dev/null || true
    # The postmaster's children end once it is gone; wait for the port to be free.
    local i
    for i in $(seq 100); do
        [[ -z "$(ss -Hltn "sport = :$PG_PORT" 2>/dev/null)" ]] && break
        sleep 0.1
    done
    log "killed pg$n (patroni ${pid:-none}, postmaster ${postmaster:-none})"
}

cmd_start_postgres() {
    local t
    t=$(now_us)
    set_pg_node "$1"
    [[ -n "$(patroni_pid "$1")" ]] && { log "pg$1 runs already"; return; }
    patroni_start "$1"
    wait_pg_cluster 120
    log "pg$1 back ($(elapsed_since "$t") s): primary $(cmd_primary)"
}

# ---------------------------------------------------------------------------------------------
# RabbitMQ cluster

broker_write_config() {
    set_broker_node "$1"
    rmq_write_config
    cp "$HA_DIR/erlang.cookie" "$RMQ_HOME/.erlang.cookie"
    chmod 400 "$RMQ_HOME/.erlang.cookie"
    local conf="$RMQ_DIR/rabbitmq.conf"
    {
        echo "cluster_name = syllabus-ha"
        echo "cluster_formation.peer_discovery_backend = classic_config"
        local m
        for m in "${BROKER_NODES[@]}"; do echo "cluster_formation.classic_config.nodes.$m = syllabus-ha$m@localhost"; done
    } >>"$conf"
}

broker_start() { # n
    set_broker_node "$1"
    rmq_start_async
    rmq_wait_ready
    rmq_wait_amqp
}

# Running nodes as node 1 (or the first live node) sees them.
running_broker_nodes() {
    local n
    for n in "${BROKER_NODES[@]}"; do
        set_broker_node "$n"
        rmq_running || continue
        rmq rabbitmqctl cluster_status --formatter json 2>/dev/null |
            /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))' 2>/dev/null && return 0
    done
    echo 0
}

wait_broker_cluster() { # expected_nodes timeout_seconds
    local deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        [[ "$(running_broker_nodes)" == "$1" ]] && return 0
        sleep 0.5
    done
    die "the RabbitMQ cluster does not have $1 running nodes after $2 s"
}

cmd_kill_broker() {
    set_broker_node "$1"
    local pid
    pid=$(rmq_pid)
    rmq_kill
    log "killed rabbitmq node $1 (pid ${pid:-none})"
}

# A rolling deploy of one replica: it stops gracefully (not ready, drained, finished) and starts
# again from this build's executables.
cmd_roll_service() {
    BIN_DIR=$(cd "$REPO_DIR" && swift build --show-bin-path)
    stop_pids "$HA_PIDS/$1-$2.pid"
    start_replica "$1" "$2"
    wait_replica_ready "$1" "$2" 60
    log "$1 replica $2 rolled to $BIN_DIR/$1, ready on port $(replica_port "$1" "$2")"
}

cmd_stop_broker() {
    local t
    t=$(now_us)
    set_broker_node "$1"
    rmq_stop
    log "stopped rabbitmq node $1 ($(elapsed_since "$t") s)"
}

cmd_start_broker() {
    local t
    t=$(now_us)
    set_broker_node "$1"
    if rmq_running; then
        log "rabbitmq node $1 runs already"
        return
    fi
    broker_start "$1"
    wait_broker_cluster "${#BROKER_NODES[@]}" 60
    log "rabbitmq node $1 back in the cluster ($(elapsed_since "$t") s)"
}

# ---------------------------------------------------------------------------------------------
# Services and gateway

replica_port() { service_port "$1" "${REPLICA_BASES[$(($2 - 1))]}"; }

# services/<s>.env is replica 1's; replica 2's differs in its port only.
write_replica_env() {
    local s S
    for s in "${SERVICES[@]}"; do
        S=${s^^}
        sed "s/^${S}_HTTP_PORT=.*/${S}_HTTP_PORT=$(replica_port "$s" 2)/" "$HA_DIR/services/$s.env" >"$HA_DIR/services/$s-2.env"
        chmod 600 "$HA_DIR/services/$s-2.env"
    done
}

start_replica() { # service replica
    local file="$HA_DIR/services/$1.env"
    [[ $2 == 1 ]] || file="$HA_DIR/services/$1-$2.env"
    start_service "$1" "$file" "$HA_LOGS/$1-$2.log" "$HA_PIDS/$1-$2.pid"
}

wait_replica_ready() { # service replica timeout
    local port deadline=$((SECONDS + $3))
    port=$(replica_port "$1" "$2")
    until curl -fs -o /dev/null "http://127.0.0.1:$port/health/ready"; do
        if ((SECONDS >= deadline)); then
            tail -n 20 "$HA_LOGS/$1-$2.log" >&2 || true
            die "$1 (replica $2, port $port) is not ready after $3 s"
        fi
        sleep 0.2
    done
}

replica_running() { # service replica
    local pid
    pid=$(cat "$HA_PIDS/$1-$2.pid" 2>/dev/null || true)
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

cmd_kill_service() {
    local pid
    pid=$(cat "$HA_PIDS/$1-$2.pid" 2>/dev/null || true)
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null || true
    log "killed $1 replica $2 (pid ${pid:-none})"
}

cmd_start_service() {
    if replica_running "$1" "$2"; then
        log "$1 replica $2 runs already"
        return
    fi
    BIN_DIR=$(cd "$REPO_DIR" && swift build --show-bin-path)
    start_replica "$1" "$2"
    wait_replica_ready "$1" "$2" 60
    log "$1 replica $2 ready on port $(replica_port "$1" "$2")"
}

stop_replicas() {
    stop_pids "$HA_PIDS"/*.pid
}

# The routes of compose/gateway/default.conf (one list of which path goes to which service),
# each service an upstream of its two replicas.
gateway_write_config() {
    local s r conf="$HA_DIR/nginx/nginx.conf"
    mkdir -p "$HA_DIR/nginx"
    {
        echo "# Written by scripts/ha.sh on every up; edits here are overwritten."
        echo "daemon on;"
        echo "worker_processes 1;"
        echo "pid $HA_DIR/nginx/nginx.pid;"
        echo "error_log $HA_LOGS/gateway-error.log warn;"
        echo "events { worker_connections 1024; }"
        echo "http {"
        # Paths without their query strings: links carry tokens there.
        echo "  log_format syllabus '\$remote_addr [\$time_local] \"\$request_method \$uri\" \$status \$request_time \$upstream_addr';"
        echo "  access_log $HA_LOGS/gateway-access.log syllabus;"
        for d in client_body proxy fastcgi uwsgi scgi; do echo "  ${d}_temp_path $HA_DIR/nginx/$d;"; done
        for s in "${SERVICES[@]}"; do
            echo "  upstream $s {"
            for r in 1 2; do echo "    server 127.0.0.1:$(replica_port "$s" "$r") max_fails=1 fail_timeout=2s;"; done
            echo "    keepalive 16;"
            echo "  }"
        done
        echo "  server {"
        echo "    listen 127.0.0.1:$GATEWAY_PORT;"
        echo "    client_max_body_size 2m;"
        echo "    proxy_http_version 1.1;"
        echo "    proxy_set_header Connection \"\";"
        echo "    proxy_set_header Host \$http_host;"
        echo "    proxy_set_header X-Forwarded-For \$remote_addr;"
        echo "    proxy_connect_timeout 2s;"
        echo "    proxy_read_timeout 60s;"
        # A replica that refuses the connection or is gone before answering: the other one
        # takes the request. (A request it had started to answer is never sent twice.)
        echo "    proxy_next_upstream error timeout http_502 http_503;"
        for s in "${SERVICES[@]}"; do echo "    set \$$s http://$s;"; done
        grep -E '^\s*location .*proxy_pass \$[a-z]+; *}' "$REPO_DIR/compose/gateway/default.conf" | sed 's/^\s*/    /'
        echo "    location = /health { return 200 'ok\n'; }"
        echo "  }"
        echo "}"
    } >"$conf"
    nginx -t -q -c "$conf" -p "$HA_DIR/nginx" || die "nginx refused $conf"
}

gateway_pid() { cat "$HA_DIR/nginx/nginx.pid" 2>/dev/null || true; }

gateway_start() {
    require_free_ports gateway "$GATEWAY_PORT"
    detached_fds nginx -c "$HA_DIR/nginx/nginx.conf" -p "$HA_DIR/nginx"
}

gateway_stop() {
    local pid
    pid=$(gateway_pid)
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}

# ---------------------------------------------------------------------------------------------
# Commands

stop_everything() {
    stop_replicas
    gateway_stop
    local n pid
    for n in "${BROKER_NODES[@]}"; do
        set_broker_node "$n"
        rmq_kill
    done
    for n in "${PG_NODES[@]}"; do
        pid=$(patroni_pid "$n")
        [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null || true
    done
    for n in "${PG_NODES[@]}"; do
        for _ in $(seq 150); do [[ -z "$(patroni_pid "$n")" ]] && break; sleep 0.1; done
        cmd_kill_postgres "$n" >/dev/null
    done
    pid=$(etcd_pid)
    [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do [[ -z "$(etcd_pid)" ]] && break; sleep 0.1; done
    maybe_stop_epmd
}

cmd_up() {
    local started_at=$SECONDS n s
    "$HA_SCRIPT_DIR/install-deps.sh"
    take_profile_lock
    prepare_stack_dir
    stop_everything
    rm -rf "$HA_DIR"
    mkdir -p "$HA_LOGS" "$HA_PIDS" "$MAIL_DIR"
    prepare_stack_dir
    load_secrets
    for s in HA_PG_SUPERUSER_PASSWORD HA_PG_REPLICATION_PASSWORD HA_PG_REWIND_PASSWORD; do
        printf -v "$s" '%s' "$(openssl rand -hex 16)"
    done
    (umask 077 && openssl rand -hex 20 | tr -d '\n' >"$HA_DIR/erlang.cookie")

    # The brokers boot while Postgres is set up: node 1 first, the others join it.
    for n in "${BROKER_NODES[@]}"; do broker_write_config "$n"; done
    set_broker_node 1
    rmq_start_async

    etcd_start
    for n in "${PG_NODES[@]}"; do patroni_write_config "$n"; done
    patroni_start 1
    local i
    for i in $(seq 300); do [[ "$(cmd_primary || true)" == pg1 ]] && break; sleep 0.2; done
    [[ "$(cmd_primary || true)" == pg1 ]] || { tail -n 30 "$HA_LOGS/patroni-pg1.log" >&2; die "pg1 did not become primary"; }
    patroni_start 2
    set_pg_node 1
    pg_bootstrap

    set_broker_node 1
    rmq_wait_ready
    rmq_wait_amqp
    for n in 2 3; do
        set_broker_node "$n"
        rmq_start_async
    done
    for n in 2 3; do broker_start_wait "$n"; done
    wait_broker_cluster 3 90
    set_broker_node 1
    rmq_remove_guest
    wait_pg_cluster 120
    write_env_file

    build_all
    # The demo course, as make run seeds it (the two content replicas seed it once: seeding takes
    # the outline's lock). Links in mails and feeds point at the gateway; identity and analytics
    # take the client's address from it. HA_SERVICE_SETTINGS adds settings of the caller's (KEY=value …).
    local extra=()
    read -r -a extra <<<"${HA_SERVICE_SETTINGS:-}"
    write_service_env "$HA_DIR" "${REPLICA_BASES[0]}" 4 \
        "GATEWAY_URL=http://127.0.0.1:$GATEWAY_PORT" "CONTENT_DEMO_COURSE=true" \
        "RABBITMQ_MANAGEMENT_URLS=http://127.0.0.1:15722,http://127.0.0.1:15723,http://127.0.0.1:15724" \
        "IDENTITY_TRUSTED_PROXIES=127.0.0.1" "ANALYTICS_TRUSTED_PROXIES=127.0.0.1" \
        "IDENTITY_PUBLIC_URL=http://127.0.0.1:$GATEWAY_PORT" "CONTENT_PUBLIC_URL=http://127.0.0.1:$GATEWAY_PORT" \
        "NOTIFICATIONS_PUBLIC_URL=http://127.0.0.1:$GATEWAY_PORT" "${extra[@]}"
    write_replica_env
    # Declared once, by the administrator: quorum queues and the archive stream on all three nodes.
    apply_topology "$ENV_FILE"
    # HA_PREVIOUS_SERVICES (with PREVIOUS_BIN_DIR, see lib.sh): services whose replicas start
    # from the previous release, which migrates their schemas as it starts; `roll-service` then
    # moves them to this one, replica by replica. The first admin exists before the gateway
    # takes a request either way.
    local previous=" ${HA_PREVIOUS_SERVICES:-} "
    [[ $previous == "  " || -n ${PREVIOUS_BIN_DIR:-} ]] || die "HA_PREVIOUS_SERVICES needs PREVIOUS_BIN_DIR (build_previous_release)"
    if [[ $previous != *" identity "* ]]; then
        (set -a && . "$ENV_FILE" && "$BIN_DIR/syllabus" migrate identity >/dev/null)
        ensure_admin "$ENV_FILE" "$HA_DIR"
    fi
    for r in 1 2; do
        for s in "${SERVICES[@]}"; do
            if [[ $previous == *" $s "* ]]; then
                BIN_DIR=$PREVIOUS_BIN_DIR start_replica "$s" "$r"
            else
                start_replica "$s" "$r"
            fi
        done
    done
    for r in 1 2; do
        for s in "${SERVICES[@]}"; do wait_replica_ready "$s" "$r" 120; done
    done
    [[ $previous != *" identity "* ]] || ensure_admin "$ENV_FILE" "$HA_DIR"
    gateway_write_config
    gateway_start
    for i in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$GATEWAY_PORT/health" && break; sleep 0.1; done

    log "HA stack is up ($((SECONDS - started_at)) s):"
    cmd_status
    log "  env        $ENV_FILE"
    log "  admin      $SYLLABUS_ADMIN_EMAIL / $SYLLABUS_ADMIN_PASSWORD"
}

broker_start_wait() {
    set_broker_node "$1"
    rmq_wait_ready
    rmq_wait_amqp
}

cmd_status() {
    local n s r state
    log "  gateway    http://127.0.0.1:$GATEWAY_PORT  (nginx pid $(gateway_pid))"
    for n in "${BROKER_NODES[@]}"; do
        set_broker_node "$n"
        state=stopped
        rmq_running && state="running (pid $(rmq_pid))"
        log "  rabbitmq$n  amqp 127.0.0.1:$AMQP_PORT  $NODE_NAME  $state"
    done
    log "             cluster: $(running_broker_nodes) running nodes; management http://127.0.0.1:15722 (and :15723, :15724)"
    for n in "${PG_NODES[@]}"; do
        log "  pg$n        127.0.0.1:$((5731 + n))  patroni :$((18731 + n))  $(patroni_role "$n")"
    done
    log "  etcd       127.0.0.1:$ETCD_CLIENT_PORT  (pid $(etcd_pid))"
    for s in "${SERVICES[@]}"; do
        state=""
        for r in 1 2; do
            if replica_running "$s" "$r"; then
                state+=" :$(replica_port "$s" "$r")"
            else
                state+=" :$(replica_port "$s" "$r")(down)"
            fi
        done
        log "  $(printf '%-13s' "$s")$state"
    done
}

cmd_down() {
    take_profile_lock
    stop_everything
    log "HA stack is down"
}

set_ha_profile
case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) echo "$ENV_FILE" ;;
kill-broker) cmd_kill_broker "${2:?node}" ;;
stop-broker) cmd_stop_broker "${2:?node}" ;;
start-broker) cmd_start_broker "${2:?node}" ;;
kill-postgres) cmd_kill_postgres "${2:?node}" ;;
start-postgres) cmd_start_postgres "${2:?node}" ;;
switchover) cmd_switchover ;;
primary) cmd_primary ;;
kill-service) cmd_kill_service "${2:?service}" "${3:?replica}" ;;
start-service) cmd_start_service "${2:?service}" "${3:?replica}" ;;
roll-service) cmd_roll_service "${2:?service}" "${3:?replica}" ;;
*)
    echo "usage: $0 up|down|status|env|kill-broker N|stop-broker N|start-broker N|kill-postgres N|start-postgres N|switchover|primary|kill-service S R|start-service S R" >&2
    exit 2
    ;;
esac
