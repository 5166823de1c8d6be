#!/usr/bin/env bash
# Entrypoint of the rabbitmq container: renders the broker's definitions (vhost, users,
# permissions) from the template /etc/rabbitmq/syllabus/definitions.json and the passwords in the
# environment, then hands over to the image's own entrypoint.
#
# RabbitMQ reads no environment variables in definition files, so the passwords are substituted
# here: every ${NAME} in the template is replaced by the variable NAME. They are used in AMQP
# URLs too, so only letters, digits and . _ ~ - are accepted.
set -euo pipefail

template=${SYLLABUS_DEFINITIONS_TEMPLATE:-/etc/rabbitmq/syllabus/definitions.json}
target=${SYLLABUS_DEFINITIONS_FILE:-/etc/rabbitmq/definitions.json}

render() {
    local text name value
    text=$(<"$template")
    for name in $(grep -o '\${[A-Z_][A-Z0-9_]*}' "$template" | sort -u | tr -d '${}'); do
        value=${!name:-}
        if [[ -z "$value" ]]; then
            echo "rabbitmq entrypoint: $name is not set" >&2
            return 1
        fi
        if [[ ! "$value" =~ ^[A-Za-z0-9._~-]+$ ]]; then
            echo "rabbitmq entrypoint: $name may hold only letters, digits and . _ ~ -" >&2
            return 1
        fi
        text=${text//"\${$name}"/$value}
    done
    printf '%s\n' "$text"
}

tmp="$target.tmp"
(umask 077 && render >"$tmp")
if [[ "$(id -u)" == 0 ]]; then
    chown rabbitmq:rabbitmq "$tmp"
fi
mv "$tmp" "$target"

if [[ "${1:-}" == --render-only ]]; then
    cat "$target"
    exit 0
fi
exec docker-entrypoint.sh "$@"
