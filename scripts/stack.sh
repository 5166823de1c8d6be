#!/usr/bin/env bash
# The local stack without Docker: a Postgres cluster and a RabbitMQ node per profile,
# on loopback ports of their own, with all state under the repository's .stack directory.
#
#   scripts/stack.sh <command> run|test|fault|bench|second
#
#   up                  start both servers (a throwaway profile starts from empty data)
#   down                stop both servers (data is kept until the next `up` of a throwaway profile)
#   status              exit status 0 only if both servers run
#   env                 print the path of the profile's syllabus.env
#   restart-broker      stop RabbitMQ and start it again, keeping its data (queues, messages,
#                       users, definitions); returns once it accepts AMQP connections
#   restart-postgres    the same for Postgres; returns once it accepts connections
#   stop-broker         stop RabbitMQ, keeping its data
#   start-broker        start RabbitMQ again; returns once it accepts AMQP connections
#   stop-postgres       stop Postgres, keeping its data
#   start-postgres      start Postgres again; returns once it accepts connections
#   raise-disk-alarm    make RabbitMQ believe its disk is full (a free-space limit above what is
#                       free): it blocks every publishing connection until clear-disk-alarm
#   clear-disk-alarm    back to the profile's free-space limit (100MB)
#   backup [full|diff|incr]   a pgBackRest backup of Postgres (run and drill only; incr by default,
#                       full when there is none yet); WAL is archived continuously
#   backups             the backups kept, and the span of time a restore can reach
#   restore <time>|latest     stop Postgres, restore it to that moment (any time after the first
#                       backup: '2026-12-05 10:00:00.123+00') from the backups and the archived
#                       WAL, and start it again. Stop the services first.
# The restart, stop and start commands print the time they took.
#
# Profiles (independent; all four can run at once):
#   run    .stack         Postgres 5442, AMQP 5682, management 15682, dist 25682 — data kept
#   test   .stack/test    Postgres 5452, AMQP 5692, management 15692, dist 25692 — throwaway
#   fault  .stack/fault   Postgres 5462, AMQP 5702, management 15702, dist 25702 — throwaway
#   bench  .stack/bench   Postgres 5472, AMQP 5712, management 15712, dist 25712 — throwaway
#   second .stack/second  Postgres 5482 only — throwaway: a second database server, for a
#                         service that runs on a server of its own while the others share one
#   drill  .stack/drill   Postgres 5492, AMQP 5742, management 15742, dist 25742 — throwaway,
#                         with backups: the restore drill of `make test` runs on it
# A throwaway profile starts from empty data on every `up`; `test` and `fault` also run Postgres
# without fsync. `bench` runs it as production does (fsync and synchronous_commit on) unless
# SYLLABUS_BENCH_FSYNC=off. `fault` is for tests that stop and restart its servers under connected
# clients; `bench` is for measurements that must not share servers with the tests.
#
# `up` writes <stack dir>/syllabus.env (connection URLs for every service) and prints a summary.
set -Eeuo pipefail
trap 'echo "stack: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_DIR=$(dirname "$SCRIPT_DIR")
ROOT_STACK_DIR="$REPO_DIR/.stack" # shared by all profiles: locks and the epmd pid file

PG_BIN=/usr/lib/postgresql/15/bin
RMQ_BIN=/usr/lib/rabbitmq/bin
PG_OS_USER=postgres
SERVICES=(identity billing content progress notifications analytics webhooks)
ALL_PROFILES=(run test fault bench second drill)
COMMANDS="up|down|status|env|restart-broker|restart-postgres|stop-broker|start-broker|stop-postgres|start-postgres|raise-disk-alarm|clear-disk-alarm|backup|backups|restore"

# Keep settings from the caller's shell from redirecting the tools to other servers.
for _var in $(compgen -e); do
    case "$_var" in PG* | RABBITMQ_* | ERL_*) unset "$_var" ;; esac
done
unset _var

usage() {
    echo "usage: $0 $COMMANDS run|test|fault|bench|second|drill" >&2
    exit 2
}

log() { printf '%s\n' "$*"; }
die() {
    printf 'stack: %s\n' "$*" >&2
    exit 1
}

# Microseconds since the epoch, and the seconds elapsed since such a time (one decimal).
now_us() { echo "${EPOCHREALTIME/[.,]/}"; }
elapsed_since() {
    local us=$(($(now_us) - $1))
    printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000))
}

# ---------------------------------------------------------------------------------------------
# Profile settings

set_profile() {
    PROFILE=$1
    case "$PROFILE" in
    # CTL_DIST_PORT_MIN: the CLI tools' Erlang distribution ports are MIN..MIN+9.
    run)
        STACK_DIR="$ROOT_STACK_DIR"
        PG_PORT=5442 AMQP_PORT=5682 MGMT_PORT=15682 DIST_PORT=25682
        CTL_DIST_PORT_MIN=35682
        THROWAWAY=0 DURABLE=1
        ;;
    test)
        STACK_DIR="$ROOT_STACK_DIR/test"
        PG_PORT=5452 AMQP_PORT=5692 MGMT_PORT=15692 DIST_PORT=25692
        CTL_DIST_PORT_MIN=35692
        THROWAWAY=1 DURABLE=0
        ;;
    fault)
        STACK_DIR="$ROOT_STACK_DIR/fault"
        PG_PORT=5462 AMQP_PORT=5702 MGMT_PORT=15702 DIST_PORT=25702
        CTL_DIST_PORT_MIN=35702
        THROWAWAY=1 DURABLE=0
        ;;
    bench)
        STACK_DIR="$ROOT_STACK_DIR/bench"
        PG_PORT=5472 AMQP_PORT=5712 MGMT_PORT=15712 DIST_PORT=25712
        CTL_DIST_PORT_MIN=35712
        THROWAWAY=1 DURABLE=1
        if [[ "${SYLLABUS_BENCH_FSYNC:-on}" == off ]]; then DURABLE=0; fi
        ;;
    second)
        STACK_DIR="$ROOT_STACK_DIR/second"
        PG_PORT=5482 AMQP_PORT=5722 MGMT_PORT=15722 DIST_PORT=25722
        CTL_DIST_PORT_MIN=35722
        THROWAWAY=1 DURABLE=0 POSTGRES_ONLY=1
        ;;
    drill)
        STACK_DIR="$ROOT_STACK_DIR/drill"
        PG_PORT=5492 AMQP_PORT=5742 MGMT_PORT=15742 DIST_PORT=25742
        CTL_DIST_PORT_MIN=35742
        THROWAWAY=1 DURABLE=1 BACKUPS=1
        ;;
    *) usage ;;
    esac
    POSTGRES_ONLY=${POSTGRES_ONLY:-0}
    # WAL archived by pgBackRest, and backups, for the profiles whose data is worth restoring.
    [[ $PROFILE == run ]] && BACKUPS=1
    BACKUPS=${BACKUPS:-0}
    BACKUP_DIR="$STACK_DIR/backup" # pgBackRest's repository (owned by postgres)
    PGBACKREST_CONF="$STACK_DIR/pgbackrest.conf"
    # Every local profile speaks TLS only: Postgres and RabbitMQ present certificates of the
    # local CA, and the URLs in syllabus.env verify them (scripts/ha.sh turns this off).
    TLS=1
    NODE_NAME="syllabus-$PROFILE@localhost"

    PG_DIR="$STACK_DIR/pg" # owned by postgres (initdb needs the data dir's parent)
    PG_DATA="$PG_DIR/data"
    PG_SOCKET_DIR="$STACK_DIR/pg-socket"
    LOG_DIR="$STACK_DIR/logs"
    PG_LOG="$LOG_DIR/postgres.log"
    MAIL_DIR="$STACK_DIR/mail"
    RMQ_DIR="$STACK_DIR/rabbitmq"
    RMQ_HOME="$RMQ_DIR/home" # the Erlang cookie; shared by the server and the CLI tools
    RMQ_LOG_DIR="$LOG_DIR/rabbitmq"
    RMQ_PID_FILE="$RMQ_DIR/$NODE_NAME.pid"
    RMQ_DEFINITIONS="$RMQ_DIR/definitions.json"
    SECRETS_FILE="$STACK_DIR/secrets.env"
    ENV_FILE="$STACK_DIR/syllabus.env"
    TLS_SERVER_DIR="$STACK_DIR/tls/server" # this profile's server certificate and key (beside, never in, the CA's directory)
    LOCK_FILE="$ROOT_STACK_DIR/.$PROFILE.lock"
}

EPMD_PID_FILE="$ROOT_STACK_DIR/epmd.pid"
# The local certificate authority, shared by every profile: made once, kept across `up`s, so a
# client that trusts it once goes on trusting every local server.
TLS_CA_DIR="$ROOT_STACK_DIR/tls"
TLS_CA_FILE="$TLS_CA_DIR/ca.pem"
TLS_CA_LOCK_FILE="$ROOT_STACK_DIR/.tls.lock"
EPMD_LOCK_FILE="$ROOT_STACK_DIR/.epmd.lock"

# Fails if anything listens on one of the given TCP ports (on any address).
require_free_ports() {
    local what=$1 port busy
    shift
    for port in "$@"; do
        busy=$(ss -Hltnp "sport = :$port" 2>/dev/null | head -n1)
        if [[ -n "$busy" ]]; then
            die "$what needs port $port, which is in use: $busy"
        fi
    done
}

# Run a command with the lock descriptors closed, so long-lived servers never hold a lock.
detached_fds() { "$@" 8>&- 9>&-; }

take_profile_lock() {
    mkdir -p "$ROOT_STACK_DIR"
    exec 9>"$LOCK_FILE"
    flock -w 300 9 || die "another stack command for profile $PROFILE holds $LOCK_FILE"
}

prepare_stack_dir() {
    mkdir -p "$ROOT_STACK_DIR" "$STACK_DIR"
    # Nothing under .stack belongs in git, even where the repository's .gitignore is missing.
    [[ -f "$ROOT_STACK_DIR/.gitignore" ]] || printf '*\n' >"$ROOT_STACK_DIR/.gitignore"
    # Postgres runs as its own OS user, which must reach its directories. A clone in a private
    # directory (mktemp -d makes them 0700) gets the traverse bit, and only that, on each
    # directory of the path the user cannot enter: nothing becomes listable or readable.
    if ! runuser -u "$PG_OS_USER" -- test -x "$STACK_DIR"; then
        local dir=$STACK_DIR
        while [[ "$dir" != "/" ]]; do
            if ! runuser -u "$PG_OS_USER" -- test -x "$dir"; then
                chmod o+x "$dir" && echo "stack: let $PG_OS_USER traverse $dir (o+x)" >&2
            fi
            dir=$(dirname "$dir")
        done
        runuser -u "$PG_OS_USER" -- test -x "$STACK_DIR" ||
            die "user $PG_OS_USER cannot enter $STACK_DIR; clone the repository where other users can traverse the path"
    fi
}

# ---------------------------------------------------------------------------------------------
# Secrets

secret_keys() {
    echo ADMIN_DB_PASSWORD ADMIN_AMQP_PASSWORD SUBSCRIBER_AMQP_PASSWORD
    local s
    for s in "${SERVICES[@]}"; do
        s=${s^^}
        echo "${s}_DB_PASSWORD ${s}_OWNER_DB_PASSWORD ${s}_AMQP_PASSWORD"
    done
}

# Loads <stack>/secrets.env, generating (and saving) any password that is missing.
load_secrets() {
    local key changed=0
    if [[ -f "$SECRETS_FILE" ]]; then
        # shellcheck disable=SC1090
        source "$SECRETS_FILE"
    fi
    for key in $(secret_keys); do
        if [[ -z "${!key:-}" ]]; then
            printf -v "$key" '%s' "$(openssl rand -hex 16)"
            changed=1
        fi
    done
    if ((changed)) || [[ ! -f "$SECRETS_FILE" ]]; then
        local tmp="$SECRETS_FILE.tmp"
        (umask 077 && : >"$tmp")
        {
            echo "# Generated by scripts/stack.sh for profile $PROFILE."
            for key in $(secret_keys); do echo "$key=${!key}"; done
        } >>"$tmp"
        mv "$tmp" "$SECRETS_FILE"
    fi
}

# ---------------------------------------------------------------------------------------------
# TLS: a local CA and, per profile, a server certificate for localhost and 127.0.0.1

tls_ensure_ca() {
    mkdir -p "$TLS_CA_DIR"
    chmod 755 "$TLS_CA_DIR"
    (
        flock 7
        if [[ -s "$TLS_CA_FILE" && -s "$TLS_CA_DIR/ca.key" ]] && openssl x509 -checkend $((30 * 86400)) -noout -in "$TLS_CA_FILE" >/dev/null; then
            exit 0
        fi
        (umask 077 && openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
            -keyout "$TLS_CA_DIR/ca.key.tmp" -out "$TLS_CA_FILE.tmp" -days 3650 \
            -subj "/CN=Syllabus local CA $(hostname -s)" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign") \
            >"$TLS_CA_DIR/openssl.log" 2>&1 || { cat "$TLS_CA_DIR/openssl.log" >&2; exit 1; }
        chmod 644 "$TLS_CA_FILE.tmp"
        mv "$TLS_CA_DIR/ca.key.tmp" "$TLS_CA_DIR/ca.key"
        mv "$TLS_CA_FILE.tmp" "$TLS_CA_FILE"
    ) 7>"$TLS_CA_LOCK_FILE" || die "could not make the local CA"
}

# The profile's server certificate, signed by the local CA; made again when missing, when it
# expires within 30 days, or when the CA changed.
tls_ensure_server_cert() {
    local dir=$TLS_SERVER_DIR
    tls_ensure_ca
    mkdir -p "$dir"
    chmod 755 "$(dirname "$dir")"
    chmod 700 "$dir"
    if ! [[ -s "$dir/server.pem" && -s "$dir/server.key" ]] ||
        ! openssl verify -CAfile "$TLS_CA_FILE" "$dir/server.pem" >/dev/null 2>&1 ||
        ! openssl x509 -checkend $((30 * 86400)) -noout -in "$dir/server.pem" >/dev/null; then
        (
            umask 077
            openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$dir/server.key" \
                -out "$dir/server.csr" -subj "/CN=localhost" &&
                printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
                    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$dir/server.ext" &&
                (flock 7 && openssl x509 -req -in "$dir/server.csr" -CA "$TLS_CA_FILE" -CAkey "$TLS_CA_DIR/ca.key" \
                    -CAcreateserial -CAserial "$TLS_CA_DIR/ca.srl" -out "$dir/server.pem" -days 397 \
                    -extfile "$dir/server.ext") 7>"$TLS_CA_LOCK_FILE"
        ) >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; die "could not make the server certificate"; }
    fi
}

# ---------------------------------------------------------------------------------------------
# Postgres

pg_ctl_as_postgres() {
    (cd / && detached_fds runuser -u "$PG_OS_USER" -- "$PG_BIN/pg_ctl" -D "$PG_DATA" "$@")
}

pg_running() {
    [[ -f "$PG_DATA/postmaster.pid" ]] && pg_ctl_as_postgres status >/dev/null 2>&1
}

pg_pid() { head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || true; }

psql_super() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres "$@"
}

pg_init_if_needed() {
    mkdir -p "$PG_DIR" "$PG_SOCKET_DIR" "$LOG_DIR"
    chown "$PG_OS_USER:$PG_OS_USER" "$PG_DIR" "$PG_SOCKET_DIR"
    chmod 700 "$PG_DIR" "$PG_SOCKET_DIR"
    touch "$PG_LOG"
    chown "$PG_OS_USER:$PG_OS_USER" "$PG_LOG"
    if [[ -f "$PG_DATA/PG_VERSION" ]]; then
        return
    fi
    local sync_opt=()
    ((THROWAWAY)) && sync_opt=(--no-sync)
    (cd / && runuser -u "$PG_OS_USER" -- "$PG_BIN/initdb" -D "$PG_DATA" -U postgres \
        -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 \
        --no-instructions "${sync_opt[@]}") >"$LOG_DIR/initdb.log" 2>&1 ||
        { cat "$LOG_DIR/initdb.log" >&2; die "initdb failed"; }
    echo "include_if_exists = 'stack.conf'" >>"$PG_DATA/postgresql.conf"
}

pg_write_config() {
    local durability
    if ((!DURABLE)); then
        durability=$'fsync = off\nsynchronous_commit = off\nfull_page_writes = off'
    else
        durability=$'fsync = on\nsynchronous_commit = on\nfull_page_writes = on'
    fi
    cat >"$PG_DATA/stack.conf" <<EOF
# Written by scripts/stack.sh on every start; edits here are overwritten.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
max_connections = 500
password_encryption = 'scram-sha-256'
$durability
EOF
    if ((BACKUPS)); then
        # Every WAL segment goes to the repository (at least once a minute, so that a restore can
        # reach a moment a minute ago), which makes any moment since the first backup restorable.
        cat >>"$PG_DATA/stack.conf" <<EOF
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$PGBACKREST_CONF --stanza=syllabus archive-push %p'
archive_timeout = 60
EOF
    fi
    local host_type=host
    if ((TLS)); then
        host_type=hostssl
        # A copy Postgres owns: it refuses a key others can read.
        install -o "$PG_OS_USER" -g "$PG_OS_USER" -m 600 "$TLS_SERVER_DIR/server.pem" "$PG_DIR/server.pem"
        install -o "$PG_OS_USER" -g "$PG_OS_USER" -m 600 "$TLS_SERVER_DIR/server.key" "$PG_DIR/server.key"
        cat >>"$PG_DATA/stack.conf" <<EOF
ssl = on
ssl_cert_file = '$PG_DIR/server.pem'
ssl_key_file = '$PG_DIR/server.key'
ssl_min_protocol_version = 'TLSv1.2'
EOF
    fi
    cat >"$PG_DATA/pg_hba.conf" <<EOF
# Written by scripts/stack.sh. Unix socket (directory readable by postgres only): trust.
# TCP on loopback: password (SCRAM)$( ((TLS)) && echo ", over TLS only (hostssl)").
local   all   all                  trust
$host_type   all   all   127.0.0.1/32   scram-sha-256
EOF
    chown "$PG_OS_USER:$PG_OS_USER" "$PG_DATA/stack.conf" "$PG_DATA/pg_hba.conf"
    chmod 600 "$PG_DATA/stack.conf" "$PG_DATA/pg_hba.conf"
}

pg_start() {
    if pg_running; then
        pg_ctl_as_postgres reload -s >/dev/null
        return
    fi
    require_free_ports "Postgres ($PROFILE)" "$PG_PORT"
    rm -f "$PG_SOCKET_DIR"/.s.PGSQL.* 2>/dev/null || true
    if ! pg_ctl_as_postgres -l "$PG_LOG" -w -t 60 -s start; then
        tail -n 20 "$PG_LOG" >&2 || true
        die "Postgres ($PROFILE) did not start; see $PG_LOG"
    fi
}

pg_stop() {
    local mode=${1:-fast}
    if pg_running; then
        pg_ctl_as_postgres -m "$mode" -w -t 60 -s stop ||
            die "Postgres ($PROFILE) did not stop; see $PG_LOG"
    fi
}

# Waits until Postgres accepts connections on its TCP port, as clients reach it.
pg_wait_accepting() {
    local i
    for i in $(seq 300); do
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres -U postgres -t 2 && return 0
        sleep 0.1
    done
    die "Postgres ($PROFILE) does not accept connections on 127.0.0.1:$PG_PORT; see $PG_LOG"
}

# Roles, database and schemas. Idempotent: safe on every `up`.
pg_bootstrap() {
    local s S sql
    sql=$(
        cat <<EOF
DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'syllabus_admin') THEN
    CREATE ROLE syllabus_admin;
  END IF;
END\$\$;
ALTER ROLE syllabus_admin WITH LOGIN SUPERUSER PASSWORD '$ADMIN_DB_PASSWORD';
EOF
        for s in "${SERVICES[@]}"; do
            S=${s^^}
            local owner_pw_var="${S}_OWNER_DB_PASSWORD" pw_var="${S}_DB_PASSWORD"
            cat <<EOF
DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${s}_owner') THEN CREATE ROLE ${s}_owner; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${s}') THEN CREATE ROLE ${s}; END IF;
END\$\$;
ALTER ROLE ${s}_owner WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '${!owner_pw_var}';
ALTER ROLE ${s} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '${!pw_var}';
ALTER ROLE ${s}_owner SET search_path = ${s};
ALTER ROLE ${s} SET search_path = ${s};
EOF
        done
        cat <<'EOF'
SELECT 'CREATE DATABASE syllabus OWNER syllabus_admin'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'syllabus') \gexec
REVOKE ALL ON DATABASE syllabus FROM PUBLIC;
EOF
        for s in "${SERVICES[@]}"; do
            echo "GRANT CONNECT ON DATABASE syllabus TO ${s}_owner, ${s};"
        done
        echo '\connect syllabus'
        echo 'REVOKE ALL ON SCHEMA public FROM PUBLIC;'
        for s in "${SERVICES[@]}"; do
            cat <<EOF
CREATE SCHEMA IF NOT EXISTS ${s} AUTHORIZATION ${s}_owner;
ALTER SCHEMA ${s} OWNER TO ${s}_owner;
REVOKE ALL ON SCHEMA ${s} FROM PUBLIC;
GRANT USAGE ON SCHEMA ${s} TO ${s};
ALTER DEFAULT PRIVILEGES FOR ROLE ${s}_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE ${s}_owner IN SCHEMA ${s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${s};
ALTER DEFAULT PRIVILEGES FOR ROLE ${s}_owner IN SCHEMA ${s} GRANT USAGE, SELECT ON SEQUENCES TO ${s};
ALTER DEFAULT PRIVILEGES FOR ROLE ${s}_owner IN SCHEMA ${s} GRANT EXECUTE ON FUNCTIONS TO ${s};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${s};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${s};
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${s} TO ${s};
EOF
        done
    )
    printf '%s\n' "$sql" | psql_super -d postgres >"$LOG_DIR/pg-bootstrap.log" 2>&1 ||
        { cat "$LOG_DIR/pg-bootstrap.log" >&2; die "Postgres bootstrap failed"; }
}

# ---------------------------------------------------------------------------------------------
# Backups: pgBackRest, with one stanza (syllabus) per profile and its repository in the profile

pgbackrest_as_postgres() {
    (cd / && detached_fds runuser -u "$PG_OS_USER" -- pgbackrest --config="$PGBACKREST_CONF" --stanza=syllabus "$@")
}

backup_write_config() {
    mkdir -p "$BACKUP_DIR" "$LOG_DIR/pgbackrest" "$STACK_DIR/pgbackrest-lock"
    chown "$PG_OS_USER:$PG_OS_USER" "$BACKUP_DIR" "$LOG_DIR/pgbackrest" "$STACK_DIR/pgbackrest-lock"
    chmod 700 "$BACKUP_DIR" "$STACK_DIR/pgbackrest-lock"
    cat >"$PGBACKREST_CONF" <<EOF
# Written by scripts/stack.sh on every start; edits here are overwritten.
[global]
repo1-path=$BACKUP_DIR
# Two full backups kept, with the differential and incremental ones and the WAL they need.
repo1-retention-full=2
compress-type=lz4
start-fast=y
log-path=$LOG_DIR/pgbackrest
lock-path=$STACK_DIR/pgbackrest-lock
log-level-console=warn
log-level-file=info

[syllabus]
pg1-path=$PG_DATA
pg1-port=$PG_PORT
pg1-socket-path=$PG_SOCKET_DIR
pg1-user=postgres
EOF
    chown "$PG_OS_USER:$PG_OS_USER" "$PGBACKREST_CONF"
    chmod 600 "$PGBACKREST_CONF"
}

# The stanza, once Postgres runs (idempotent), and a check that WAL reaches the repository.
backup_init() {
    pgbackrest_as_postgres stanza-create >"$LOG_DIR/pgbackrest-stanza.log" 2>&1 ||
        { cat "$LOG_DIR/pgbackrest-stanza.log" >&2; die "pgBackRest could not create the stanza"; }
    pgbackrest_as_postgres check >>"$LOG_DIR/pgbackrest-stanza.log" 2>&1 ||
        { cat "$LOG_DIR/pgbackrest-stanza.log" >&2; die "pgBackRest check failed: WAL archiving does not work"; }
}

# ---------------------------------------------------------------------------------------------
# RabbitMQ

# Runs one of RabbitMQ's tools against this profile's node, with this profile's files.
rmq() {
    local tool=$1
    shift
    (
        export HOME="$RMQ_HOME"
        export RABBITMQ_NODENAME="$NODE_NAME"
        export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
        export RABBITMQ_NODE_PORT="$AMQP_PORT"
        export RABBITMQ_DIST_PORT="$DIST_PORT"
        export RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia"
        export RABBITMQ_LOG_BASE="$RMQ_LOG_DIR"
        export RABBITMQ_PID_FILE="$RMQ_PID_FILE"
        export RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
        export RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf"
        export RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_DIR/advanced.config"
        export RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf"
        export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} ${RMQ_EXTRA_ERL_ARGS:-}"
        export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
        export RABBITMQ_CTL_DIST_PORT_MIN="$CTL_DIST_PORT_MIN"
        export RABBITMQ_CTL_DIST_PORT_MAX="$((CTL_DIST_PORT_MIN + 9))"
        export ERL_EPMD_ADDRESS=127.0.0.1
        cd "$RMQ_DIR"
        exec "$RMQ_BIN/$tool" "$@"
    )
}

# A live Erlang VM started with this profile's HOME. (The node name is not on the command
# line: RabbitMQ reads it from the environment.)
rmq_pid_is_ours() {
    local pid=$1 args
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == beam.smp ]] || return 1
    args=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $'\n'"$args"$'\n' == *$'\n'-home$'\n'"$RMQ_HOME"$'\n'* ]]
}

# The node's pid: from its pid file, or (if that file is gone) by looking for the VM.
rmq_pid() {
    local pid
    pid=$(cat "$RMQ_PID_FILE" 2>/dev/null || true)
    if rmq_pid_is_ours "$pid"; then
        echo "$pid"
        return
    fi
    for pid in $(pgrep -x beam.smp || true); do
        if rmq_pid_is_ours "$pid"; then
            echo "$pid"
            return
        fi
    done
}

rmq_running() { [[ -n "$(rmq_pid)" ]]; }

rmq_write_config() {
    local s S pw_var
    mkdir -p "$RMQ_HOME" "$RMQ_DIR/mnesia" "$RMQ_LOG_DIR"
    chmod 700 "$RMQ_HOME"
    if [[ ! -s "$RMQ_HOME/.erlang.cookie" ]]; then
        (umask 077 && openssl rand -hex 20 | tr -d '\n' >"$RMQ_HOME/.erlang.cookie")
        chmod 400 "$RMQ_HOME/.erlang.cookie"
    fi
    # Shadows /etc/rabbitmq/rabbitmq-env.conf, so the system's settings never leak in.
    echo "# Settings come from scripts/stack.sh." >"$RMQ_DIR/rabbitmq-env.conf"
    echo '[rabbitmq_management].' >"$RMQ_DIR/enabled_plugins"
    cat >"$RMQ_DIR/rabbitmq.conf" <<EOF
# Written by scripts/stack.sh on every start; edits here are overwritten.
management.tcp.ip = 127.0.0.1
management.tcp.port = $MGMT_PORT
load_definitions = $RMQ_DEFINITIONS
log.console = false
log.file.level = info
disk_free_limit.absolute = 100MB
EOF
    if ((TLS)); then
        # AMQP over TLS only: no plain listener. Clients verify the server; the server asks no
        # client certificate (clients log in with a password).
        cat >>"$RMQ_DIR/rabbitmq.conf" <<EOF
listeners.tcp = none
listeners.ssl.default = 127.0.0.1:$AMQP_PORT
ssl_options.cacertfile = $TLS_CA_FILE
ssl_options.certfile = $TLS_SERVER_DIR/server.pem
ssl_options.keyfile = $TLS_SERVER_DIR/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
ssl_options.versions.1 = tlsv1.3
ssl_options.versions.2 = tlsv1.2
EOF
    fi
    # Users, vhost and permissions; loaded at every boot (so the default guest user is never
    # created) and imported again by `up` on a running node.
    {
        echo '{'
        echo '  "vhosts": [{"name": "syllabus"}],'
        echo '  "users": ['
        echo "    {\"name\": \"syllabus_admin\", \"password\": \"$ADMIN_AMQP_PASSWORD\", \"tags\": [\"administrator\"]},"
        echo "    {\"name\": \"subscriber\", \"password\": \"$SUBSCRIBER_AMQP_PASSWORD\", \"tags\": []},"
        local n=0
        for s in "${SERVICES[@]}"; do
            S=${s^^}
            pw_var="${S}_AMQP_PASSWORD"
            n=$((n + 1))
            printf '    {"name": "%s", "password": "%s", "tags": []}%s\n' "$s" "${!pw_var}" \
                "$([[ $n -lt ${#SERVICES[@]} ]] && echo ,)"
        done
        echo '  ],'
        echo '  "permissions": ['
        echo '    {"user": "syllabus_admin", "vhost": "syllabus", "configure": ".*", "write": ".*", "read": ".*"},'
        echo '    {"user": "subscriber", "vhost": "syllabus", "configure": "^subscriber\\..*", "write": "^subscriber\\..*", "read": "^(subscriber\\..*|.*\\.events|events\\.archive)$"},'
        n=0
        for s in "${SERVICES[@]}"; do
            n=$((n + 1))
            # configure: none (the topology is declared by the administrator; a passive declare
            # needs no permission). write: only exchanges it owns — <s>.events (its events),
            # <s>.private (events for one consumer only, such as identity.private) and <s>.retry
            # (its own retry tiers and dead-letter queue); never amq.default, so it cannot put a
            # message straight into another service's queue. read: its own queues (and, for
            # binding, its own exchanges). subscriber's read pattern matches *.events and
            # events.archive only: it can neither consume nor bind <s>.private or <s>.retry.
            # webhooks also keeps the archive and reads it: it consumes events.archive.feed and
            # writes to events.archive.in (the exchange bound to the stream alone), and replays
            # past events from events.archive to an endpoint.
            readable="^$s(\\\\..*)?\$"
            writable="^$s\\\\.(events|private|retry)\$"
            if [[ $s == webhooks ]]; then
                readable="^($s(\\\\..*)?|events\\\\.archive(\\\\.feed)?)\$"
                writable="^($s\\\\.(events|private|retry)|events\\\\.archive\\\\.in)\$"
            fi
            printf '    {"user": "%s", "vhost": "syllabus", "configure": "^$", "write": "%s", "read": "%s"}%s\n' \
                "$s" "$writable" "$readable" "$([[ $n -lt ${#SERVICES[@]} ]] && echo ,)"
        done
        echo '  ]'
        echo '}'
    } >"$RMQ_DEFINITIONS.tmp"
    chmod 600 "$RMQ_DEFINITIONS.tmp"
    mv "$RMQ_DEFINITIONS.tmp" "$RMQ_DEFINITIONS"
}

# epmd is shared by every Erlang node on the machine. Start one on loopback if none listens and
# remember its pid, so `down` can stop the one it started — and only that one.
epmd_listener_pid() {
    { ss -Hltnp 'sport = :4369' 2>/dev/null || true; } | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true
}

# True if every socket on port 4369 is on loopback: an epmd started with ERL_EPMD_ADDRESS=127.0.0.1
# (a default install's epmd listens on all addresses).
epmd_loopback_only() {
    local addrs
    addrs=$({ ss -Hltn 'sport = :4369' 2>/dev/null || true; } | awk '{print $4}')
    [[ -n "$addrs" ]] || return 1
    ! grep -qvE '^(127\.0\.0\.1|\[::1\]):4369$' <<<"$addrs"
}

# True if the epmd with this pid was started by this repository's stack (it carries a marker in
# its environment), so that an epmd of another checkout's stack is never taken for ours.
epmd_started_here() {
    local pid=$1
    local env
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    env=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null) || return 1
    grep -qxF "SYLLABUS_STACK_EPMD=$ROOT_STACK_DIR" <<<"$env"
}

ensure_epmd() {
    (
        exec 8>"$EPMD_LOCK_FILE"
        flock -w 60 8
        [[ -n "$(epmd_listener_pid)" ]] && exit 0
        ERL_EPMD_ADDRESS=127.0.0.1 SYLLABUS_STACK_EPMD="$ROOT_STACK_DIR" detached_fds epmd -daemon
        local pid="" i
        for i in $(seq 50); do
            pid=$(epmd_listener_pid)
            [[ -n "$pid" ]] && break
            sleep 0.1
        done
        [[ -n "$pid" ]] || { echo "stack: epmd did not start" >&2; exit 1; }
        echo "$pid" >"$EPMD_PID_FILE"
    )
}

other_profile_node_running() {
    local p
    for p in "${ALL_PROFILES[@]}"; do
        [[ "$p" == "$PROFILE" ]] && continue
        (set_profile "$p" && rmq_running) && return 0
    done
    return 1
}

maybe_stop_epmd() {
    (
        exec 8>"$EPMD_LOCK_FILE"
        flock -w 60 8
        local pid
        if [[ -f "$EPMD_PID_FILE" ]]; then
            pid=$(cat "$EPMD_PID_FILE")
        elif epmd_loopback_only && epmd_started_here "$(epmd_listener_pid)"; then
            # Its pid file is lost (an interrupted `up`).
            pid=$(epmd_listener_pid)
        else
            exit 0
        fi
        if [[ ! "$pid" =~ ^[0-9]+$ ]] || [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" != epmd ]]; then
            rm -f "$EPMD_PID_FILE"
            exit 0
        fi
        other_profile_node_running && exit 0
        # Any node still registered (another profile, or someone else's) keeps it alive.
        local names
        names=$(ERL_EPMD_ADDRESS=127.0.0.1 epmd -names 2>/dev/null || true)
        [[ "$names" == *$'\n'"name "* ]] && exit 0
        kill "$pid" 2>/dev/null || true
        rm -f "$EPMD_PID_FILE"
    )
}

rmq_start_async() {
    require_free_ports "RabbitMQ ($PROFILE)" "$AMQP_PORT" "$MGMT_PORT" "$DIST_PORT"
    rm -f "$RMQ_PID_FILE"
    ensure_epmd
    detached_fds rmq rabbitmq-server -detached >"$RMQ_LOG_DIR/startup.log" 2>&1 ||
        { cat "$RMQ_LOG_DIR/startup.log" >&2; die "RabbitMQ ($PROFILE) failed to launch"; }
}

rmq_wait_ready() {
    local i
    # Fail fast if the VM died while booting, instead of waiting out the timeout below.
    for i in $(seq 900); do
        [[ -s "$RMQ_PID_FILE" ]] && break
        if ((i % 10 == 0 && i >= 30)) && ! rmq_running; then
            tail -n 30 "$RMQ_LOG_DIR/$NODE_NAME.log" >&2 2>/dev/null || true
            die "RabbitMQ ($PROFILE) exited while starting; see $RMQ_LOG_DIR"
        fi
        sleep 0.1
    done
    if ! rmq rabbitmqctl wait --timeout 90 "$RMQ_PID_FILE" >"$RMQ_LOG_DIR/wait.log" 2>&1 ||
        ! rmq rabbitmqctl await_startup --timeout 90 >>"$RMQ_LOG_DIR/wait.log" 2>&1; then
        cat "$RMQ_LOG_DIR/wait.log" >&2
        tail -n 20 "$RMQ_LOG_DIR/$NODE_NAME.log" >&2 2>/dev/null || true
        die "RabbitMQ ($PROFILE) did not become ready; see $RMQ_LOG_DIR"
    fi
}

# True if the AMQP port answers the AMQP 0-9-1 protocol header with a Connection.Start frame
# (frame type 1, channel 0, class 10, method 10): the broker accepts connections.
amqp_accepts() {
    # One probe for both listeners: over TLS, verified as the services verify it (the CA, the
    # name localhost).
    local reply
    reply=$(/usr/bin/python3 -c '
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
    conn = ssl.create_default_context(cafile=ca).wrap_socket(raw, server_hostname="localhost") if ca else raw
    conn.sendall(b"AMQP\x00\x00\x09\x01")
    data = b""
    while len(data) < 11:
        chunk = conn.recv(11 - len(data))
        if not chunk:
            break
        data += chunk
print(data.hex())' "$AMQP_PORT" "$( ((TLS)) && echo "$TLS_CA_FILE")" 2>/dev/null) || return 1
    [[ "$reply" =~ ^010000[0-9a-f]{8}000a000a$ ]]
}

rmq_wait_amqp() {
    local deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
        amqp_accepts && return 0
        sleep 0.1
    done
    die "RabbitMQ ($PROFILE) does not accept AMQP connections on 127.0.0.1:$AMQP_PORT; see $RMQ_LOG_DIR"
}

rmq_import_definitions() {
    rmq rabbitmqctl import_definitions "$RMQ_DEFINITIONS" >"$RMQ_LOG_DIR/import.log" 2>&1 ||
        { cat "$RMQ_LOG_DIR/import.log" >&2; die "importing RabbitMQ definitions failed"; }
}

mgmt_api() {
    local method=$1 path=$2
    # Credentials go through stdin, not the command line.
    printf 'user = "syllabus_admin:%s"\n' "$ADMIN_AMQP_PASSWORD" |
        curl -s -K - -o /dev/null -w '%{http_code}' -X "$method" \
            "http://127.0.0.1:$MGMT_PORT/api$path" || true
}

# The broker's default user must not exist. Also proves the management API answers.
rmq_remove_guest() {
    local code i
    for i in $(seq 50); do
        code=$(mgmt_api DELETE /users/guest)
        case "$code" in
        204 | 404) return 0 ;;
        esac
        sleep 0.2
    done
    die "management API on 127.0.0.1:$MGMT_PORT answered $code to DELETE /api/users/guest"
}

rmq_stop() {
    local pid i
    pid=$(rmq_pid)
    if [[ -z "$pid" ]]; then
        rm -f "$RMQ_PID_FILE"
        return 0
    fi
    mkdir -p "$RMQ_DIR" "$RMQ_LOG_DIR"
    echo "$pid" >"$RMQ_PID_FILE"
    rmq rabbitmqctl stop "$RMQ_PID_FILE" >"$RMQ_LOG_DIR/stop.log" 2>&1 || true
    for i in $(seq 300); do
        rmq_pid_is_ours "$pid" || break
        # If the CLI could not reach the node, end it by its pid.
        [[ $i -eq 100 ]] && kill -TERM "$pid" 2>/dev/null
        [[ $i -eq 250 ]] && kill -KILL "$pid" 2>/dev/null
        sleep 0.1
    done
    rmq_pid_is_ours "$pid" && die "RabbitMQ ($PROFILE, pid $pid) did not stop"
    rm -f "$RMQ_PID_FILE"
}

# Ends the node at once (for a node whose data is thrown away next).
rmq_kill() {
    local pid i
    pid=$(rmq_pid)
    if [[ -n "$pid" ]]; then
        kill -KILL "$pid" 2>/dev/null || true
        for i in $(seq 100); do
            rmq_pid_is_ours "$pid" || break
            sleep 0.1
        done
        rmq_pid_is_ours "$pid" && die "RabbitMQ ($PROFILE, pid $pid) did not exit"
    fi
    rm -f "$RMQ_PID_FILE"
}

# ---------------------------------------------------------------------------------------------
# syllabus.env: only the block between the markers belongs to this script.

# A role's connection URL; scripts/ha.sh redefines these for its multi-host URLs and node lists.
# Over TLS, Postgres is verified by its IP address and the broker by a host name: librabbitmq
# checks a certificate's DNS names only.
pg_url() { # role password
    if ((TLS)); then
        echo "postgresql://$1:$2@127.0.0.1:$PG_PORT/syllabus?sslmode=verify-full&sslrootcert=$TLS_CA_FILE"
    else
        echo "postgresql://$1:$2@127.0.0.1:$PG_PORT/syllabus?sslmode=disable"
    fi
}
amqp_url() { # user password
    if ((TLS)); then
        echo "amqps://$1:$2@localhost:$AMQP_PORT/syllabus?cacertfile=$TLS_CA_FILE"
    else
        echo "amqp://$1:$2@127.0.0.1:$AMQP_PORT/syllabus"
    fi
}

# KEY=value, the value in single quotes when the shell would read it otherwise (a URL's `&`):
# the file is sourced by the scripts, and read as KEY=value by the tests (which strip the quotes).
env_line() { # key value
    if [[ $2 =~ ^[A-Za-z0-9_./:@,=+%?-]*$ ]]; then
        echo "$1=$2"
    else
        echo "$1='${2//\'/\'\\\'\'}'"
    fi
}

write_env_file() {
    local s S block tmp
    block=$(
        echo "# --- stack begin ---"
        echo "SYLLABUS_PROFILE=$PROFILE"
        echo "SYLLABUS_STACK_DIR=$STACK_DIR"
        echo "PG_PORT=$PG_PORT"
        ((TLS)) && echo "TLS_CA_FILE=$TLS_CA_FILE"
        ((POSTGRES_ONLY)) || echo "AMQP_PORT=$AMQP_PORT"
        ((POSTGRES_ONLY)) || echo "RABBITMQ_MANAGEMENT_URL=http://127.0.0.1:$MGMT_PORT"
        env_line ADMIN_DATABASE_URL "$(pg_url syllabus_admin "$ADMIN_DB_PASSWORD")"
        for s in "${SERVICES[@]}"; do
            S=${s^^}
            local pw="${S}_DB_PASSWORD" opw="${S}_OWNER_DB_PASSWORD"
            env_line "${S}_DATABASE_URL" "$(pg_url "$s" "${!pw}")"
            env_line "${S}_MIGRATION_DATABASE_URL" "$(pg_url "${s}_owner" "${!opw}")"
        done
        if ((!POSTGRES_ONLY)); then
            env_line ADMIN_AMQP_URL "$(amqp_url syllabus_admin "$ADMIN_AMQP_PASSWORD")"
            for s in "${SERVICES[@]}"; do
                S=${s^^}
                local apw="${S}_AMQP_PASSWORD"
                env_line "${S}_AMQP_URL" "$(amqp_url "$s" "${!apw}")"
            done
            env_line SUBSCRIBER_AMQP_URL "$(amqp_url subscriber "$SUBSCRIBER_AMQP_PASSWORD")"
        fi
        echo "MAIL_DIR=$MAIL_DIR"
        echo "# --- stack end ---"
    )
    tmp="$ENV_FILE.tmp"
    (umask 077 && : >"$tmp")
    if [[ -f "$ENV_FILE" ]] && grep -qx '# --- stack begin ---' "$ENV_FILE"; then
        BLOCK="$block" awk '
            $0 == "# --- stack begin ---" { print ENVIRON["BLOCK"]; skip = 1; next }
            $0 == "# --- stack end ---" && skip { skip = 0; next }
            !skip { print }
        ' "$ENV_FILE" >>"$tmp"
    else
        printf '%s\n' "$block" >>"$tmp"
        [[ -f "$ENV_FILE" ]] && cat "$ENV_FILE" >>"$tmp"
    fi
    mv "$tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------------------------------------
# Commands

wipe_profile_state() {
    # Only a throwaway profile's own entries are removed: its directory (.stack/<profile>) lives
    # inside .stack, the run profile's, beside the other profiles' directories, and syllabus.env
    # keeps the lines other scripts appended.
    [[ "$THROWAWAY" == 1 && "$PROFILE" != run && "$STACK_DIR" == "$ROOT_STACK_DIR/$PROFILE" ]] ||
        die "refusing to wipe $STACK_DIR"
    rm -rf "$PG_DIR" "$PG_SOCKET_DIR" "$RMQ_DIR" "$LOG_DIR" "$MAIL_DIR" "$SECRETS_FILE" "$TLS_SERVER_DIR" \
        "$BACKUP_DIR" "$PGBACKREST_CONF" "$STACK_DIR/pgbackrest-lock"
}

cmd_up() {
    local started_at=$SECONDS rmq_started=0
    "$SCRIPT_DIR/install-deps.sh"
    take_profile_lock
    prepare_stack_dir
    if ((THROWAWAY)); then
        # Its data is about to be deleted: no need for a graceful (≈ 9 s) broker shutdown.
        rmq_kill
        pg_stop immediate
        wipe_profile_state
    fi
    mkdir -p "$LOG_DIR" "$MAIL_DIR"
    load_secrets
    ((!TLS)) || tls_ensure_server_cert

    # The broker boots in the background while Postgres is set up.
    if ((!POSTGRES_ONLY)); then
        rmq_write_config
        if ! rmq_running; then
            rmq_start_async
            rmq_started=1
        fi
    fi

    pg_init_if_needed
    ((!BACKUPS)) || backup_write_config
    pg_write_config
    pg_start
    # A running Postgres took the new configuration by a reload; what only a restart applies
    # (WAL archiving, TLS turned on) makes it restart.
    if [[ "$(psql_super -d postgres -Atc 'SELECT count(*) FROM pg_settings WHERE pending_restart')" != 0 ]]; then
        log "postgres $PROFILE restarts to apply its configuration"
        pg_stop
        pg_start
    fi
    pg_bootstrap
    ((!BACKUPS)) || backup_init

    if ((!POSTGRES_ONLY)); then
        if ((rmq_started)); then
            rmq_wait_ready
        elif ! amqp_accepts; then
            # Running with another listener configuration (plain, before TLS): started again.
            log "rabbitmq $PROFILE restarts to apply its configuration"
            rmq_stop
            rmq_start_async
            rmq_wait_ready
        else
            rmq_import_definitions
        fi
        rmq_remove_guest
    fi

    write_env_file

    log "stack $PROFILE is up ($((SECONDS - started_at)) s):"
    log "  postgres   127.0.0.1:$PG_PORT  database syllabus  (pid $(pg_pid), data $PG_DATA)"
    if ((!POSTGRES_ONLY)); then
        log "  rabbitmq   amqp 127.0.0.1:$AMQP_PORT  vhost syllabus  node $NODE_NAME  (pid $(rmq_pid))"
        log "             management http://127.0.0.1:$MGMT_PORT  dist 127.0.0.1:$DIST_PORT"
    fi
    log "  env        $ENV_FILE"
    log "  logs       $LOG_DIR"
}

cmd_down() {
    take_profile_lock
    rmq_stop
    pg_stop
    maybe_stop_epmd
    log "stack $PROFILE is down"
}

cmd_status() {
    local ok=0
    if pg_running; then
        log "postgres  $PROFILE: running on 127.0.0.1:$PG_PORT (pid $(pg_pid))"
    else
        log "postgres  $PROFILE: stopped"
        ok=1
    fi
    if ((POSTGRES_ONLY)); then
        :
    elif rmq_running; then
        log "rabbitmq  $PROFILE: running, amqp 127.0.0.1:$AMQP_PORT, management 127.0.0.1:$MGMT_PORT (pid $(rmq_pid))"
    else
        log "rabbitmq  $PROFILE: stopped"
        ok=1
    fi
    return $ok
}

# The broker needs the profile's secrets (for its definitions), Postgres its initialised cluster.
require_brought_up() { # file that `up` creates
    [[ -f "$1" ]] || die "stack $PROFILE was never brought up; run: $0 up $PROFILE"
}

# Starts the node on its existing data and waits until it accepts AMQP connections.
rmq_start_existing() {
    load_secrets
    rmq_write_config
    rmq_start_async
    rmq_wait_ready
    rmq_wait_amqp
}

# Starts Postgres on its existing data and waits until it accepts connections.
pg_start_existing() {
    pg_write_config
    pg_start
    pg_wait_accepting
}

# The broker's data (queues, messages, users, definitions) lives in its Mnesia directory, which a
# stop keeps and the next start (same node name, same directory) recovers.
cmd_restart_broker() {
    local t
    t=$(now_us)
    take_profile_lock
    require_brought_up "$SECRETS_FILE"
    rmq_stop
    rmq_start_existing
    log "rabbitmq $PROFILE restarted ($(elapsed_since "$t") s, pid $(rmq_pid))"
}

cmd_stop_broker() {
    local t
    t=$(now_us)
    take_profile_lock
    if ! rmq_running; then
        log "rabbitmq $PROFILE was not running"
        return
    fi
    rmq_stop
    log "rabbitmq $PROFILE stopped ($(elapsed_since "$t") s)"
}

cmd_start_broker() {
    local t
    t=$(now_us)
    take_profile_lock
    require_brought_up "$SECRETS_FILE"
    if rmq_running; then
        rmq_wait_amqp
        log "rabbitmq $PROFILE was running already (pid $(rmq_pid))"
        return
    fi
    rmq_start_existing
    log "rabbitmq $PROFILE started ($(elapsed_since "$t") s, pid $(rmq_pid))"
}

cmd_restart_postgres() {
    local t
    t=$(now_us)
    take_profile_lock
    require_brought_up "$PG_DATA/PG_VERSION"
    pg_stop
    pg_start_existing
    log "postgres $PROFILE restarted ($(elapsed_since "$t") s, pid $(pg_pid))"
}

cmd_stop_postgres() {
    local t
    t=$(now_us)
    take_profile_lock
    if ! pg_running; then
        log "postgres $PROFILE was not running"
        return
    fi
    pg_stop
    log "postgres $PROFILE stopped ($(elapsed_since "$t") s)"
}

cmd_start_postgres() {
    local t
    t=$(now_us)
    take_profile_lock
    require_brought_up "$PG_DATA/PG_VERSION"
    if pg_running; then
        pg_wait_accepting
        log "postgres $PROFILE was running already (pid $(pg_pid))"
        return
    fi
    pg_start_existing
    log "postgres $PROFILE started ($(elapsed_since "$t") s, pid $(pg_pid))"
}

cmd_disk_alarm() { # raise|clear
    take_profile_lock
    require_brought_up "$SECRETS_FILE"
    rmq_running || die "rabbitmq $PROFILE is not running"
    local limit=100MB
    [[ $1 == raise ]] && limit=1000000GB
    rmq rabbitmqctl set_disk_free_limit "$limit" >"$RMQ_LOG_DIR/alarm.log" 2>&1 ||
        { cat "$RMQ_LOG_DIR/alarm.log" >&2; die "could not set the disk free limit of rabbitmq $PROFILE"; }
    log "rabbitmq $PROFILE disk free limit: $limit"
}

require_backups() {
    ((BACKUPS)) || die "profile $PROFILE keeps no backups (run and drill do)"
    require_brought_up "$PGBACKREST_CONF"
}

cmd_backup() { # [full|diff|incr]
    local type=${1:-incr} t
    [[ $type =~ ^(full|diff|incr)$ ]] || die "backup type: full, diff or incr"
    t=$(now_us)
    take_profile_lock
    require_backups
    pg_running || die "postgres $PROFILE is not running"
    pgbackrest_as_postgres --type="$type" backup >"$LOG_DIR/pgbackrest-backup.log" 2>&1 ||
        { cat "$LOG_DIR/pgbackrest-backup.log" >&2; die "backup failed"; }
    log "backup of $PROFILE taken ($type; $(elapsed_since "$t") s)"
    pgbackrest_as_postgres info
}

cmd_backups() {
    require_backups
    pgbackrest_as_postgres info
}

# Restores Postgres to a moment: the WAL written so far is archived first (so that the moment
# can be reached), Postgres stops, pgBackRest restores the files that differ (--delta) and
# replays archived WAL up to the moment, and Postgres is promoted to a new timeline there. What
# was committed after that moment is gone; the broker is not touched.
cmd_restore() { # <time>|latest
    local target=${1:-} t segment i epoch set
    [[ -n $target ]] || die "restore to what? a time ('2026-12-05 10:00:00+00') or latest"
    t=$(now_us)
    take_profile_lock
    require_backups
    local args=(--delta)
    if [[ $target == latest ]]; then
        args+=(--type=default)
    else
        # Read and checked before anything stops: the moment in UTC, to the microsecond.
        epoch=$(date -u -d "$target" +%s) || die "not a time: $target"
        target=$(date -u -d "$target" '+%Y-%m-%d %H:%M:%S.%6N+00')
        # The newest backup that ended in an earlier second (its times are whole seconds: one that
        # ended in the moment's own second may have ended after it), named so the log says which.
        set=$(pgbackrest_as_postgres --output=json info | /usr/bin/python3 -c '
import json, sys
sets = [b for b in json.load(sys.stdin)[0]["backup"] if b["timestamp"]["stop"] < int(sys.argv[1])]
print(sets[-1]["label"] if sets else "")' "$epoch")
        [[ -n $set ]] || die "no backup ended before $target: a restore reaches only moments after the first backup ended"
        args+=(--type=time "--target=$target" --target-action=promote "--set=$set")
    fi
    # What Postgres has written and not archived yet is archived first; a stopped Postgres cannot
    # do that, and restoring would lose it.
    if ! pg_running && [[ ${SYLLABUS_RESTORE_WITHOUT_ARCHIVING:-0} != 1 ]]; then
        die "postgres $PROFILE is not running: start it (scripts/stack.sh start-postgres $PROFILE) so that the WAL it has not archived is archived first; if it cannot start, SYLLABUS_RESTORE_WITHOUT_ARCHIVING=1 restores without it (what it had not archived is lost)"
    fi
    if pg_running; then
        segment=$(psql_super -d postgres -Atc "SELECT pg_walfile_name(pg_switch_wal())")
        for i in $(seq 600); do
            [[ "$(psql_super -d postgres -Atc "SELECT coalesce(last_archived_wal, '') >= '$segment' FROM pg_stat_archiver")" == t ]] && break
            sleep 0.1
        done
        ((i < 600)) || die "WAL segment $segment was not archived; see $PG_LOG"
        pg_stop
    fi
    pgbackrest_as_postgres "${args[@]}" restore >"$LOG_DIR/pgbackrest-restore.log" 2>&1 ||
        { cat "$LOG_DIR/pgbackrest-restore.log" >&2; die "restore failed; Postgres is stopped"; }
    # The restored files hold the configuration of their day: this script's is written again.
    pg_write_config
    pg_start
    pg_wait_accepting
    for i in $(seq 600); do
        [[ "$(psql_super -d postgres -Atc 'SELECT pg_is_in_recovery()' 2>/dev/null)" == f ]] && break
        sleep 0.1
    done
    ((i < 600)) || die "postgres $PROFILE is still recovering; see $PG_LOG"
    log "postgres $PROFILE restored to $target${set:+ from backup $set} ($(elapsed_since "$t") s, pid $(pg_pid))"
}

# Sourced (scripts/ha.sh builds its cluster from these functions), it defines them and stops here.
[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0

case "${1:-}" in
backup | restore) [[ $# -ge 2 && $# -le 3 ]] || usage ;;
*) [[ $# -eq 2 ]] || usage ;;
esac
set_profile "$2"
case "$1" in
up) cmd_up ;;
down) cmd_down ;;
status) if cmd_status; then exit 0; else exit 1; fi ;;
env) echo "$ENV_FILE" ;;
restart-broker) cmd_restart_broker ;;
restart-postgres) cmd_restart_postgres ;;
stop-broker) cmd_stop_broker ;;
start-broker) cmd_start_broker ;;
stop-postgres) cmd_stop_postgres ;;
start-postgres) cmd_start_postgres ;;
raise-disk-alarm) cmd_disk_alarm raise ;;
clear-disk-alarm) cmd_disk_alarm clear ;;
backup) cmd_backup "${3:-}" ;;
backups) cmd_backups ;;
restore) cmd_restore "${3:-}" ;;
*) usage ;;
esac
