#!/usr/bin/python3
"""Writes docs/events.md, the subscribers' guide to Syllabus events, from the event contract.

Runs on Debian's /usr/bin/python3 with python3-jsonschema and python3-yaml (like contracts.py,
whose loaders it uses). Paths are resolved from the repository root, so any cwd works.

  events-doc.py            (re)write docs/events.md
  events-doc.py --check    exit 1, with a diff, if docs/events.md is not what it would write
  events-doc.py --stdout   print the document instead of writing it

Public channels are documented as event types; channels marked `x-syllabus-status: retired` under
"Retired event types"; channels marked `x-syllabus-visibility: private` (on `<service>.private`)
under "Private messages", for the operators (subscribers can never bind them).

Sources: Shared/Contracts/asyncapi.yaml (channels, messages, operations), Shared/Contracts/Schemas
(the envelope and one data schema per type), Shared/Contracts/Examples (one event per type), the
`subscriber` user's permissions in scripts/stack.sh and the default retention of events.archive
(`syllabus topology apply --archive-max-age`). The output depends on nothing else, so --check
is stable.

Exit status: 0 written / up to date, 1 stale (--check) or a contract problem, 2 usage error.
"""

import argparse
import difflib
import json
import os
import re
import sys
from pathlib import Path

DEBIAN_PYTHON = "/usr/bin/python3"

if (
    __name__ == "__main__"
    and os.path.exists(DEBIAN_PYTHON)
    and os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON)
):
    os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, os.path.abspath(__file__), *sys.argv[1:]])

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    import contracts  # noqa: E402
except ImportError as exc:  # pragma: no cover - environment problem
    sys.stderr.write(f"events-doc.py needs python3-jsonschema and python3-yaml ({exc}); run it with /usr/bin/python3\n")
    sys.exit(2)

ROOT = contracts.ROOT
OUTPUT = ROOT / "docs" / "events.md"
STACK_SCRIPT = ROOT / "scripts" / "stack.sh"
TOPOLOGY_COMMAND = ROOT / "Sources" / "SyllabusCLI" / "TopologyCommand.swift"
EXAMPLE_SUBSCRIBER = "examples/python-subscriber"
ARCHIVE = "events.archive"


class DocError(Exception):
    pass


# --------------------------------------------------------------------------- reading the sources


def rel(path):
    """Link target from docs/ to a repository file."""
    return "../" + Path(path).resolve().relative_to(ROOT).as_posix()


def follow(document, ref):
    if not isinstance(ref, str) or not ref.startswith("#/"):
        raise DocError(f"asyncapi.yaml: unsupported $ref {ref!r}")
    target = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or part not in target:
            raise DocError(f"asyncapi.yaml: $ref {ref!r} does not resolve")
        target = target[part]
    return target


def deref(document, value):
    hops = 0
    while isinstance(value, dict) and "$ref" in value and hops < 20:
        value = follow(document, value["$ref"])
        hops += 1
    return value


def archive_max_age():
    """The default retention of events.archive: `syllabus topology apply --archive-max-age`."""
    text = TOPOLOGY_COMMAND.read_text(encoding="utf-8")
    m = re.search(r'var\s+archiveMaxAge\s*=\s*"([^"]+)"', text)
    if not m:
        raise DocError(f"{contracts.display(TOPOLOGY_COMMAND)}: no default for archiveMaxAge")
    return m[1]


def duration_words(value):
    """A RabbitMQ duration (`7D`, `12h` …) in words."""
    m = re.fullmatch(r"([0-9]+)([YMDhms])", value)
    if not m:
        return value
    n = int(m[1])
    unit = {"Y": "year", "M": "month", "D": "day", "h": "hour", "m": "minute", "s": "second"}[m[2]]
    return f"{n} {unit}{'' if n == 1 else 's'}"


def subscriber_permissions():
    """The `subscriber` user's permissions as the local stack defines them (scripts/stack.sh)."""
    text = STACK_SCRIPT.read_text(encoding="utf-8")
    m = re.search(r"""echo\s+'\s*(\{"user":\s*"subscriber".*?\})\s*,?\s*'""", text)
    if not m:
        raise DocError(f"{contracts.display(STACK_SCRIPT)}: no permissions for the subscriber user")
    try:
        permissions = json.loads(m[1])
    except ValueError as exc:
        raise DocError(f"{contracts.display(STACK_SCRIPT)}: subscriber permissions: {exc}") from exc
    return permissions


class Model:
    """Everything the document says, read from the contract."""

    def __init__(self):
        self.doc = contracts.load_asyncapi()
        self.envelope = contracts.load_json(contracts.SCHEMAS / contracts.ENVELOPE_FILE)
        self.types = []  # one dict per channel, in document order
        channels = self.doc.get("channels") or {}
        operations = self.doc.get("operations") or {}
        by_channel = {}
        for op_id, raw in operations.items():
            op = deref(self.doc, raw)
            ref = (op.get("channel") or {}).get("$ref", "")
            by_channel.setdefault(ref, []).append(op)
        for channel_id, raw in channels.items():
            channel = deref(self.doc, raw)
            key = channel.get("address")
            if not isinstance(key, str) or not contracts.ROUTING_KEY.fullmatch(key):
                raise DocError(f"asyncapi.yaml: channel {channel_id!r}: address {key!r} is not a routing key")
            exchange = (((channel.get("bindings") or {}).get("amqp") or {}).get("exchange") or {})
            messages = [deref(self.doc, m) for m in (channel.get("messages") or {}).values()]
            if not messages:
                raise DocError(f"asyncapi.yaml: channel {channel_id!r} has no message")
            message = messages[0]
            schema_path = contracts.SCHEMAS / f"{key}.json"
            if not schema_path.is_file():
                raise DocError(f"{contracts.display(schema_path)}: missing (channel {channel_id!r})")
            example_path = contracts.EXAMPLES / f"{key}.json"
            if example_path.is_file():
                example = contracts.load_json(example_path)
            else:
                payloads = [e["payload"] for e in (message.get("examples") or []) if isinstance(e, dict) and "payload" in e]
                if not payloads:
                    raise DocError(f"{contracts.display(example_path)}: missing, and asyncapi.yaml has no example for {key!r}")
                example_path, example = None, payloads[0]
            ref = f"#/channels/{channel_id}"
            ops = by_channel.get(ref, [])
            sends = [op for op in ops if op.get("action") == "send"]
            receives = [op for op in ops if op.get("action") == "receive"]
            retired, private = contracts.is_retired(channel), contracts.is_private(channel)
            if not sends and not retired:
                raise DocError(f"asyncapi.yaml: channel {channel_id!r} has no send operation")
            self.types.append({
                "key": key,
                "type": contracts.TYPE_PREFIX + key,
                "exchange": exchange,
                "retired": retired,
                "private": private,
                "superseded_by": channel.get(contracts.SUPERSEDED_BY),
                "description": channel.get("description") or "",
                "summary": channel.get("summary") or message.get("summary") or "",
                "title": message.get("title") or key,
                "producer": sends[0].get("x-syllabus-service") if sends else key.split(".", 1)[0],
                "produced_when": sends[0].get("summary") or "" if sends else "no longer published",
                "consumers": sorted(((op.get("x-syllabus-service"), op.get("summary") or "") for op in receives)),
                "schema_path": schema_path,
                "schema": contracts.load_json(schema_path),
                "example_path": example_path,
                "example": example,
            })
        self.public = [t for t in self.types if not t["private"] and not t["retired"]]
        self.retired = [t for t in self.types if t["retired"] and not t["private"]]
        self.private = [t for t in self.types if t["private"]]
        if not self.public:
            raise DocError("asyncapi.yaml: no public channels")
        self.exchanges, self.private_exchanges = [], []
        for t in self.types:
            exchanges = self.private_exchanges if t["private"] else self.exchanges
            if t["exchange"].get("name") not in [e["name"] for e in exchanges]:
                exchanges.append(dict(t["exchange"], producer=t["producer"]))
        self.exchanges.sort(key=lambda e: e["name"])
        self.private_exchanges.sort(key=lambda e: e["name"])
        self.max_age = archive_max_age()
        self.permissions = subscriber_permissions()
        self.server = next(iter((self.doc.get("servers") or {}).values()), {})
        self.vhost = (self.server.get("pathname") or "/").lstrip("/") or "/"


# --------------------------------------------------------------------------- Markdown helpers


def cell(text):
    """Text for one table cell: one line (table() escapes the pipes)."""
    return " ".join(str(text).split())


def code(text):
    text = str(text)
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def anchor(text):
    """GitHub's heading anchor."""
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    # GitHub ends a cell at any unescaped pipe, even inside a code span.
    out += ["| " + " | ".join(re.sub(r"(?<!\\)\|", r"\\|", str(c)) for c in row) + " |" for row in rows]
    return out


def type_text(schema, alternative=False):
    """A short description of a property schema's type and constraints. An alternative of
    anyOf/oneOf is described without a type when it has none of its own."""
    if schema is True or schema == {}:
        return "any"
    if not isinstance(schema, dict):
        return "never"
    parts = []
    t = schema.get("type")
    if isinstance(t, list):
        parts.append(" or ".join(t))
    elif t == "array" and isinstance(schema.get("items"), dict):
        parts.append(f"array of {type_text(schema['items'])}")
    elif isinstance(t, str):
        parts.append(t)
    elif not alternative and "const" not in schema:
        parts.append("any")
    if "const" in schema:
        value = code(json.dumps(schema["const"]) if not isinstance(schema["const"], str) else schema["const"])
        parts.append(value if alternative or not parts else f"always {value}")
    if "enum" in schema:
        parts.append("one of " + ", ".join(code(json.dumps(v) if not isinstance(v, str) else v) for v in schema["enum"]))
    if "format" in schema:
        parts.append(f"format {schema['format']}")
    lo, hi = schema.get("minLength"), schema.get("maxLength")
    if lo is not None and hi is not None:
        parts.append(f"{lo}–{hi} characters")
    elif hi is not None:
        parts.append(f"at most {hi} characters")
    elif lo:
        parts.append(f"at least {lo} character{'' if lo == 1 else 's'}")
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None and hi is not None:
        parts.append(f"{lo}–{hi}")
    elif lo is not None:
        parts.append(f"≥ {lo}")
    elif hi is not None:
        parts.append(f"≤ {hi}")
    if "pattern" in schema and not {"format", "enum", "const"} & set(schema):
        parts.append(f"pattern {code(schema['pattern'])}")
    for keyword in ("anyOf", "oneOf"):
        if isinstance(schema.get(keyword), list):
            parts.append(" or ".join(type_text(alt, alternative=True) for alt in schema[keyword]))
    return ", ".join(parts)


def field_rows(schema, prefix=""):
    """(name, type, required, description) of every property, nested ones as `a.b` and `a[].b`."""
    rows = []
    required = set(schema.get("required", ())) if isinstance(schema, dict) else set()
    for name, sub in ((schema or {}).get("properties") or {}).items():
        full = prefix + name
        rows.append((code(full), cell(type_text(sub)), "yes" if name in required else "no",
                     cell(sub.get("description", "") if isinstance(sub, dict) else "")))
        if isinstance(sub, dict):
            if sub.get("properties"):
                rows += field_rows(sub, full + ".")
            items = sub.get("items")
            if isinstance(items, dict) and items.get("properties"):
                rows += field_rows(items, full + "[].")
    return rows


def json_block(value):
    return ["```json", json.dumps(value, indent=2, ensure_ascii=False), "```"]


# --------------------------------------------------------------------------- the document


def render(model):
    doc = model.doc
    info = doc.get("info") or {}
    envelope_link = rel(contracts.SCHEMAS / contracts.ENVELOPE_FILE)
    first = model.public[0]
    example_key = first["key"]
    service_names = sorted({t["producer"] for t in model.public})
    exchange_names = [e["name"] for e in model.exchanges]
    p = model.permissions
    max_age = model.max_age
    L = []
    add = L.append

    add("# Syllabus events: a subscriber's guide")
    add("")
    add("<!-- Generated by scripts/events-doc.py from Shared/Contracts (asyncapi.yaml, Schemas/, Examples/). "
        "Do not edit by hand: change the contract and run scripts/events-doc.py; "
        "`scripts/events-doc.py --check` fails while this file is out of date. -->")
    add("")
    add("Every change of state in Syllabus is announced as a domain event: a CloudEvents 1.0 message "
        "that a service publishes to RabbitMQ through its transactional outbox. This guide is for "
        "systems outside Syllabus that want to follow those events. Subscribers read; they never publish.")
    add("")
    add(f"The contract is [asyncapi.yaml]({rel(contracts.ASYNCAPI)}) (AsyncAPI {doc.get('asyncapi')}, "
        f"\"{info.get('title', '')}\" version {info.get('version', '')}) with the JSON Schemas (2020-12) in "
        f"[Shared/Contracts/Schemas]({rel(contracts.SCHEMAS)}); this page is generated from them and from "
        f"the examples in [Shared/Contracts/Examples]({rel(contracts.EXAMPLES)}), so it says nothing they "
        f"do not. A working subscriber that does everything described here is in "
        f"[{EXAMPLE_SUBSCRIBER}](../{EXAMPLE_SUBSCRIBER}).")
    add("")

    add("## Contents")
    add("")
    sections = ["The envelope", "AMQP properties", "Exchanges and routing keys",
                "Delivery, ordering and what a subscriber must do", "Subscribing with a queue of your own",
                "Replaying history: the events.archive stream", "Webhooks: the events over HTTPS", "Evolution", "Which messages a consumer believes",
                "Event types", "Retired event types", "Private messages"]
    groups = {"Event types": model.public, "Retired event types": model.retired, "Private messages": model.private}
    for s in sections:
        if s in groups and not groups[s] and s != "Event types":
            continue
        add(f"- [{s}](#{anchor(s)})")
        for t in groups.get(s, []):
            add(f"  - [{t['key']}](#{anchor(t['key'])})")
    add("")

    add("### All event types at a glance")
    add("")
    rows = []
    for t in model.public:
        consumers = ", ".join(sorted({c for c, _ in t["consumers"]})) or "—"
        rows.append((f"[{code(t['key'])}](#{anchor(t['key'])})", code(t["exchange"].get("name")),
                     t["producer"], consumers, cell(t["summary"])))
    L += table(["routing key", "exchange", "producer", "consumed in Syllabus by", "what happened"], rows)
    add("")
    if model.retired:
        add("Retired, no longer published (see [Retired event types](#retired-event-types)): "
            + ", ".join(f"[{code(t['key'])}](#{anchor(t['key'])}) (superseded by {code(t['superseded_by'] or '—')})"
                        for t in model.retired) + ".")
        add("")

    # ------------------------------------------------------------------ envelope
    add("## The envelope")
    add("")
    add("Every message body is one event in CloudEvents **structured mode**: a JSON object with the "
        f"content type `{contracts.CLOUDEVENTS_CONTENT_TYPE}`, described by [cloudevent.json]({envelope_link}). "
        "The event's own data is the object in `data`; its schema is named by `dataschema` "
        "(`urn:syllabus:schema:<routing key>`, the `$id` of `Schemas/<routing key>.json`).")
    add("")
    L += table(["attribute", "type", "required", "description"], field_rows(model.envelope))
    add("")
    add("`sequence`, `partitionkey` and `traceparent` are CloudEvents **extensions**: `sequence` orders "
        "the events of one aggregate, `partitionkey` (the CloudEvents partitioning extension) names the "
        "aggregate and always equals `subject`, and `traceparent` (the distributed-tracing extension) "
        "carries the W3C trace context of the change when there is one. More extensions may appear later; "
        "their names are lower-case letters and digits (at most 20). Ignore the ones you do not know.")
    add("")

    # ------------------------------------------------------------------ AMQP properties
    add("## AMQP properties")
    add("")
    add("The body alone is the event. For routing, logging and deduplication without parsing it, each "
        "message also carries these AMQP 0-9-1 basic properties:")
    add("")
    delivery_modes = sorted({((op.get("bindings") or {}).get("amqp") or {}).get("deliveryMode")
                             for op in (deref(model.doc, o) for o in (doc.get("operations") or {}).values())
                             if op.get("action") == "send"} - {None})
    delivery_mode = delivery_modes[0] if len(delivery_modes) == 1 else 2
    content_type = doc.get("defaultContentType", contracts.CLOUDEVENTS_CONTENT_TYPE)
    L += table(["property", "value"], [
        ("`message_id`", "the event's `id` (a lower-case UUIDv7)"),
        ("`type`", "the event's `type`, e.g. " + code(first["type"])),
        ("`app_id`", "the producing service: " + ", ".join(code(s) for s in service_names) + " …"),
        ("`timestamp`", "the event's commit time, in whole seconds since the epoch (`time` in the body is precise)"),
        ("`delivery_mode`", f"`{delivery_mode}` (persistent)"),
        ("`content_type`", code(content_type)),
    ])
    add("")
    add("Messages may carry headers as well (copies of `partitionkey` and `traceparent`, and the broker's "
        "own, such as `x-stream-offset` when read from the archive); they are not part of the contract, so "
        "read the attributes from the body.")
    add("")

    # ------------------------------------------------------------------ routing
    add("## Exchanges and routing keys")
    add("")
    add(f"Each producing service owns one **durable topic exchange** `<service>.events` in the virtual host "
        f"`{model.vhost}`. The **routing key** of an event is its `type` without the `{contracts.TYPE_PREFIX}` "
        f"prefix — `<service>.<subject>.<action>.v<major>`, e.g. `{example_key}` for `{first['type']}`. "
        "Exchanges that carry events today:")
    add("")
    rows = []
    for e in model.exchanges:
        keys = [t["key"] for t in model.public if t["exchange"].get("name") == e["name"]]
        rows.append((code(e["name"]), e.get("type", "topic"), "yes" if e.get("durable") else "no",
                     e["producer"], ", ".join(code(k) for k in keys)))
    L += table(["exchange", "type", "durable", "producer", "routing keys"], rows)
    add("")
    add("Bind with topic patterns (`*` is one word, `#` is zero or more): "
        f"`{exchange_names[0].split('.')[0]}.#` is everything of that exchange, "
        f"`{example_key.rsplit('.', 2)[0]}.*.v1` every v1 type of one subject, `*.*.deleted.v1` every "
        "deletion, `#` everything. Bind to the exact keys you handle where you can: a `#` binding "
        "also receives every type added later.")
    add("")
    if model.private_exchanges:
        add("Besides these, " + ", ".join(f"{e['producer']} owns {code(e['name'])}" for e in model.private_exchanges)
            + ": a private exchange for what only one Syllabus service may read. You cannot bind it, and it is "
            "not archived (see [Private messages](#private-messages)).")
        add("")

    # ------------------------------------------------------------------ delivery
    add("## Delivery, ordering and what a subscriber must do")
    add("")
    add("- **At-least-once delivery.** A producer publishes with publisher confirms and resends what the "
        "broker did not confirm, and the broker redelivers what a consumer did not acknowledge, so the "
        "same event can arrive more than once. **Deduplicate by `id`**: record the ids you have processed, "
        "in the same transaction as the effects of processing, and treat a known id as done.")
    add("- **Ordering per aggregate.** `subject` (and `partitionkey`) is the id of the aggregate the event is "
        "about — the user, the subscription, the lesson … — and `sequence` is that aggregate's version after "
        "the change, 20 zero-padded digits, so it compares correctly as a string. A producer publishes the "
        "events of one aggregate in `sequence` order, but your consumer can still see them out of order "
        "(redeliveries, several consumers on one queue, replays). **Compare `sequence` before overwriting "
        "state**: keep, per aggregate, the sequence you applied, and drop an event whose `sequence` is lower "
        "— it would replace newer state with older. Events that carry state carry the whole state, so the "
        "newest one is enough. Two events of one change share a `sequence`; apply both. Side effects (a "
        "mail, a webhook) must not depend on arrival order. Events of different aggregates are not ordered.")
    add("- **Ignore what you do not know.** Ignore unknown envelope attributes, unknown `data` properties "
        "and unknown enum values; acknowledge and skip events of types you do not handle (new types appear "
        "without notice, on the exchanges you are bound to with wildcards). Never fail on them.")
    add("- **Acknowledge manually, after processing**, with a bounded prefetch (`basic.qos`). Reject "
        "(`basic.nack` with `requeue=false`) only what you can never process, such as a body that is not a "
        "valid event; requeueing it would loop forever.")
    add("- **Validate if you like**: every event validates against the envelope schema and its data schema. "
        "Use a validator that ignores unknown properties, as the schemas do (`additionalProperties: true`).")
    add("")

    # ------------------------------------------------------------------ subscribing
    add("## Subscribing with a queue of your own")
    add("")
    user = p.get("user", "subscriber")
    add(f"External systems log in as their own RabbitMQ user. On the local stack (`scripts/stack.sh`) that "
        f"is `{user}`, whose URL is `SUBSCRIBER_AMQP_URL` in `.stack/syllabus.env`; it has these permissions "
        f"in the virtual host `{p.get('vhost', model.vhost)}`:")
    add("")
    L += table(["permission", "regular expression", "allows"], [
        ("configure", code(p["configure"]), "declaring and deleting queues named `subscriber.<…>`"),
        ("write", code(p["write"]), "binding those queues (binding needs write on the queue)"),
        ("read", code(p["read"]),
         "consuming from those queues, binding them to a `<service>.events` exchange (binding needs read "
         f"on the exchange), and reading the `{ARCHIVE}` stream"),
    ])
    add("")
    add("It cannot publish to a service's exchange, read a service's queues or declare anything else.")
    add("")
    add("The local stacks' broker speaks AMQP over TLS only: the URL is "
        "`amqps://subscriber:…@localhost:5682/syllabus?cacertfile=…/.stack/tls/ca.pem`, and a client verifies "
        "the broker's certificate against that CA (`TLS_CA_FILE`) and the host name `localhost`. To subscribe:")
    add("")
    add("1. Declare a **durable** queue named `subscriber.<yours>`; a quorum queue (`x-queue-type: quorum`) "
        "survives a broker node's loss, and `x-delivery-limit` keeps a message that crashes your consumer "
        "from looping forever.")
    add("2. **Bind** it to each exchange you want, with the routing keys or patterns you handle.")
    add("3. Set a prefetch (`basic.qos`) and **consume with manual acknowledgements**: ack after your "
        "transaction commits, nack without requeue only what you can never process.")
    add("4. The queue collects events while you are away. Delete it when you stop subscribing, or it grows "
        "without bound.")
    add("")
    add("With Python and pika:")
    add("")
    add("```python")
    add("import json, pika, ssl, urllib.parse")
    add("")
    add("url = urllib.parse.urlsplit(SUBSCRIBER_AMQP_URL)")
    add("params = pika.URLParameters(url._replace(query=\"\").geturl())")
    add("if url.scheme == \"amqps\":  # verify the broker against the CA the URL names")
    add("    context = ssl.create_default_context(cafile=urllib.parse.parse_qs(url.query)[\"cacertfile\"][0])")
    add("    params.ssl_options = pika.SSLOptions(context, server_hostname=url.hostname)")
    add("connection = pika.BlockingConnection(params)")
    add("channel = connection.channel()")
    add("channel.queue_declare(\"subscriber.crm\", durable=True, arguments={\"x-queue-type\": \"quorum\"})")
    keys = [t["key"] for t in model.public if t["exchange"].get("name") == exchange_names[0]][:2]
    for k in keys:
        add(f"channel.queue_bind(\"subscriber.crm\", \"{exchange_names[0]}\", routing_key=\"{k}\")")
    add("channel.basic_qos(prefetch_count=50)")
    add("")
    add("def on_message(channel, method, properties, body):")
    add("    event = json.loads(body)")
    add("    ...  # skip a known id, skip a lower sequence than the aggregate's, else apply; then:")
    add("    channel.basic_ack(method.delivery_tag)")
    add("")
    add("channel.basic_consume(\"subscriber.crm\", on_message)  # manual acks: auto_ack defaults to False")
    add("channel.start_consuming()")
    add("```")
    add("")
    add(f"[{EXAMPLE_SUBSCRIBER}](../{EXAMPLE_SUBSCRIBER}) is a complete one: it binds, validates every event "
        "against the schemas, deduplicates, and can read the archive.")
    add("")

    # ------------------------------------------------------------------ archive
    add(f"## Replaying history: the {ARCHIVE} stream")
    add("")
    add(f"`{ARCHIVE}` is a RabbitMQ **stream** that holds every public event (never a private one) of every "
        f"type, in the order the broker received them, for **{duration_words(max_age)}** "
        f"(`x-max-age` `{max_age}`, the default of `syllabus topology apply`); older events are discarded. "
        "Reading it removes nothing, so any number of readers can start wherever they like — to fill a new "
        "subscriber's state before it switches to its own queue, or to replay after a bug.")
    add("")
    add(f"Events reach it through `{ARCHIVE}.feed`, a quorum queue bound with `#` to every `<service>.events` "
        f"exchange: webhooks' archiver copies each message of the feed, as it was published (body, properties, "
        f"routing key), to the exchange `{ARCHIVE}.in`, which only the stream is bound to, and acknowledges it "
        "once the stream has confirmed the copy. So a producer's publish is confirmed by the queues that consume "
        "it and never waits for the archive: while the stream is unavailable (a broker node that held its leader "
        "is lost), the archive falls behind and the feed keeps what it has not taken yet. Deliveries from the "
        f"stream name `{ARCHIVE}.in` as their exchange; their routing key (which starts with the producer's "
        "name) and the envelope's `source` name the producer.")
    add("")
    add("Read it by consuming from the stream with the consumer argument `x-stream-offset`:")
    add("")
    L += table(["`x-stream-offset`", "starts at"], [
        ("`first`", "the oldest event still kept"),
        ("`last`", "the last chunk written (the most recent few events)"),
        ("`next` (the default)", "the next event published after you attach"),
        ("a number", "that offset; every delivery carries its offset in the header `x-stream-offset`, so "
                     "save it and resume from the saved offset + 1"),
        ("a timestamp (AMQP `T`, seconds)", "the first chunk written at or after that time; a chunk can "
                                           "hold somewhat older events, so filter by `time` if it matters"),
    ])
    add("")
    add("A stream has rules of its own: set a **prefetch with `basic.qos`** (required), consume with **manual "
        "acknowledgements** (they only let the broker send more), do not use `basic.get`, and never declare "
        "the stream yourself. Every type arrives, so filter by routing key (the delivery's routing key is the "
        "original one). Deduplicate as usual: the archive keeps every copy a producer published.")
    add("")
    add("```python")
    add("import datetime")
    add("")
    add("channel.basic_qos(prefetch_count=100)")
    add("since = datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.timezone.utc)  # pika sends it as a timestamp")
    add(f"channel.basic_consume(\"{ARCHIVE}\", on_message, arguments={{\"x-stream-offset\": since}})  # or \"first\", 1234 …")
    add("```")
    add("")

    # ------------------------------------------------------------------ webhooks
    add("## Webhooks: the events over HTTPS")
    add("")
    add("A system that cannot reach RabbitMQ, or would rather not run a consumer, receives the same public events "
        "as HTTPS POSTs from the `webhooks` service, signed as the Standard Webhooks specification "
        "(standardwebhooks.com) says. An admin registers an endpoint with the types it wants (routing keys, "
        "prefixes such as `progress.*`, or `*`) and gets its signing secret:")
    add("")
    add("```sh")
    add("# through the gateway, or http://127.0.0.1:8087 on a local stack; $ADMIN_TOKEN is an admin's access token")
    add("curl -s https://syllabus.example.com/v1/webhooks/endpoints -H \"authorization: Bearer $ADMIN_TOKEN\" \\")
    add("  -H 'content-type: application/json' \\")
    add("  -d '{\"url\": \"https://hooks.example.com/syllabus\", \"description\": \"CRM\", \"eventTypes\": [\"progress.*\", \"billing.subscription.*\"]}'")
    add("# {\"endpoint\": {\"id\": \"…\", …}, \"secret\": \"whsec_…\"}")
    add("curl -s -X POST https://syllabus.example.com/v1/webhooks/endpoints/<id>/test -H \"authorization: Bearer $ADMIN_TOKEN\"")
    add("# 202 {\"eventId\": \"…\", \"queued\": 1}: org.syllabus.webhooks.endpoint.test.v1, to this endpoint alone")
    add("```")
    add("")
    add("Each delivery is `POST <url>` with the CloudEvent exactly as published on the bus (the envelope above) "
        "and three headers:")
    add("")
    L += table(["header", "value"], [
        ("`webhook-id`", "the event's `id`: the same on every retry and replay, so deduplicate on it"),
        ("`webhook-timestamp`", "the attempt's time, Unix seconds; refuse one too far from your clock"),
        ("`webhook-signature`", "`v1,` and the base64 HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>`, keyed with "
                                "the base64-decoded part of the secret after `whsec_`; one per secret still signing, newest "
                                "first, space-separated: two for 24 hours after the secret is rotated"),
    ])
    add("")
    add("Verify the signature on the raw body before anything else; the `standardwebhooks` package from PyPI "
        "(and its counterparts for other languages) does all of it: it tries each signature, and refuses a "
        "`webhook-timestamp` more than 5 minutes from your clock:")
    add("")
    add("```python")
    add("from standardwebhooks.webhooks import Webhook, WebhookVerificationError")
    add("")
    add("webhook = Webhook(\"whsec_…\")  # the endpoint's secret")
    add("")
    add("def receive(body: bytes, headers: dict) -> int:")
    add("    try:")
    add("        event = webhook.verify(body, headers)  # the CloudEvent, parsed")
    add("    except WebhookVerificationError:")
    add("        return 400")
    add("    if already_seen(event[\"id\"]):  # the webhook-id")
    add("        return 204")
    add("    handle(event[\"type\"], event[\"data\"])")
    add("    return 204")
    add("```")
    add("")
    add("What to expect:")
    add("")
    add("- **Success** is any 2xx within 10 seconds (`WEBHOOKS_TIMEOUT_SECONDS`), connecting included; redirects are "
        "not followed. Answer quickly and do the work afterwards.")
    add("- **Retries**: the first attempt is made at once; a failed one is tried again after 5 s, 5 min, 30 min, 2 h, "
        "5 h, 10 h and 10 h (±10 % jitter; `WEBHOOKS_RETRY_SCHEDULE`), eight attempts over about 28 hours. An event "
        "that fails them all is recorded as failed and the endpoint moves on to later events, as Stripe and Svix do; "
        "the admins can replay it.")
    add("- **Order**: per endpoint, one aggregate's events (the same `partitionkey`) arrive in the order they were "
        "published; a later one waits while an earlier one is being retried. Events of different aggregates may "
        "interleave. Delivery is at least once.")
    add("- **Failing endpoints**: one that has failed every attempt for longer than `WEBHOOKS_DISABLE_AFTER` (three "
        "days) is disabled and the admins are mailed (`webhooks.endpoint.disabled.v1`). Its events wait; once an admin "
        "enables it again (`PATCH` with `{\"enabled\": true}`) it receives them in order.")
    add("- **Replay**: the admins can deliver one recorded event again, or every event of the endpoint's types in a "
        "span of time, read from the archive above (7 days; at most 10,000 archived events per request). Replays keep "
        "their `webhook-id`.")
    add("- **Test**: `POST …/endpoints/{id}/test` sends `org.syllabus.webhooks.endpoint.test.v1` (`data`: "
        "`endpointId`, `message`) to that endpoint alone, signed like any other.")
    add("- **Destinations** must be HTTPS and resolve to public addresses only: private, loopback and link-local "
        "addresses are refused (unless `WEBHOOKS_ALLOW_PRIVATE` lists their class), and unspecified, multicast and "
        "reserved ones always are, when the endpoint is registered and again before each attempt; the attempt "
        "connects to the address that was checked.")
    add("")
    add("The admin API (endpoints, secret rotation, test events, the delivery log, replays) is in "
        "[Services/Webhooks/openapi.yaml](../Services/Webhooks/openapi.yaml).")
    add("")

    # ------------------------------------------------------------------ evolution
    add("## Evolution")
    add("")
    add("Within a major version a type changes only additively: new optional `data` properties, new enum "
        "values, new optional envelope extensions. Anything else — removing or renaming a property, changing "
        "a type, narrowing a constraint, adding a required property — is a new type `….v<major+1>` with a "
        "routing key of its own, published alongside the old one until its consumers have moved. Bind to the "
        "major versions you understand. The committed schema snapshot and the contract tests of this "
        "repository fail any other change.")
    add("")
    if model.retired:
        add("The exception is a type that should never have been public: one that carried a secret is retired "
            "at once, in the release that introduces its successor, rather than published alongside it (see "
            "[Retired event types](#retired-event-types)). A retired type's schema stays, marked `deprecated`.")
        add("")

    # ------------------------------------------------------------------ event types
    # ------------------------------------------------------------------ trust
    add("## Which messages a consumer believes")
    add("")
    add("Every Syllabus consumer checks where a message came from before it believes it. The broker's "
        "permissions are the first wall: a service's user may publish only to the exchanges it owns "
        "(`<service>.events`, its own `<service>.retry` and, for identity, `identity.private`), never to "
        "`amq.default`, another service's queue or another service's exchange. The check below is the "
        "second wall, and it decides in this order:")
    add("")
    add("1. A delivery that came back through the consumer's own retry exchange `<service>.retry` (a retry, "
        "or an operator's redrive) is handled as its original — it was checked when it first arrived.")
    add("2. A delivery from exchange `<p>.events` (or `<p>.private`) whose envelope `source` is "
        "`/syllabus/<p>` and whose `type` starts `org.syllabus.<p>.` is genuine: handled if the consumer "
        "knows the type, otherwise acknowledged and counted (`events_unknown_total`) — a newer producer "
        "during a rolling deploy.")
    add("3. Anything else — another exchange (the default exchange included), a source or type prefix that "
        "disagrees with the exchange, a private type on a public exchange, or a body that is not a "
        "CloudEvent — is forged: it goes to `<service>.dlq` with header `x-syllabus-reason: forged`, is "
        "counted (`events_forged_total`), is never applied, and `syllabus dlq redrive` refuses to send it back.")
    add("")
    add("The retry path is the consumer's own: `<service>.retry` is a **direct** exchange to which the "
        "consumer's retry queues (`<service>.retry.<delay>`), its dead-letter queue `<service>.dlq` and its "
        "main queue `<service>` are each bound by their queue name. A failing delivery is published to "
        "`<service>.retry` with the name of a retry queue as routing key; when its delay expires the retry "
        "queue dead-letters it back through `<service>.retry` to the main queue. A delivery that has used up "
        "its retries, fails for good or reaches the main queue's delivery limit goes through the same exchange "
        "to `<service>.dlq`, and `syllabus dlq redrive` sends a message back to the main queue the same way. Nothing travels back through a "
        "producer's exchange (it would copy the retry to every subscriber) or the default exchange (no "
        "service may write to it).")
    add("")
    add("A subscriber of your own is free to apply the same rule; the `subscriber` user cannot publish at all.")
    add("")

    # ------------------------------------------------------------------ event types
    add("## Event types")
    add("")
    for t in model.public:
        L += render_type(t)
    if model.retired:
        add("## Retired event types")
        add("")
        add("These types are **no longer published since this release**. Each is superseded by its `.v2`, "
            "which says that a link was issued without carrying it; the link itself now travels only "
            "privately (see [Private messages](#private-messages)). Identity invalidated every outstanding "
            "password-reset and email-verification token at the cutover, so the links in copies of these "
            "events still held in `events.archive` or by subscribers no longer work. Their schemas stay "
            "(marked `deprecated`) so that those copies still validate; no Syllabus service binds them. "
            "Bind the successors instead.")
        add("")
        for t in model.retired:
            L += render_type(t)
    if model.private:
        names = ", ".join(code(e["name"]) for e in model.private_exchanges)
        add("## Private messages")
        add("")
        add(f"Reset and verification links go from identity to notifications alone, over the private topic "
            f"exchange {names}: same envelope, same routing-key scheme, but only notifications binds it. "
            "**Subscribers cannot bind to it** (the `subscriber` user has no permission on it) and **it is not "
            f"archived**: `{ARCHIVE}` is never bound to it. Identity deletes each message from its outbox once "
            "the broker has confirmed it. The schemas below are documented for the operators; they are not "
            "part of the public contract, and a private type arriving on a public exchange is treated as "
            "forged.")
        add("")
        for t in model.private:
            L += render_type(t, example=False)
    return "\n".join(L).rstrip("\n") + "\n"


def render_type(t, example=True):
    """The section of one type: its table, schema description, fields and (optionally) example."""
    L = []
    add = L.append
    add(f"### {t['key']}")
    add("")
    add(f"**{cell(t['title'])}** — {cell(t['summary'])}")
    add("")
    consumers = "<br>".join(f"{c}: {cell(s)}" for c, s in t["consumers"]) or ("none (retired)" if t["retired"] else "none yet")
    schema_link = f"[{t['schema_path'].name}]({rel(t['schema_path'])})"
    example_link = f"[{t['example_path'].name}]({rel(t['example_path'])})" if t["example_path"] else "asyncapi.yaml"
    rows = [
        ("type", code(t["type"])),
        ("routing key", code(t["key"])),
        ("exchange", code(t["exchange"].get("name")) + (" (private)" if t["private"] else "")),
        ("producer", f"{t['producer']}: {cell(t['produced_when'])}"),
        ("consumers inside Syllabus", consumers),
        ("data schema", f"{schema_link} (`{t['schema'].get('$id', '')}`)"),
    ]
    if t["retired"]:
        successor = t["superseded_by"]
        rows.insert(4, ("superseded by", f"[{code(successor)}](#{anchor(successor)})" if successor else "—"))
    L += table(["", ""], rows)
    add("")
    description = t["schema"].get("description")
    if description:
        add(" ".join(description.split()))
        add("")
    add("`data`:")
    add("")
    L += table(["field", "type", "required", "description"], field_rows(t["schema"]))
    add("")
    if example:
        add(f"Example ({example_link}):")
        add("")
        L += json_block(t["example"])
    else:
        add(f"Example: {example_link}.")
    add("")
    return L


def main(argv=None):
    parser = argparse.ArgumentParser(prog="events-doc.py", description="Write docs/events.md from the event contract.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if docs/events.md is out of date (writes nothing)")
    mode.add_argument("--stdout", action="store_true", help="print the document instead of writing it")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="file to write or check (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        model = Model()
        text = render(model)
    except (DocError, contracts.ContractError, OSError) as exc:
        print(f"events-doc: {exc}", file=sys.stderr)
        return 1
    if args.stdout:
        sys.stdout.write(text)
        return 0
    output = args.output
    current = output.read_text(encoding="utf-8") if output.is_file() else None
    if args.check:
        if current == text:
            print(f"{contracts.display(output)} is up to date")
            return 0
        if current is None:
            print(f"{contracts.display(output)} is missing; run scripts/events-doc.py", file=sys.stderr)
        else:
            diff = difflib.unified_diff(current.splitlines(True), text.splitlines(True),
                                        f"{contracts.display(output)} (committed)", f"{contracts.display(output)} (from the contract)")
            sys.stderr.writelines(diff)
            print(f"{contracts.display(output)} is out of date; run scripts/events-doc.py", file=sys.stderr)
        return 1
    if current == text:
        print(f"{contracts.display(output)} is up to date")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, output)
    print(f"wrote {contracts.display(output)} ({len(model.public)} event types, {len(model.retired)} retired, "
          f"{len(model.private)} private)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
