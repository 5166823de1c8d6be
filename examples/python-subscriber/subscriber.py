#!/usr/bin/python3
"""An example subscriber to Syllabus events (see docs/events.md), with pika.

It declares a durable queue of its own, `subscriber.<name>`, binds it to the events it wants,
consumes with manual acknowledgements and a prefetch, validates every event against the
contract's JSON Schemas (envelope and data, with scripts/contracts.py), skips events it has
already seen (by `id`), and prints one JSON line per event on stdout:

    {"id": "...", "type": "org.syllabus....", "subject": "...", "sequence": "...", "valid": true}

An invalid message is rejected without requeue (`basic.nack`, requeue=false) and printed as
    {"id": ..., "type": ..., "subject": ..., "sequence": ..., "valid": false, "errors": ["..."]}
Events of a type the contract does not know yet are acknowledged and skipped with a note.
Progress and notes (ready, duplicates, unknown types, totals) go to stderr.

    subscriber.py [--url URL] [--name NAME] [--exchange EX ...] [--pattern KEY ...]
                  [--subject ID ...] [--count N] [--timeout S] [--prefetch P] [--delete-queue]
    subscriber.py --from-archive first|last|next|<offset>|<ISO time> [same filters]

--url defaults to $SUBSCRIBER_AMQP_URL. Without --exchange it binds every `<service>.events`
exchange of Shared/Contracts/asyncapi.yaml, each with every --pattern (default `#`).
--from-archive reads the stream `events.archive` instead of a queue; there --exchange and
--pattern filter the deliveries instead of binding (an archived event's exchange is the one its
routing key starts with). --subject keeps only events about those
aggregates (the others are acknowledged and skipped).

Exit status: with --count N, 0 once N valid events arrived and 1 if the time ran out first;
without --count, 0 when stopped by --timeout or a signal. 1 on a broker or contract problem,
2 on a usage error.
"""

import argparse
import datetime
import json
import os
import re
import signal
import ssl
import sys
import time
import urllib.parse
from pathlib import Path

DEBIAN_PYTHON = "/usr/bin/python3"

if (
    __name__ == "__main__"
    and os.path.exists(DEBIAN_PYTHON)
    and os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON)
):
    # The Debian interpreter has python3-pika, python3-jsonschema and python3-yaml.
    os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, os.path.abspath(__file__), *sys.argv[1:]])

def connection_parameters(url):
    """pika's parameters for an amqp:// URL, or for an amqps:// one with RabbitMQ's `cacertfile`
    query (the local stacks' URLs): TLS, verifying the broker's certificate and its host name."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    params = pika.URLParameters(urllib.parse.urlunsplit(parts._replace(query="")))
    if parts.scheme == "amqps":
        context = ssl.create_default_context(cafile=query.get("cacertfile", [None])[0])
        params.ssl_options = pika.SSLOptions(context, server_hostname=parts.hostname)
    return params


REPO = Path(__file__).resolve().parents[2]
ARCHIVE = "events.archive"
QUEUE_PREFIX = "subscriber."
CONTENT_TYPE = "application/cloudevents+json"
NOT_FOUND, ACCESS_REFUSED, PRECONDITION_FAILED, NOT_IMPLEMENTED = 404, 403, 406, 540

sys.dont_write_bytecode = True
sys.path.insert(0, str(REPO / "scripts"))
try:
    import pika
    import pika.exceptions

    import contracts  # the repository's validator: scripts/contracts.py
except ImportError as exc:  # pragma: no cover - environment problem
    sys.stderr.write(f"subscriber: {exc}; run with /usr/bin/python3 and python3-pika, python3-jsonschema, "
                     "python3-yaml installed (scripts/install-deps.sh)\n")
    sys.exit(2)


def note(text):
    print(f"subscriber: {text}", file=sys.stderr, flush=True)


def emit(record):
    print(json.dumps(record, ensure_ascii=False), flush=True)


# --------------------------------------------------------------------------- options


def parse_offset(text):
    """An `x-stream-offset` value: first/last/next, an offset, or an RFC 3339 / ISO 8601 time."""
    if text in ("first", "last", "next"):
        return text
    if re.fullmatch(r"[0-9]+", text):
        return int(text)
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected first, last, next, an offset or an ISO 8601 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when  # pika sends a datetime as an AMQP timestamp (whole seconds)


def queue_name(text):
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}", text):
        raise argparse.ArgumentTypeError("letters, digits, '.', '_' and '-' only")
    return text


def positive(kind):
    def convert(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError("must be positive")
        return value
    return convert


def parse_args(argv):
    p = argparse.ArgumentParser(prog="subscriber.py", description="Example subscriber to Syllabus events.")
    p.add_argument("--url", default=os.environ.get("SUBSCRIBER_AMQP_URL"),
                   help="AMQP URL (default: $SUBSCRIBER_AMQP_URL)")
    p.add_argument("--name", type=queue_name, default="example",
                   help="the queue is subscriber.NAME (default: %(default)s)")
    p.add_argument("--exchange", action="append", default=[], metavar="EXCHANGE",
                   help="exchange to bind (repeatable; default: every <service>.events of the AsyncAPI document)")
    p.add_argument("--pattern", action="append", default=[], metavar="KEY",
                   help="routing key or topic pattern to bind with (repeatable; default: #)")
    p.add_argument("--subject", action="append", default=[], metavar="ID",
                   help="keep only events about this aggregate (repeatable)")
    p.add_argument("--count", type=positive(int), help="exit after this many valid events")
    p.add_argument("--timeout", type=positive(float), help="exit after this many seconds")
    p.add_argument("--prefetch", type=positive(int), default=50, help="unacknowledged deliveries at a time (default: %(default)s)")
    p.add_argument("--delete-queue", action="store_true", help="delete subscriber.NAME on exit")
    p.add_argument("--from-archive", type=parse_offset, metavar="OFFSET",
                   help=f"read {ARCHIVE} from first, last, next, an offset or an ISO 8601 time instead of a queue")
    p.add_argument("--contracts", type=Path, default=contracts.CONTRACTS, metavar="DIR",
                   help="contract directory with asyncapi.yaml and Schemas/ (default: %(default)s)")
    args = p.parse_args(argv)
    if not args.url:
        p.error("no AMQP URL: pass --url or set SUBSCRIBER_AMQP_URL")
    if args.from_archive is not None and args.delete_queue:
        p.error("--delete-queue has no queue to delete with --from-archive")
    return args


# --------------------------------------------------------------------------- routing keys


def matches(pattern, key):
    """AMQP topic matching: `*` is exactly one word, `#` zero or more."""
    def walk(p, k):
        if not p:
            return not k
        if p[0] == "#":
            return any(walk(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and (p[0] == "*" or p[0] == k[0]) and walk(p[1:], k[1:])
    return walk(pattern.split("."), key.split("."))


# --------------------------------------------------------------------------- the subscriber


class Stop(Exception):
    pass


class Subscriber:
    def __init__(self, args):
        self.args = args
        self.schemas = args.contracts / "Schemas"
        self.contract = contracts.load_contract(self.schemas)  # fails early on a broken contract
        self.seen = set()  # event ids processed (a real subscriber keeps them in its database)
        self.versions = {}  # aggregate -> highest sequence applied
        self.valid = 0
        self.invalid = 0
        self.stopping = False

    # ------------------------------------------------------------------ one message

    def problems(self, body, method, properties):
        """(event, problems): the contract's checks plus the AMQP properties' agreement with the body."""
        where = method.routing_key or "message"
        event, problems = contracts.message_problems(body, where, self.schemas)
        if not isinstance(event, dict):
            return event, problems
        if properties.content_type != CONTENT_TYPE:
            problems.append(f"{where}: content_type {properties.content_type!r}, expected {CONTENT_TYPE!r}")
        if properties.message_id is not None and properties.message_id != event.get("id"):
            problems.append(f"{where}: message_id {properties.message_id!r} differs from id {event.get('id')!r}")
        if properties.type is not None and properties.type != event.get("type"):
            problems.append(f"{where}: AMQP type {properties.type!r} differs from type {event.get('type')!r}")
        key = contracts.routing_key_of(event.get("type"))
        if key is not None and method.routing_key != key:
            problems.append(f"{where}: routing key {method.routing_key!r}, expected {key!r} for its type")
        return event, problems

    def wanted(self, method):
        """Client-side filter for the archive, which carries every event of every exchange."""
        if self.args.from_archive is None:
            return True  # the queue's bindings did the filtering
        # Every archived message comes through events.archive.in: the producer's exchange is the
        # one its routing key starts with (`identity.user.registered.v1` from identity.events).
        producer_exchange = method.routing_key.split(".", 1)[0] + ".events"
        if self.args.exchange and producer_exchange not in self.args.exchange:
            return False
        patterns = self.args.pattern or ["#"]
        return any(matches(p, method.routing_key) for p in patterns)

    def handle(self, channel, method, properties, body):
        archive = self.args.from_archive is not None
        if not self.wanted(method):
            channel.basic_ack(method.delivery_tag)
            return
        event, problems = self.problems(body, method, properties)
        fields = event if isinstance(event, dict) else {}
        if self.args.subject and isinstance(event, dict) and event.get("subject") not in self.args.subject:
            channel.basic_ack(method.delivery_tag)  # about another aggregate
            return
        key = contracts.routing_key_of(fields.get("type"))
        if key is not None and f"{key}.json" not in self.contract.schemas:
            # A type newer than this copy of the contract: skip it, never fail on it.
            channel.basic_ack(method.delivery_tag)
            note(f"unknown type {fields['type']} ({fields.get('id')}) skipped")
            return
        record = {k: fields.get(k) for k in ("id", "type", "subject", "sequence")}
        if problems:
            self.invalid += 1
            if archive:
                channel.basic_ack(method.delivery_tag)  # a stream keeps it regardless
            else:
                # Never requeue what can never be processed: it would come back forever.
                channel.basic_nack(method.delivery_tag, requeue=False)
            emit(dict(record, valid=False, errors=problems))
            return
        if event["id"] in self.seen:
            channel.basic_ack(method.delivery_tag)
            note(f"duplicate {event['id']} ({event['type']}) skipped")
            return
        self.apply(event)
        self.seen.add(event["id"])
        channel.basic_ack(method.delivery_tag)  # after processing: at-least-once
        self.valid += 1
        emit(dict(record, valid=True))
        if self.args.count and self.valid >= self.args.count:
            raise Stop()

    def apply(self, event):
        """Where a real subscriber changes its state, in one transaction with the event's id (its
        inbox). An event that carries an aggregate's state replaces the copy held only if its
        `sequence` is not lower than the one applied: out-of-order arrivals never overwrite newer
        state with older. (A sign-in does not change the user's version; see its schema.)"""
        aggregate = (event["source"], event["subject"])
        held = self.versions.get(aggregate)
        if held is not None and event["sequence"] < held:
            return False  # older than what is held: keep the newer state
        self.versions[aggregate] = event["sequence"]
        return True

    # ------------------------------------------------------------------ setup

    def connect(self):
        params = connection_parameters(self.args.url)
        params.connection_attempts = 3
        params.retry_delay = 1
        params.client_properties = {"connection_name": f"syllabus example subscriber ({self.source()})"}
        return pika.BlockingConnection(params)

    def source(self):
        return ARCHIVE if self.args.from_archive is not None else QUEUE_PREFIX + self.args.name

    def declare_and_bind(self, connection):
        """Declares subscriber.NAME and binds it; returns an open channel."""
        queue = QUEUE_PREFIX + self.args.name
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        explicit = bool(self.args.exchange)
        exchanges = self.args.exchange or contracts.exchanges(contracts.load_asyncapi(self.args.contracts / "asyncapi.yaml"))
        bound = []
        for exchange in exchanges:
            for pattern in self.args.pattern or ["#"]:
                try:
                    channel.queue_bind(queue, exchange, routing_key=pattern)
                    bound.append(f"{exchange} [{pattern}]")
                except pika.exceptions.ChannelClosedByBroker as exc:
                    if exc.reply_code != NOT_FOUND or explicit:
                        raise
                    note(f"exchange {exchange} does not exist (yet); not bound")
                    channel = connection.channel()
                    break
        if not bound:
            raise RuntimeError("no exchange to bind to")
        return channel, queue, bound

    def run(self):
        args = self.args
        deadline = None if args.timeout is None else time.monotonic() + args.timeout
        connection = self.connect()
        queue = None
        try:
            if args.from_archive is None:
                queue = QUEUE_PREFIX + args.name
                channel, queue, bound = self.declare_and_bind(connection)
                consume_args = None
                note(f"listening on {queue}, bound to {', '.join(bound)}")
            else:
                channel = connection.channel()
                consume_args = {"x-stream-offset": args.from_archive}
                shown = args.from_archive.isoformat() if isinstance(args.from_archive, datetime.datetime) else args.from_archive
                note(f"reading {ARCHIVE} from {shown}")
            channel.basic_qos(prefetch_count=args.prefetch)  # a stream requires it
            source = queue or ARCHIVE
            try:
                for method, properties, body in channel.consume(source, auto_ack=False, arguments=consume_args,
                                                                inactivity_timeout=0.5):
                    if method is not None:
                        self.handle(channel, method, properties, body)
                    if self.stopping or (deadline is not None and time.monotonic() >= deadline):
                        break
            except Stop:
                pass
            try:
                channel.cancel()  # prefetched deliveries not handled yet go back to the queue
            except pika.exceptions.ConnectionClosedByBroker as exc:
                # pika rejects (requeues) the deliveries it holds; a stream has no requeue and
                # closes the connection instead (540). Nothing is lost: reading a stream
                # removes nothing.
                if queue or exc.reply_code != NOT_IMPLEMENTED:
                    raise
        finally:
            if args.delete_queue and queue and connection.is_open:
                try:
                    connection.channel().queue_delete(queue)
                    note(f"deleted {queue}")
                except pika.exceptions.AMQPError as exc:
                    note(f"could not delete {queue}: {exc!r}")
            if connection.is_open:
                connection.close()
        note(f"{self.valid} valid, {self.invalid} invalid event(s)")
        if args.count:
            return 0 if self.valid >= args.count else 1
        return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        subscriber = Subscriber(args)
    except contracts.ContractError as exc:
        note(f"contract: {exc}")
        return 1

    def stop(signum, frame):
        subscriber.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return subscriber.run()
    except pika.exceptions.ChannelClosedByBroker as exc:
        hint = {ACCESS_REFUSED: " (the user's permissions do not allow it)",
                NOT_FOUND: " (it does not exist)",
                PRECONDITION_FAILED: " (it exists with other arguments)"}.get(exc.reply_code, "")
        note(f"broker refused: {exc.reply_code} {exc.reply_text}{hint}")
    except pika.exceptions.ConnectionClosedByBroker as exc:
        note(f"the broker closed the connection: {exc.reply_code} {exc.reply_text}")
    except pika.exceptions.AMQPConnectionError as exc:
        note(f"cannot connect: {exc!r}")
    except pika.exceptions.AMQPError as exc:
        note(f"AMQP error: {exc!r}")
    except (contracts.ContractError, RuntimeError) as exc:
        note(str(exc))
    return 1


if __name__ == "__main__":
    sys.exit(main())
