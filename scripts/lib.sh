# Shared by run.sh and test.sh: build, keys, service environment, topology, start and wait.
# shellcheck shell=bash

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
SERVICES=(identity billing content progress notifications analytics webhooks)

service_port() { # service offset
    local base=$2
    case $1 in
    identity) echo $((base + 1)) ;;
    billing) echo $((base + 2)) ;;
    content) echo $((base + 3)) ;;
    progress) echo $((base + 4)) ;;
    notifications) echo $((base + 5)) ;;
    analytics) echo $((base + 6)) ;;
    webhooks) echo $((base + 7)) ;;
    esac
}

# The previous release (its commit in scripts/previous-release) and the services a rolling deploy
# from it is tested with: identity and notifications, whose journey is registration and welcome
# mail. Built from `git archive` of that commit into the same scratch path as this build, so the
# dependencies are compiled once for both; the executables are kept, by commit, in
# .stack/previous-release/<commit>/bin (PREVIOUS_BIN_DIR), and built again only when missing.
# Run before build_all: the previous release's modules take the place of this one's until then.
# (One product per `swift build`: given several --product options, it builds the last alone.)
PREVIOUS_RELEASE_PRODUCTS=(identity notifications)
build_previous_release() {
    local commit src
    commit=$(git -C "$REPO_DIR" rev-parse --verify "$(tr -d '[:space:]' <"$REPO_DIR/scripts/previous-release")^{commit}") ||
        { echo "the previous release's commit is not in this clone's history (a shallow clone?)" >&2; return 1; }
    PREVIOUS_BIN_DIR="$REPO_DIR/.stack/previous-release/$commit/bin"
    export PREVIOUS_BIN_DIR
    [ -x "$PREVIOUS_BIN_DIR/notifications" ] && return 0
    echo "building the previous release (${commit:0:12}) for the rolling-deploy test…"
    src="$REPO_DIR/.stack/previous-release/$commit/src"
    rm -rf "$src" && mkdir -p "$src" "$PREVIOUS_BIN_DIR.tmp"
    git -C "$REPO_DIR" archive "$commit" | tar -x -C "$src"
    local bin p
    bin=$(cd "$REPO_DIR" && swift build --package-path "$src" --scratch-path "$REPO_DIR/.build" --show-bin-path)
    for p in "${PREVIOUS_RELEASE_PRODUCTS[@]}"; do
        (cd "$REPO_DIR" && swift build --package-path "$src" --scratch-path "$REPO_DIR/.build" --product "$p")
        cp "$bin/$p" "$PREVIOUS_BIN_DIR.tmp/"
    done
    rm -rf "$PREVIOUS_BIN_DIR" && mv "$PREVIOUS_BIN_DIR.tmp" "$PREVIOUS_BIN_DIR"
    rm -rf "$src"
}

build_all() {
    echo "building (swift build --build-tests; the first build takes several minutes)…"
    (cd "$REPO_DIR" && swift build --build-tests)
    BIN_DIR=$(cd "$REPO_DIR" && swift build --show-bin-path)
    export BIN_DIR
}

# Keys, secrets and per-service settings go into the env file beside the stack's own block
# (<stack>/syllabus.env holds everything: the CLI and the tests read it). Each service then gets
# <stack>/services/<service>.env with only its own share of it (see write_service_files), and
# start_services starts it with that file alone.
write_service_env() { # stack_dir port_base bcrypt_cost [extra KEY=value lines…]
    local stack_dir=$1 base=$2 cost=$3 env="$1/syllabus.env"
    shift 3
    "$BIN_DIR/syllabus" keys generate --dir "$stack_dir/keys" >/dev/null
    [ -f "$stack_dir/keys/stripe-webhook-secret" ] || (umask 077 && echo "whsec_$(openssl rand -hex 24)" >"$stack_dir/keys/stripe-webhook-secret")
    # A local stand-in for the Mux signing key and webhook secret (the real ones come from Mux).
    [ -f "$stack_dir/keys/mux-signing.pem" ] || (umask 077 && openssl genrsa -out "$stack_dir/keys/mux-signing.pem" 2048 2>/dev/null)
    [ -f "$stack_dir/keys/mux-signing-key-id" ] || (umask 077 && openssl rand -hex 12 >"$stack_dir/keys/mux-signing-key-id")
    [ -f "$stack_dir/keys/mux-webhook-secret" ] || (umask 077 && openssl rand -hex 24 >"$stack_dir/keys/mux-webhook-secret")
    [ -f "$stack_dir/keys/unsubscribe-secret" ] || (umask 077 && openssl rand -hex 32 >"$stack_dir/keys/unsubscribe-secret")
    # Seals learners' Notion and Google tokens at rest.
    [ -f "$stack_dir/keys/integrations-key" ] || (umask 077 && openssl rand -base64 32 >"$stack_dir/keys/integrations-key")
    local block
    block=$(
        echo "# --- services begin ---"
        echo "JWT_JWKS_FILE=$stack_dir/keys/jwks.json"
        echo "IDENTITY_JWT_SIGNING_KEY_FILE=$stack_dir/keys/identity-signing.pem"
        echo "IDENTITY_JWT_VERIFY_KEY_FILES=$(find "$stack_dir/keys" -name 'retired-*.pem' 2>/dev/null | sort | paste -sd, -)"
        echo "IDENTITY_BCRYPT_COST=$cost"
        echo "HTTP_HOST=127.0.0.1"
        for s in "${SERVICES[@]}"; do
            echo "$(echo "$s" | tr a-z A-Z)_HTTP_PORT=$(service_port "$s" "$base")"
        done
        echo "COURSE_URL=http://127.0.0.1:$(service_port content "$base")/v1/course"
        echo "BILLING_STRIPE_WEBHOOK_SECRET=$(cat "$stack_dir/keys/stripe-webhook-secret")"
        echo "BILLING_PRICES=pro:MONTHLY:price_pro_monthly:4900,pro:ANNUAL:price_pro_annual:39900,starter:MONTHLY:price_starter_monthly:1900,starter:ANNUAL:price_starter_annual:19000"
        echo "BILLING_URL=http://127.0.0.1:$(service_port billing "$base")"
        echo "CONTENT_MUX_SIGNING_KEY_ID=$(cat "$stack_dir/keys/mux-signing-key-id")"
        echo "CONTENT_MUX_SIGNING_KEY=$(base64 -w0 "$stack_dir/keys/mux-signing.pem")"
        echo "CONTENT_MUX_WEBHOOK_SECRET=$(cat "$stack_dir/keys/mux-webhook-secret")"
        echo "CONTENT_INTEGRATIONS_KEY=$(cat "$stack_dir/keys/integrations-key")"
        # Keys and secrets rotated out (scripts/rotate-secret.sh): still honoured, never used to sign or seal.
        [ ! -s "$stack_dir/keys/integrations-key.previous" ] || echo "CONTENT_INTEGRATIONS_PREVIOUS_KEYS=$(paste -sd, "$stack_dir/keys/integrations-key.previous")"
        [ ! -s "$stack_dir/keys/unsubscribe-secret.previous" ] || echo "NOTIFICATIONS_UNSUBSCRIBE_PREVIOUS_SECRETS=$(paste -sd, "$stack_dir/keys/unsubscribe-secret.previous")"
        echo "CONTENT_PUBLIC_URL=http://127.0.0.1:$(service_port content "$base")"
        echo "NOTIFICATIONS_UNSUBSCRIBE_SECRET=$(cat "$stack_dir/keys/unsubscribe-secret")"
        echo "NOTIFICATIONS_PUBLIC_URL=http://127.0.0.1:$(service_port notifications "$base")"
        # Local stacks deliver webhooks to receivers on this machine: plain HTTP to loopback only.
        echo "WEBHOOKS_ALLOW_HTTP=true"
        echo "WEBHOOKS_ALLOW_PRIVATE=loopback"
        for line in "$@"; do echo "$line"; done
        echo "# --- services end ---"
    )
    local rest
    rest=$(sed '/^# --- services begin ---$/,/^# --- services end ---$/d' "$env")
    (umask 077 && printf '%s\n%s\n' "$rest" "$block" >"$env.tmp") && mv "$env.tmp" "$env"
    chmod 600 "$env"
    write_service_files "$stack_dir"
}

# The lines of syllabus.env a service may see: its own (<S>_…: its database and broker URLs,
# settings and secrets) and the shared, non-secret settings it reads (each key is looked up as
# <S>_<KEY>, then <KEY>). Never the administrator's or the subscriber's URLs, nor another
# service's URLs, passwords or keys; only identity's own prefix carries the signing key.
service_env_pattern() { # service
    local S=${1^^} shared='HTTP_HOST|JWT_JWKS_FILE|RETRY_DELAYS|MAX_ATTEMPTS|LOG_LEVEL|LOG_FORMAT|ACCESS_LOG|METRICS|TRACE_INCOMING|OTEL_[A-Z0-9_]+|DATABASE_POOL_SIZE|AMQP_PREFETCH|CONSUMER_LANES|CONSUMER_BATCH_SIZE|INBOX_RETENTION_DAYS'
    case $1 in
    notifications) shared="$shared|MAIL_[A-Z0-9_]+|COURSE_URL" ;; # where mail goes, the course link in it
    esac
    echo "^(${S}_[A-Z0-9_]+|$shared)="
}

# <stack>/services/<service>.env (mode 600), rewritten from syllabus.env on every run, so that
# changed passwords and keys reach it.
write_service_files() { # stack_dir
    local stack_dir=$1 env="$1/syllabus.env" dir="$1/services" s file
    (umask 077 && mkdir -p "$dir")
    chmod 700 "$dir"
    for s in "${SERVICES[@]}"; do
        file="$dir/$s.env"
        (
            umask 077
            echo "# Written by scripts/lib.sh from $env for $s alone; edits here are overwritten."
            grep -E "$(service_env_pattern "$s")" "$env" || true
        ) >"$file.tmp"
        if grep -qE '^(ADMIN|SUBSCRIBER)_' "$file.tmp"; then
            rm -f "$file.tmp"
            echo "refusing to write $file: it would hold another user's credentials" >&2
            return 1
        fi
        chmod 600 "$file.tmp"
        mv "$file.tmp" "$file"
    done
}

apply_topology() { # env_file
    (set -a && . "$1" && "$BIN_DIR/syllabus" topology apply >/dev/null)
}

# Each service starts with an empty environment but PATH and HOME, plus its own
# <stack>/services/<service>.env: nothing of the caller's shell or of syllabus.env leaks in.
start_services() { # stack_dir log_dir pid_dir
    local stack_dir=$1 logs=$2 pids=$3 s
    mkdir -p "$logs" "$pids"
    for s in "${SERVICES[@]}"; do
        start_service "$s" "$stack_dir/services/$s.env" "$logs/$s.log" "$pids/$s.pid" || return 1
    done
}

# One service process with only the given environment file; its pid goes to pid_file. Lock
# descriptors (8, 9) are closed, so a long-lived service never holds a stack script's lock.
start_service() { # service env_file log_file pid_file
    [ -f "$2" ] || { echo "$2 is missing (write_service_env writes it)" >&2; return 1; }
    # env, bash and the service replace each other in turn: the pid is the service's.
    (exec env -i PATH="$PATH" HOME="${HOME:-/}" /bin/bash -c 'set -a && . "$1" && exec "$2"' \
        start-service "$2" "$BIN_DIR/$1" >>"$3" 2>&1 8>&- 9>&-) &
    echo $! >"$4"
}

stop_services() { # pid_dir
    local s files=()
    for s in "${SERVICES[@]}"; do files+=("$1/$s.pid"); done
    stop_pids "${files[@]}"
}

# Stops the processes of these pid files: SIGTERM to all (each drains and finishes what it has),
# then up to 10 s each before SIGKILL; the pid files go.
stop_pids() { # pid_file...
    local f pid
    for f in "$@"; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    for f in "$@"; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$f"
    done
}

wait_ready() { # port_base log_dir timeout_seconds
    local base=$1 logs=$2 timeout=$3 s port deadline=$((SECONDS + $3))
    for s in "${SERVICES[@]}"; do
        port=$(service_port "$s" "$base")
        until curl -fs -o /dev/null "http://127.0.0.1:$port/health/ready"; do
            if ((SECONDS >= deadline)); then
                echo "$s is not ready after ${timeout}s; its log ($logs/$s.log) ends with:" >&2
                tail -n 20 "$logs/$s.log" >&2 || true
                return 1
            fi
            sleep 0.2
        done
    done
}

# The first admin of the local stack: SYLLABUS_ADMIN_EMAIL / SYLLABUS_ADMIN_PASSWORD, else a default
# address and a password generated once and kept in the stack's secrets.
ensure_admin() { # env_file stack_dir
    local env=$1 stack_dir=$2 file="$2/admin-password"
    if [ -z "${SYLLABUS_ADMIN_PASSWORD:-}" ]; then
        [ -f "$file" ] || (umask 077 && openssl rand -base64 12 | tr -d '/+=' >"$file")
        SYLLABUS_ADMIN_PASSWORD=$(cat "$file")
    fi
    SYLLABUS_ADMIN_EMAIL=${SYLLABUS_ADMIN_EMAIL:-admin@syllabus.local}
    export SYLLABUS_ADMIN_EMAIL SYLLABUS_ADMIN_PASSWORD
    (set -a && . "$env" && "$BIN_DIR/syllabus" admin create --name Admin >/dev/null)
}
