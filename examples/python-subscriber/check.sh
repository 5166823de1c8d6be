#!/usr/bin/env bash
# Checks the example subscriber against a running stack, end to end:
#
#   examples/python-subscriber/check.sh <stack dir>/syllabus.env
#
# 1. As the admin (ADMIN_AMQP_URL): declares the exchange identity.events (topic, durable) and
#    the stream events.archive (x-max-age 7D) only if they are missing. On a Syllabus stack the
#    archive is fed through the queue events.archive.feed by webhooks' archiver, which must run;
#    on a broker without that queue the stream is bound to the exchange directly, with `#`.
# 2. Starts subscriber.py as the `subscriber` user (SUBSCRIBER_AMQP_URL) on a queue of its own,
#    subscriber.check-<pid>-<random>, bound to identity.events.
# 3. Publishes, as the admin, three valid events made from Shared/Contracts/Examples (fresh ids, a
#    fresh aggregate, sequences 1-3), a duplicate of the first and one invalid event. It uses
#    identity types no Syllabus service consumes, so no service queue receives them.
# 4. Expects the subscriber to print the three valid events in order, reject the invalid one,
#    skip the duplicate and exit 0; then reads the same events back from events.archive, from a
#    time and from `first`.
# The queue is deleted on exit, whatever happens. Exit status 0 when every check passes.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)
PY=/usr/bin/python3
SUBSCRIBER="$HERE/subscriber.py"
WAIT_READY_S=20
RUN_TIMEOUT_S=30

[[ $# -eq 1 ]] || { echo "usage: $0 <stack dir>/syllabus.env" >&2; exit 2; }
ENV_FILE=$1
[[ -r "$ENV_FILE" ]] || { echo "check: cannot read $ENV_FILE" >&2; exit 2; }

# Read the two URLs without running the file.
env_value() { sed -n "s/^$1=//p" "$ENV_FILE" | tail -n1; }
ADMIN_AMQP_URL=$(env_value ADMIN_AMQP_URL)
SUBSCRIBER_AMQP_URL=$(env_value SUBSCRIBER_AMQP_URL)
[[ -n "$ADMIN_AMQP_URL" && -n "$SUBSCRIBER_AMQP_URL" ]] ||
    { echo "check: $ENV_FILE has no ADMIN_AMQP_URL or SUBSCRIBER_AMQP_URL" >&2; exit 2; }
export ADMIN_AMQP_URL SUBSCRIBER_AMQP_URL # passed through the environment, never on a command line

NAME="check-$$-$RANDOM"
QUEUE="subscriber.$NAME"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/subscriber-check.XXXXXX")
SUB_PID=""
STARTED=0 # set once the subscriber may have declared its queue
failures=0

# Admin-side helper: prepare | publish FILE | delete-queue NAME | queue-exists NAME
admin() {
    PYTHONDONTWRITEBYTECODE=1 "$PY" - "$REPO" "$@" <<'PYEOF'
import json, os, random, sys, time, copy, datetime
import pika, pika.exceptions

repo, command, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path.insert(0, os.path.join(repo, "scripts"))
sys.path.insert(0, os.path.join(repo, "examples", "python-subscriber"))
import contracts
from subscriber import connection_parameters  # amqps URLs: TLS, the broker verified

EXCHANGE, ARCHIVE = "identity.events", "events.archive"


def connect():
    params = connection_parameters(os.environ["ADMIN_AMQP_URL"])
    params.connection_attempts = 3
    params.retry_delay = 1
    return pika.BlockingConnection(params)


def exists(connection, declare):
    """Runs a passive declare on a channel of its own: True, or False on 404."""
    channel = connection.channel()
    try:
        declare(channel)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            return False
        raise
    channel.close()
    return True


def uuid7():
    ms = time.time_ns() // 1_000_000
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | random.getrandbits(12) << 64 | 0b10 << 62 | random.getrandbits(62)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def prepare():
    connection = connect()
    if exists(connection, lambda ch: ch.exchange_declare(EXCHANGE, passive=True)):
        print(f"exchange {EXCHANGE} exists", file=sys.stderr)
    else:
        connection.channel().exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
        print(f"declared exchange {EXCHANGE} (topic, durable)", file=sys.stderr)
    if exists(connection, lambda ch: ch.queue_declare(ARCHIVE, passive=True)):
        print(f"stream {ARCHIVE} exists", file=sys.stderr)
    else:
        connection.channel().queue_declare(ARCHIVE, durable=True, arguments={"x-queue-type": "stream", "x-max-age": "7D"})
        print(f"declared stream {ARCHIVE} (x-max-age 7D)", file=sys.stderr)
    if exists(connection, lambda ch: ch.queue_declare(ARCHIVE + ".feed", passive=True)):
        print(f"{ARCHIVE} is fed through {ARCHIVE}.feed (webhooks copies it into the stream)", file=sys.stderr)
    else:
        connection.channel().queue_bind(ARCHIVE, EXCHANGE, routing_key="#")  # idempotent
        print(f"bound {ARCHIVE} to {EXCHANGE}", file=sys.stderr)
    connection.close()

    # The current identity types no Syllabus service consumes: publishing them reaches only the
    # archive and subscribers, never a service's queue. Retired types (no longer published) are
    # left out.
    doc = contracts.load_asyncapi()
    consumed = set()
    for op in (doc.get("operations") or {}).values():
        if op.get("action") == "receive":
            consumed.add(op["channel"]["$ref"].rsplit("/", 1)[-1])
    current = {channel_id: channel for channel_id, channel in (doc.get("channels") or {}).items()
               if channel["bindings"]["amqp"]["exchange"]["name"] == EXCHANGE and not contracts.is_retired(channel)}
    keys = []
    for channel_id, channel in current.items():
        if channel_id not in consumed and (contracts.EXAMPLES / f"{channel['address']}.json").is_file():
            keys.append(channel["address"])
    if not keys:
        keys = [c["address"] for c in current.values()]
        print(f"warning: every {EXCHANGE} type has a consumer in Syllabus; its queue will receive the check's events", file=sys.stderr)

    subject = uuid7()
    now = datetime.datetime.now(datetime.timezone.utc)
    valid = []
    for i in range(3):
        key = keys[i % len(keys)]
        event = copy.deepcopy(contracts.load_json(contracts.EXAMPLES / f"{key}.json"))
        event.update(id=uuid7(), subject=subject, partitionkey=subject, sequence=f"{i + 1:020d}",
                     time=(now + datetime.timedelta(milliseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
        for field in ("userId",):
            if field in event["data"]:
                event["data"][field] = subject
        valid.append(event)
    invalid = copy.deepcopy(valid[1])
    invalid["id"] = uuid7()
    invalid["sequence"] = "not a sequence"
    invalid["data"] = dict(invalid["data"], userId="not-a-uuid")
    for event in valid:
        problems = contracts.event_problems(event)
        if problems:
            sys.exit("check: a generated event is invalid:\n" + "\n".join(problems))
    if not contracts.event_problems(invalid):
        sys.exit("check: the invalid event validates")
    # Publish order: 1, 2, duplicate of 1, invalid, 3.
    plan = {"subject": subject, "valid": [e["id"] for e in valid], "invalid": invalid["id"],
            "messages": [valid[0], valid[1], valid[0], invalid, valid[2]]}
    json.dump(plan, sys.stdout)


def publish(path):
    plan = json.load(open(path))
    connection = connect()
    channel = connection.channel()
    channel.confirm_delivery()
    for event in plan["messages"]:
        key = event["type"][len("org.syllabus."):]
        properties = pika.BasicProperties(
            content_type="application/cloudevents+json", message_id=event["id"], type=event["type"],
            app_id=event["source"].rsplit("/", 1)[-1], timestamp=int(time.time()), delivery_mode=2)
        channel.basic_publish(EXCHANGE, key, json.dumps(event).encode(), properties, mandatory=True)
    connection.close()
    print(f"published {len(plan['messages'])} messages to {EXCHANGE}", file=sys.stderr)


def delete_queue(name):
    connection = connect()
    connection.channel().queue_delete(name)
    connection.close()


def queue_exists(name):
    connection = connect()
    found = exists(connection, lambda ch: ch.queue_declare(name, passive=True))
    connection.close()
    print("yes" if found else "no")


try:
    {"prepare": lambda: prepare(), "publish": lambda: publish(rest[0]),
     "delete-queue": lambda: delete_queue(rest[0]), "queue-exists": lambda: queue_exists(rest[0])}[command]()
except pika.exceptions.AMQPError as exc:
    sys.exit(f"check: {command} as the admin failed: {exc!r}")
PYEOF
}

cleanup() {
    local rc=$?
    if [[ -n "$SUB_PID" ]] && kill -0 "$SUB_PID" 2>/dev/null; then
        kill -TERM "$SUB_PID" 2>/dev/null || true
        wait "$SUB_PID" 2>/dev/null || true
    fi
    if ((STARTED)); then
        admin delete-queue "$QUEUE" 2>/dev/null || echo "check: could not delete $QUEUE" >&2
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { echo "ok    $*"; }
fail() {
    echo "FAIL  $*"
    failures=$((failures + 1))
}
show() { # label file
    sed "s/^/      $1: /" "$2"
}

# Checks a subscriber run's stdout (file $2) against the plan.
verify_output() {
    local label=$1 out=$2
    PLAN="$WORK/plan.json" OUT="$out" "$PY" - <<'PYEOF'
import json, os, sys
plan = json.load(open(os.environ["PLAN"]))
lines = [json.loads(l) for l in open(os.environ["OUT"]) if l.strip()]
valid = [l for l in lines if l.get("valid") is True]
invalid = [l for l in lines if l.get("valid") is False]
problems = []
if [l["id"] for l in valid] != plan["valid"]:
    problems.append(f"valid ids {[l['id'] for l in valid]} != published {plan['valid']}")
for l in valid:
    if set(l) != {"id", "type", "subject", "sequence", "valid"} or l["subject"] != plan["subject"]:
        problems.append(f"unexpected line {l}")
# Other publishers' broken messages (no parsable subject) may pass the subject filter: ignored.
ours = [l for l in invalid if l.get("id") == plan["invalid"] or l.get("subject") == plan["subject"]]
if [l["id"] for l in ours] != [plan["invalid"]] or not all(l.get("errors") for l in ours):
    problems.append(f"invalid lines {ours}, expected one for {plan['invalid']} with errors")
if [l["sequence"] for l in valid] != ["00000000000000000001", "00000000000000000002", "00000000000000000003"]:
    problems.append("sequences out of order")
print("; ".join(problems))
sys.exit(1 if problems else 0)
PYEOF
}

# Runs the subscriber to the end; sets RUN_RC. Arguments go to subscriber.py.
run_subscriber() {
    local out=$1 err=$2
    shift 2
    set +e
    "$PY" "$SUBSCRIBER" "$@" >"$out" 2>"$err"
    RUN_RC=$?
    set -e
}

# ------------------------------------------------------------------------------ 1. topology, events
admin prepare >"$WORK/plan.json" 2>"$WORK/prepare.err" || { cat "$WORK/prepare.err" >&2; exit 1; }
sed 's/^/      /' "$WORK/prepare.err"
SUBJECT=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["subject"])' "$WORK/plan.json")
ok "topology present; events for aggregate $SUBJECT"

# ------------------------------------------------------------------------------ 2. the subscriber
"$PY" "$SUBSCRIBER" --name "$NAME" --exchange identity.events --pattern 'identity.#' \
    --subject "$SUBJECT" --count 3 --timeout "$RUN_TIMEOUT_S" --prefetch 10 --delete-queue \
    >"$WORK/queue.out" 2>"$WORK/queue.err" &
SUB_PID=$!
STARTED=1
ready=0
for _ in $(seq $((WAIT_READY_S * 10))); do
    if grep -qs '^subscriber: listening on' "$WORK/queue.err"; then
        ready=1
        break
    fi
    kill -0 "$SUB_PID" 2>/dev/null || break
    sleep 0.1
done
if ((!ready)); then
    fail "subscriber did not start listening"
    show stderr "$WORK/queue.err"
    exit 1
fi
ok "subscriber listens on $QUEUE as the subscriber user"

# Archive time offsets have a resolution of seconds (and start at a chunk): start a bit before.
SINCE=$(date -u -d '-2 seconds' +%Y-%m-%dT%H:%M:%SZ)
admin publish "$WORK/plan.json" 2>"$WORK/publish.err" || { cat "$WORK/publish.err" >&2; exit 1; }
ok "published 3 valid events, a duplicate and an invalid event to identity.events"

set +e
wait "$SUB_PID"
rc=$?
set -e
SUB_PID=""
if [[ $rc -eq 0 ]]; then ok "subscriber exited 0 after 3 valid events"; else fail "subscriber exited $rc"; fi
if why=$(verify_output queue "$WORK/queue.out"); then
    ok "printed the 3 valid events in order and one error line for the invalid one"
else
    fail "queue output: $why"
fi
if grep -q '^subscriber: duplicate ' "$WORK/queue.err"; then ok "skipped the duplicate"; else fail "no duplicate reported"; fi
if [[ $(admin queue-exists "$QUEUE") == no ]]; then ok "$QUEUE deleted"; else fail "$QUEUE still exists"; fi
if ((failures)); then
    show stdout "$WORK/queue.out"
    show stderr "$WORK/queue.err"
fi

# ------------------------------------------------------------------------------ 3. the archive
for from in "$SINCE" first; do
    f=$failures
    run_subscriber "$WORK/archive.out" "$WORK/archive.err" --from-archive "$from" --exchange identity.events \
        --subject "$SUBJECT" --count 3 --timeout "$RUN_TIMEOUT_S"
    if [[ $RUN_RC -eq 0 ]]; then ok "archive from $from: exited 0"; else fail "archive from $from: exited $RUN_RC"; fi
    if why=$(verify_output archive "$WORK/archive.out"); then
        ok "archive from $from: the same 3 valid events in order and the invalid one"
    else
        fail "archive from $from: $why"
    fi
    if ((failures > f)); then
        show stdout "$WORK/archive.out"
        show stderr "$WORK/archive.err"
    fi
done

if ((failures)); then
    echo "check: $failures failure(s)"
    exit 1
fi
echo "check: all passed"
