#!/usr/bin/python3
"""Syllabus event contract: validate events, check the AsyncAPI document, guard compatibility.

Runs on Debian's /usr/bin/python3 with python3-jsonschema (4.10 or later) and python3-yaml.
Paths are resolved from the repository root (the parent of scripts/), so any cwd works.

  contracts.py validate [--schemas DIR] [FILE ...]   events (object or array per file; stdin if no FILE)
  contracts.py check-asyncapi [--file YAML] [--schemas DIR]
  contracts.py check-compat [--snapshot DIR] [--current DIR]
  contracts.py snapshot [--snapshot DIR] [--current DIR] [--force]
  contracts.py asyncapi --catalogue JSON [--check]   generate asyncapi.yaml (see `make asyncapi`)
  contracts.py selftest

Exit status: 0 success, 1 contract problem or invalid event, 2 usage error.

Other scripts import it (put scripts/ on sys.path, then `import contracts`):

  contract = contracts.load_contract()             # schemas of Shared/Contracts/Schemas, cached
  problems = contracts.event_problems(event)       # [] when valid, else printable lines
  problems = contracts.message_problems(body)      # the same for raw message bytes (strict JSON)
  document = contracts.load_asyncapi()             # asyncapi.yaml as a dict
  contracts.exchanges(document)                    # ['identity.events', ...] of its public channels
  contracts.is_private(channel), is_retired(channel)  # a channel's x-syllabus-visibility / -status

AsyncAPI extensions it understands, beside x-syllabus-service and x-syllabus-queue on operations:
a channel's `x-syllabus-visibility` (`public`, the default: on `<service>.events`, archived, open
to subscribers; `private`: on `<service>.private`, bound only by the consumers of its receive
operations) and `x-syllabus-status: retired` (no longer published: no send or receive operation,
its data schema `deprecated: true`, its successor in `x-syllabus-superseded-by`).
"""

import argparse
import contextlib
import copy
import datetime
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urldefrag

DEBIAN_PYTHON = "/usr/bin/python3"

if (
    __name__ == "__main__"
    and os.path.exists(DEBIAN_PYTHON)
    and os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON)
):
    # Always the same interpreter and jsonschema, whichever `python3` the caller found first.
    os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, os.path.abspath(__file__), *sys.argv[1:]])

try:
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker, RefResolver, validators
    from jsonschema.exceptions import RefResolutionError, SchemaError, ValidationError
except ImportError:  # pragma: no cover - environment problem
    if __name__ != "__main__":
        raise  # an importer reports it itself
    sys.stderr.write(
        "contracts.py needs python3-jsonschema: run it with /usr/bin/python3 "
        "(apt-get install -y python3-jsonschema python3-yaml)\n"
    )
    sys.exit(2)

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "Shared" / "Contracts"
SCHEMAS = CONTRACTS / "Schemas"
SNAPSHOT = CONTRACTS / "Snapshot"
EXAMPLES = CONTRACTS / "Examples"
ASYNCAPI = CONTRACTS / "asyncapi.yaml"

ENVELOPE_FILE = "cloudevent.json"
TYPE_PREFIX = "org.syllabus."
SCHEMA_URN = "urn:syllabus:schema:"
SOURCE_PREFIX = "/syllabus/"
VISIBILITY = "x-syllabus-visibility"  # on a channel: "public" (default) or "private"
STATUS = "x-syllabus-status"  # on a channel: absent, or "retired"
SUPERSEDED_BY = "x-syllabus-superseded-by"  # on a retired channel: its successor's address
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
ROUTING_KEY = re.compile(r"[a-z][a-z0-9]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.v[1-9][0-9]*", re.ASCII)


class ContractError(Exception):
    """A problem that stops a command (missing file, unreadable JSON ...)."""


# --------------------------------------------------------------------------- JSON / paths


def _no_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def parse_json(text):
    """Strict JSON: duplicate keys and NaN/Infinity are errors."""
    return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)


def load_json(path):
    try:
        return parse_json(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ContractError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ContractError(f"{path}: invalid JSON: {exc}") from exc


def pointer(parts):
    """RFC 6901 JSON pointer of a sequence of keys/indexes ('' for the root)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def display(path):
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def schema_files(directory):
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix == ".json" and p.is_file())


def routing_key_of(event_type):
    if isinstance(event_type, str) and event_type.startswith(TYPE_PREFIX):
        key = event_type[len(TYPE_PREFIX):]
        if ROUTING_KEY.fullmatch(key):
            return key
    return None


# --------------------------------------------------------------------------- formats and patterns
#
# jsonschema 4.10 asserts `format` only with a FormatChecker, and its checkers depend on optional
# packages: without rfc3339-validator it does not check date-time/time at all, its email check is
# only "contains @", and its uuid check accepts non-canonical spellings. The checks below replace
# those four; the rest (uri via rfc3987, ipv4, date ...) come from jsonschema.

_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))",
    re.ASCII,
)
_TIME = re.compile(
    r"([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))", re.ASCII
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", re.ASCII)
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+", re.ASCII)
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", re.ASCII)


def _valid_clock(hour, minute, second, sign, off_h, off_m):
    if hour > 23 or minute > 59 or second > 60:
        return False
    if sign is not None and (int(off_h) > 23 or int(off_m) > 59):
        return False
    if second == 60:  # a leap second exists only at 23:59:60 UTC
        offset = 0 if sign is None else (int(off_h) * 60 + int(off_m)) * (1 if sign == "+" else -1)
        return (hour * 60 + minute - offset) % 1440 == 23 * 60 + 59
    return True


def is_date_time(instance):
    """RFC 3339 date-time (section 5.6)."""
    if not isinstance(instance, str):
        return True
    m = _DATE_TIME.fullmatch(instance)
    if not m:
        return False
    try:
        datetime.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return False
    return _valid_clock(int(m[4]), int(m[5]), int(m[6]), m[8], m[9], m[10])


def is_time(instance):
    if not isinstance(instance, str):
        return True
    m = _TIME.fullmatch(instance)
    return bool(m) and _valid_clock(int(m[1]), int(m[2]), int(m[3]), m[5], m[6], m[7])


def is_uuid(instance):
    return not isinstance(instance, str) or bool(_UUID.fullmatch(instance))


def _is_email(instance, international):
    if not isinstance(instance, str):
        return True
    if not international and not instance.isascii():
        return False
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in instance):
        return False
    local, at, domain = instance.rpartition("@")
    if not at or not local or not domain or len(local.encode("utf-8")) > 64:
        return False
    if len(local) >= 2 and local[0] == '"' and local[-1] == '"':
        pass  # quoted local part
    else:
        for atom in local.split("."):
            if not atom:
                return False  # leading, trailing or doubled dot
            if not _ATEXT.fullmatch(atom) and not (international and not atom.isascii() and "@" not in atom):
                return False
    if domain.startswith("[") and domain.endswith("]"):
        return len(domain) > 2  # address literal
    if len(domain.encode("utf-8")) > 253:
        return False
    for label in domain.split("."):
        if international and not label.isascii():
            if not label or label.startswith("-") or label.endswith("-"):
                return False
        elif not _LABEL.fullmatch(label):
            return False
    return True


def format_checker():
    base = getattr(Draft202012Validator, "FORMAT_CHECKER", None) or jsonschema.draft202012_format_checker
    checker = FormatChecker(formats=())
    checker.checkers.update(base.checkers)
    checker.checks("date-time")(is_date_time)
    checker.checks("time")(is_time)
    checker.checks("uuid")(is_uuid)
    checker.checks("email")(lambda v: _is_email(v, False))
    checker.checks("idn-email")(lambda v: _is_email(v, True))
    return checker


_REGEX_CACHE = {}


def ecma_regex(pattern):
    """Compile a JSON Schema (ECMA-262) pattern for Python: `$` is end of input only (Python's
    `$` also matches before a final newline) and \\d, \\w are ASCII."""
    compiled = _REGEX_CACHE.get(pattern)
    if compiled is None:
        out, in_class, escaped = [], False, False
        for ch in pattern:
            if escaped:
                out.append(ch)
                escaped = False
            elif ch == "\\":
                out.append(ch)
                escaped = True
            elif in_class:
                out.append(ch)
                in_class = ch != "]"
            elif ch == "[":
                out.append(ch)
                in_class = True
            elif ch == "$":
                out.append(r"\Z")
            else:
                out.append(ch)
        compiled = _REGEX_CACHE[pattern] = re.compile("".join(out), re.ASCII)
    return compiled


def _pattern_keyword(validator, patrn, instance, schema):
    if validator.is_type(instance, "string") and not ecma_regex(patrn).search(instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


Validator = validators.extend(Draft202012Validator, {"pattern": _pattern_keyword})


# --------------------------------------------------------------------------- the contract


class Contract:
    """The schemas of one directory: the envelope plus one data schema per routing key."""

    def __init__(self, schemas_dir=SCHEMAS):
        self.dir = Path(schemas_dir)
        envelope_path = self.dir / ENVELOPE_FILE
        if not envelope_path.is_file():
            raise ContractError(f"{display(envelope_path)}: envelope schema not found")
        self.formats = format_checker()
        self.schemas = {}  # file name -> schema
        self.broken = {}  # file name -> error text
        for path in schema_files(self.dir):
            try:
                schema = load_json(path)
                Validator.check_schema(schema)
                self.schemas[path.name] = schema
            except ContractError as exc:
                self.broken[path.name] = str(exc)
            except SchemaError as exc:
                self.broken[path.name] = f"{display(path)}: not a valid JSON Schema 2020-12: {exc.message}"
        if ENVELOPE_FILE in self.broken:
            raise ContractError(self.broken[ENVELOPE_FILE])
        self.store = {}
        for name, schema in self.schemas.items():
            self.store[(self.dir / name).resolve().as_uri()] = schema
            if isinstance(schema.get("$id"), str):
                self.store[schema["$id"]] = schema
        self.envelope = self.validator(self.schemas[ENVELOPE_FILE])
        self._validators = {}

    def _refuse(self, uri):
        raise RefResolutionError(f"reference {uri!r} is not a schema of {display(self.dir)}")

    def validator(self, schema, base_uri=None):
        if base_uri is None:
            base_uri = schema.get("$id", "") if isinstance(schema, dict) else ""
        handlers = {scheme: self._refuse for scheme in ("file", "http", "https", "urn")}
        resolver = RefResolver(base_uri, schema, store=dict(self.store), handlers=handlers)
        return Validator(schema, resolver=resolver, format_checker=self.formats)

    def data_file(self, key):
        return self.dir / f"{key}.json"

    def data_validator(self, key):
        """(schema, validator) for a routing key; ContractError when there is none."""
        name = f"{key}.json"
        if name in self.broken:
            raise ContractError(self.broken[name])
        if name not in self.schemas:
            raise ContractError(f"no data schema {display(self.data_file(key))}")
        if key not in self._validators:
            schema = self.schemas[name]
            self._validators[key] = (schema, self.validator(schema))
        return self._validators[key]

    def check_event(self, event, where):
        """Every problem of one event, as printable lines."""
        if not isinstance(event, dict):
            return [f"{where}: an event must be a JSON object, got {type(event).__name__}"]
        problems = []
        for err in sorted(self.envelope.iter_errors(event), key=lambda e: [str(p) for p in e.absolute_path]):
            problems.append(f"{where}: {pointer(err.absolute_path) or '(envelope)'}: {err.message}")
        subject, partition = event.get("subject"), event.get("partitionkey")
        if isinstance(subject, str) and isinstance(partition, str) and subject != partition:
            problems.append(f"{where}: /partitionkey: {partition!r} differs from subject {subject!r} (both are the aggregate id)")
        key = routing_key_of(event.get("type"))
        if key is None:
            return problems  # the envelope already reported the bad or missing type
        service = key.split(".", 1)[0]
        source = event.get("source")
        if isinstance(source, str) and source != SOURCE_PREFIX + service:
            problems.append(f"{where}: /source: {source!r} does not match the type's service {service!r} (expected '{SOURCE_PREFIX}{service}')")
        try:
            schema, data_validator = self.data_validator(key)
        except ContractError as exc:
            problems.append(f"{where}: /type: {event['type']!r}: {exc}")
            return problems
        schema_id = schema.get("$id")
        if schema_id != SCHEMA_URN + key:
            problems.append(f"{where}: {display(self.data_file(key))}: $id is {schema_id!r}, expected {SCHEMA_URN + key!r}")
        dataschema = event.get("dataschema")
        if dataschema != schema_id:
            problems.append(f"{where}: /dataschema: {dataschema!r} does not match the data schema's $id {schema_id!r}")
        data = event.get("data")
        if isinstance(data, dict):
            for err in sorted(data_validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
                problems.append(f"{where}: /data{pointer(err.absolute_path)}: {err.message}")
        return problems


# --------------------------------------------------------------------------- importable API

_CONTRACTS = {}


def load_contract(schemas_dir=SCHEMAS):
    """The Contract of a schema directory, loaded once per process."""
    key = Path(schemas_dir).resolve()
    if key not in _CONTRACTS:
        _CONTRACTS[key] = Contract(key)
    return _CONTRACTS[key]


def event_problems(event, where="event", schemas_dir=SCHEMAS):
    """Every problem of one decoded event (envelope and data), as printable lines; [] if valid."""
    return load_contract(schemas_dir).check_event(event, where)


def message_problems(body, where="message", schemas_dir=SCHEMAS):
    """(event or None, problems) for a message body (bytes or str) holding one event."""
    try:
        if isinstance(body, (bytes, bytearray)):
            body = bytes(body).decode("utf-8")
        event = parse_json(body)
    except (UnicodeDecodeError, ValueError) as exc:
        return None, [f"{where}: invalid JSON: {exc}"]
    return event, event_problems(event, where, schemas_dir)


def load_asyncapi(file=ASYNCAPI):
    """The AsyncAPI document as a dict."""
    path = Path(file)
    try:
        document = _yaml().safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ContractError(f"{display(path)}: cannot read: {exc.strerror or exc}") from exc
    except _yaml().YAMLError as exc:
        raise ContractError(f"{display(path)}: invalid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ContractError(f"{display(path)}: not a YAML mapping")
    return document


def is_private(channel):
    """True for a channel marked `x-syllabus-visibility: private` (on `<service>.private`)."""
    return isinstance(channel, dict) and channel.get(VISIBILITY) == "private"


def is_retired(channel):
    """True for a channel marked `x-syllabus-status: retired` (a type no longer published)."""
    return isinstance(channel, dict) and channel.get(STATUS) == "retired"


def exchange_for(service, private=False):
    """The exchange a service publishes to: `<service>.events`, or `<service>.private`."""
    return f"{service}.private" if private else f"{service}.events"


def exchanges(document, include_private=False):
    """The exchanges the document's channels publish to, sorted, without duplicates: the public
    ones only (those a subscriber may bind) unless include_private."""
    names = set()
    for channel in (document.get("channels") or {}).values():
        if is_private(channel) and not include_private:
            continue
        exchange = ((((channel or {}).get("bindings") or {}).get("amqp") or {}).get("exchange") or {}).get("name")
        if isinstance(exchange, str) and exchange:
            names.add(exchange)
    return sorted(names)


def _read_events(label, text):
    """[(where, event)] from one input holding an event or an array of events."""
    try:
        value = parse_json(text)
    except ValueError as exc:
        raise ContractError(f"{label}: invalid JSON: {exc}") from exc
    if isinstance(value, list):
        return [(f"{label}[{i}]", event) for i, event in enumerate(value)]
    return [(label, value)]


def cmd_validate(args):
    contract = Contract(args.schemas)
    events, problems = [], []
    sources = args.files or ["-"]
    for name in sources:
        try:
            if name == "-":
                events += _read_events("<stdin>", sys.stdin.read())
            else:
                try:
                    text = Path(name).read_text(encoding="utf-8")
                except OSError as exc:
                    raise ContractError(f"{name}: cannot read: {exc.strerror or exc}") from exc
                events += _read_events(name, text)
        except ContractError as exc:
            problems.append(str(exc))
    invalid = 0
    for where, event in events:
        found = contract.check_event(event, where)
        invalid += bool(found)
        problems += found
    if not events and not problems:
        problems.append("no events to validate")
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        print(f"{invalid} of {len(events)} events invalid" + ("" if invalid or not events else " (input errors above)"), file=sys.stderr)
        return 1
    print(f"{len(events)} valid")
    return 0


# --------------------------------------------------------------------------- schema walking

SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
SCHEMA_SINGLE = (
    "items", "additionalItems", "additionalProperties", "unevaluatedItems", "unevaluatedProperties",
    "contains", "propertyNames", "not", "if", "then", "else", "contentSchema",
)
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
# Keywords of 2020-12 that draft-07 (the AsyncAPI schema format) does not know.
NOT_IN_DRAFT_07 = {
    "prefixItems", "$dynamicRef", "$dynamicAnchor", "$anchor", "$recursiveRef", "$recursiveAnchor",
    "$vocabulary", "dependentRequired", "dependentSchemas", "unevaluatedItems",
    "unevaluatedProperties", "minContains", "maxContains", "contentSchema",
}
ANNOTATIONS = {"$comment", "title", "description", "examples", "default", "deprecated", "readOnly", "writeOnly"}


def subschemas(schema, path=()):
    """(path, subschema) for a schema and every schema nested in it."""
    yield path, schema
    if not isinstance(schema, dict):
        return
    for key in SCHEMA_MAPS:
        if isinstance(schema.get(key), dict):
            for name, sub in schema[key].items():
                yield from subschemas(sub, path + (key, name))
    for key in SCHEMA_SINGLE:
        if isinstance(schema.get(key), (dict, bool)):
            yield from subschemas(schema[key], path + (key,))
    for key in SCHEMA_LISTS:
        if isinstance(schema.get(key), list):
            for i, sub in enumerate(schema[key]):
                yield from subschemas(sub, path + (key, i))


# --------------------------------------------------------------------------- compatibility

UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties", "maxContains")
LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties", "minContains")
ZERO_LOWER_BOUNDS = {"minLength", "minItems", "minProperties"}  # a bound of 0 restricts nothing


def _types(schema):
    t = schema.get("type")
    if t is None:
        return None
    return frozenset([t] if isinstance(t, str) else t)


def _show_types(types):
    items = sorted(types)
    return repr(items[0]) if len(items) == 1 else "[" + ", ".join(repr(t) for t in items) + "]"


def compare(old, new, path, out):
    """Append (path, message) to `out` for every change from `old` to `new` that breaks events
    valid under `old` or consumers relying on `old`."""
    if old is False:
        return  # nothing was valid before
    if new is False:
        out.append((path, "schema became false (rejects everything)"))
        return
    old = {} if old is True else old
    new = {} if new is True else new
    if not isinstance(old, dict) or not isinstance(new, dict):
        if old != new:
            out.append((path, "schema changed"))
        return

    def problem(keyword, message):
        out.append((path + (keyword,), message))

    if old.get("$id") != new.get("$id") and "$id" in old:
        problem("$id", f"$id changed from {old.get('$id')!r} to {new.get('$id')!r}")
    if old.get("$ref") != new.get("$ref") and "$ref" in new:
        problem("$ref", f"$ref changed from {old.get('$ref')!r} to {new['$ref']!r}" if "$ref" in old else f"$ref added ({new['$ref']!r})")

    old_types, new_types = _types(old), _types(new)
    if old_types != new_types:
        if old_types is None:
            problem("type", f"type added: narrowed to {_show_types(new_types)}")
        elif new_types is None:
            problem("type", f"type removed (was {_show_types(old_types)})")
        elif new_types < old_types:
            problem("type", f"type narrowed from {_show_types(old_types)} to {_show_types(new_types)}")
        else:
            problem("type", f"type changed from {_show_types(old_types)} to {_show_types(new_types)}")

    if "enum" in new:
        if "enum" not in old:
            problem("enum", "enum added (narrows the accepted values)")
        else:
            removed = [v for v in old["enum"] if v not in new["enum"]]
            if removed:
                problem("enum", "enum value removed: " + ", ".join(json.dumps(v) for v in removed))
    if "const" in new and ("const" not in old or old["const"] != new["const"]):
        if "const" in old:
            problem("const", f"const changed from {json.dumps(old['const'])} to {json.dumps(new['const'])}")
        else:
            problem("const", f"const added ({json.dumps(new['const'])})")

    for keyword in UPPER_BOUNDS:
        if keyword in new:
            if keyword not in old:
                problem(keyword, f"{keyword} added ({new[keyword]})")
            elif new[keyword] < old[keyword]:
                problem(keyword, f"{keyword} lowered from {old[keyword]} to {new[keyword]}")
    for keyword in LOWER_BOUNDS:
        if keyword in new:
            if keyword not in old:
                if not (keyword in ZERO_LOWER_BOUNDS and new[keyword] == 0):
                    problem(keyword, f"{keyword} added ({new[keyword]})")
            elif new[keyword] > old[keyword]:
                problem(keyword, f"{keyword} raised from {old[keyword]} to {new[keyword]}")
    if "multipleOf" in new and new.get("multipleOf") != old.get("multipleOf"):
        if "multipleOf" not in old or (old["multipleOf"] / new["multipleOf"]) % 1 != 0:
            problem("multipleOf", f"multipleOf changed from {old.get('multipleOf')} to {new['multipleOf']}")
    if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
        problem("uniqueItems", "uniqueItems added")

    for keyword in ("pattern", "format"):
        if keyword in new and old.get(keyword) != new[keyword]:
            if keyword in old:
                problem(keyword, f"{keyword} changed from {old[keyword]!r} to {new[keyword]!r}")
            else:
                problem(keyword, f"{keyword} added ({new[keyword]!r})")

    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    for name in sorted(new_required - old_required):
        problem("required", f"new required property {name!r}")
    for name in sorted(old_required - new_required):
        problem("required", f"property {name!r} is no longer required")
    for name, names in new.get("dependentRequired", {}).items():
        added = set(names) - set(old.get("dependentRequired", {}).get(name, ()))
        if added:
            out.append((path + ("dependentRequired", name), "dependentRequired added: " + ", ".join(sorted(added))))

    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, sub in old_props.items():
        if name not in new_props:
            out.append((path + ("properties", name), f"property {name!r} removed"))
        else:
            compare(sub, new_props[name], path + ("properties", name), out)
    for key in ("patternProperties", "dependentSchemas"):
        for name, sub in new.get(key, {}).items():
            compare(old.get(key, {}).get(name, {}), sub, path + (key, name), out)
    for key in ("$defs", "definitions"):
        old_defs, new_defs = old.get(key, {}), new.get(key, {})
        for name, sub in old_defs.items():
            if name not in new_defs:
                out.append((path + (key, name), f"definition {name!r} removed"))
            else:
                compare(sub, new_defs[name], path + (key, name), out)

    for key in ("additionalProperties", "unevaluatedProperties"):
        if key not in old and key not in new:
            continue
        old_value, new_value = old.get(key, True), new.get(key, True)
        if new_value is False and old_value is not False:
            problem(key, f"{key} changed from {json.dumps(old_value)} to false")
        elif new_value is not False and old_value is not False:
            compare(old_value, new_value, path + (key,), out)

    for key in ("items", "additionalItems", "unevaluatedItems", "contains", "propertyNames", "contentSchema"):
        if key in new:
            compare(old.get(key, True), new[key], path + (key,), out)
    for key in ("not", "if", "then", "else"):
        if key in new and old.get(key) != new[key]:
            problem(key, f"{key} changed")

    for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
        old_list, new_list = old.get(key, []), new.get(key, [])
        for i, sub in enumerate(old_list):
            if i >= len(new_list):
                out.append((path + (key, i), f"{key}[{i}] removed"))
            else:
                compare(sub, new_list[i], path + (key, i), out)
        if key in ("allOf", "oneOf", "prefixItems"):
            for i in range(len(old_list), len(new_list)):
                out.append((path + (key, i), f"{key}[{i}] added (narrows the accepted values)"))


def compat_problems(snapshot_dir, current_dir):
    """(problems, compared, new_files): problems as printable lines."""
    snapshot_dir, current_dir = Path(snapshot_dir), Path(current_dir)
    if not snapshot_dir.is_dir():
        return [f"{display(snapshot_dir)}: no snapshot (run `scripts/contracts.py snapshot`)"], 0, []
    if not current_dir.is_dir():
        return [f"{display(current_dir)}: no schema directory"], 0, []
    problems, compared = [], 0
    current = {p.name: p for p in schema_files(current_dir)}
    current_schemas = {}
    for name, path in current.items():
        try:
            schema = load_json(path)
            Validator.check_schema(schema)
            current_schemas[name] = schema
        except ContractError as exc:
            problems.append(str(exc))
        except SchemaError as exc:
            problems.append(f"{display(path)}: not a valid JSON Schema 2020-12: {exc.message}")
    snapshot = schema_files(snapshot_dir)
    for old_path in snapshot:
        name = old_path.name
        if name not in current:
            problems.append(f"{name}#: schema file missing from {display(current_dir)} (it is in the snapshot)")
            continue
        if name not in current_schemas:
            continue  # already reported
        old = load_json(old_path)
        found = []
        compare(old, current_schemas[name], (), found)
        compared += 1
        problems += [f"{name}#{pointer(p)}: {message}" for p, message in found]
    snapshot_names = {p.name for p in snapshot}
    new_files = sorted(name for name in current if name not in snapshot_names)
    return problems, compared, new_files


def cmd_check_compat(args):
    problems, compared, new_files = compat_problems(args.snapshot, args.current)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        print(f"{len(problems)} breaking change(s) against {display(args.snapshot)}: within a major "
              "version only additive changes are allowed; publish a new `.v<major+1>` type instead",
              file=sys.stderr)
        return 1
    print(f"compatible: {compared} schema(s) match the snapshot additively")
    for name in new_files:
        print(f"new schema not yet in the snapshot: {name} (run `scripts/contracts.py snapshot`)")
    return 0


def cmd_snapshot(args):
    snapshot_dir, current_dir = Path(args.snapshot), Path(args.current)
    if not schema_files(current_dir):
        print(f"{display(current_dir)}: no schemas", file=sys.stderr)
        return 1
    if snapshot_dir.is_dir():
        problems, _, _ = compat_problems(snapshot_dir, current_dir)
        if problems:
            for line in problems:
                print(line, file=sys.stderr)
            if not args.force:
                print("refusing to overwrite the snapshot with breaking changes (--force to accept them)", file=sys.stderr)
                return 1
            print("--force: recording the breaking changes above", file=sys.stderr)
    else:
        # parse everything before creating the directory
        for path in schema_files(current_dir):
            load_json(path)
    snapshot_dir.mkdir(parents=True, exist_ok=True)
    current = schema_files(current_dir)
    names = {p.name for p in current}
    for stale in schema_files(snapshot_dir):
        if stale.name not in names:
            stale.unlink()
    for path in current:
        shutil.copyfile(path, snapshot_dir / path.name)
    print(f"snapshot: {len(current)} schema(s) copied to {display(snapshot_dir)}")
    return 0


# --------------------------------------------------------------------------- AsyncAPI


def _yaml():
    try:
        import yaml
    except ImportError as exc:
        raise ContractError("check-asyncapi needs python3-yaml (apt-get install -y python3-yaml)") from exc
    return yaml


def _walk(value, path=()):
    yield path, value
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _walk(sub, path + (key,))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _walk(sub, path + (i,))


def _refs(document, skip=("examples", "const", "enum", "default")):
    """(path, $ref) of a document, not looking inside example or literal values."""
    def walk(value, path):
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str):
                yield path + ("$ref",), ref
            for key, sub in value.items():
                if key not in skip:
                    yield from walk(sub, path + (key,))
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                yield from walk(sub, path + (i,))
    return walk(document, ())


def _follow_pointer(document, fragment):
    if fragment in ("", "/"):
        return document
    if not fragment.startswith("/"):
        raise KeyError(f"#{fragment} is not a JSON pointer")
    target = document
    for part in unquote(fragment)[1:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(target, list):
            target = target[int(part)]
        elif isinstance(target, dict):
            target = target[part]
        else:
            raise KeyError(part)
    return target


class AsyncApiCheck:
    def __init__(self, file, schemas_dir):
        self.file = Path(file).resolve()
        self.schemas_dir = Path(schemas_dir).resolve()
        self.problems = []
        self.documents = {}

    def fail(self, message):
        self.problems.append(message)

    def load(self, path):
        path = Path(path).resolve()
        if path not in self.documents:
            if path.suffix in (".yaml", ".yml"):
                try:
                    self.documents[path] = _yaml().safe_load(path.read_text(encoding="utf-8"))
                except OSError as exc:
                    raise ContractError(f"{display(path)}: cannot read: {exc.strerror or exc}") from exc
                except _yaml().YAMLError as exc:
                    raise ContractError(f"{display(path)}: invalid YAML: {exc}") from exc
            else:
                self.documents[path] = load_json(path)
        return self.documents[path]

    def resolve(self, ref, base_file):
        """(file, target) of a $ref relative to base_file; raises KeyError/ContractError."""
        if ref.startswith(SCHEMA_URN):
            url, fragment = urldefrag(ref)
            target_file = self.schemas_dir / f"{url[len(SCHEMA_URN):]}.json"
        else:
            url, fragment = urldefrag(ref)
            if url and (":" in url.split("/", 1)[0]):
                raise KeyError(f"external reference {url!r} is not allowed")
            target_file = Path(base_file).parent / unquote(url) if url else Path(base_file)
        if not target_file.is_file():
            raise KeyError(f"file {display(target_file)} does not exist")
        return target_file.resolve(), _follow_pointer(self.load(target_file), fragment)

    def check_refs(self, start):
        seen, queue = set(), [Path(start).resolve()]
        while queue:
            current = queue.pop()
            if current in seen:
                continue
            seen.add(current)
            try:
                document = self.load(current)
            except ContractError as exc:
                self.fail(str(exc))
                continue
            for path, ref in _refs(document):
                try:
                    target_file, _ = self.resolve(ref, current)
                except ContractError as exc:
                    self.fail(f"{display(current)}#{pointer(path)}: $ref {ref!r}: {exc}")
                    continue
                except (KeyError, IndexError, ValueError) as exc:
                    self.fail(f"{display(current)}#{pointer(path)}: $ref {ref!r} does not resolve: {exc}")
                    continue
                if target_file != current:
                    queue.append(target_file)

    def deref(self, value, where):
        """Follow $ref (within asyncapi.yaml or to a file) until a non-reference value."""
        base, hops = self.file, 0
        while isinstance(value, dict) and isinstance(value.get("$ref"), str) and hops < 20:
            try:
                base, value = self.resolve(value["$ref"], base)
            except (KeyError, IndexError, ValueError, ContractError):
                return None  # reported by check_refs
            hops += 1
        return value

    def payload_refs(self, payload):
        """Schema files a message payload references (resolved paths)."""
        found = set()
        for _, ref in _refs(payload):
            try:
                target_file, _ = self.resolve(ref, self.file)
            except (KeyError, IndexError, ValueError, ContractError):
                continue
            found.add(target_file)
        return found

    def run(self):
        try:
            doc = self.load(self.file)
        except ContractError as exc:
            self.fail(str(exc))
            return None
        if not isinstance(doc, dict):
            self.fail(f"{display(self.file)}: not a YAML mapping")
            return None
        for path, value in _walk(doc):
            if not isinstance(value, (dict, list, str, int, float, bool, type(None))):
                self.fail(f"#{pointer(path)}: {type(value).__name__} is not a JSON value (quote it in YAML)")
        if doc.get("asyncapi") != "3.0.0":
            self.fail(f"#/asyncapi: expected '3.0.0', found {doc.get('asyncapi')!r}")
        info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
        for key in ("title", "version"):
            if not isinstance(info.get(key), str) or not info.get(key):
                self.fail(f"#/info/{key}: missing")
        self.check_refs(self.file)

        try:
            contract = Contract(self.schemas_dir)
        except ContractError as exc:
            self.fail(str(exc))
            return None
        for name, text in contract.broken.items():
            self.fail(text)
        self.lint_schemas(contract)

        channels = doc.get("channels") if isinstance(doc.get("channels"), dict) else {}
        operations = doc.get("operations") if isinstance(doc.get("operations"), dict) else {}
        if not channels:
            self.fail("#/channels: no channels")
        default_content_type = doc.get("defaultContentType")

        by_address, message_count = {}, 0
        checked_messages = set()
        for channel_id, raw in channels.items():
            where = f"#/channels/{pointer([channel_id])[1:]}"
            channel = self.deref(raw, where)
            if not isinstance(channel, dict):
                self.fail(f"{where}: not a channel object")
                continue
            address = channel.get("address")
            key = address if isinstance(address, str) and ROUTING_KEY.fullmatch(address) else None
            if key is None:
                self.fail(f"{where}/address: {address!r} is not a routing key <service>.<subject>.<action>.v<major>")
                continue
            if address in by_address:
                self.fail(f"{where}/address: {address!r} is also the address of {by_address[address]['id']!r}")
            service = key.split(".", 1)[0]
            visibility = channel.get(VISIBILITY, "public")
            if visibility not in ("public", "private"):
                self.fail(f"{where}/{VISIBILITY}: expected 'public' or 'private', found {visibility!r}")
            status = channel.get(STATUS)
            if status is not None and status != "retired":
                self.fail(f"{where}/{STATUS}: expected 'retired' or nothing, found {status!r}")
            exchange_name = exchange_for(service, visibility == "private")
            by_address[address] = {"id": channel_id, "service": service, "send": [], "receive": [],
                                   "exchange": exchange_name, "private": visibility == "private",
                                   "retired": status == "retired", "superseded_by": channel.get(SUPERSEDED_BY)}
            amqp = ((channel.get("bindings") or {}).get("amqp")) or {}
            exchange = amqp.get("exchange") or {}
            expected = {"name": exchange_name, "type": "topic", "durable": True}
            if amqp.get("is", "routingKey") != "routingKey":
                self.fail(f"{where}/bindings/amqp/is: expected 'routingKey'")
            for field, value in expected.items():
                if exchange.get(field) != value:
                    self.fail(f"{where}/bindings/amqp/exchange/{field}: expected {value!r}, found {exchange.get(field)!r}")
            schema_file = (self.schemas_dir / f"{key}.json").resolve()
            if not schema_file.is_file():
                self.fail(f"{where}: no data schema {display(schema_file)} for this routing key")
            messages = channel.get("messages") if isinstance(channel.get("messages"), dict) else {}
            if not messages:
                self.fail(f"{where}/messages: no messages")
            carries_schema = False
            for message_id, raw_message in messages.items():
                mwhere = f"{where}/messages/{pointer([message_id])[1:]}"
                message = self.deref(raw_message, mwhere)
                if not isinstance(message, dict):
                    self.fail(f"{mwhere}: not a message object")
                    continue
                message_count += 1
                payload = message.get("payload")
                if schema_file in self.payload_refs(payload):
                    carries_schema = True
                if id(message) not in checked_messages:
                    checked_messages.add(id(message))
                    self.check_message(contract, message, mwhere, key, default_content_type)
            if not carries_schema:
                self.fail(f"{where}: no message whose payload references {display(schema_file)}")

        for schema_name in sorted(contract.schemas):
            if schema_name == ENVELOPE_FILE:
                continue
            key = schema_name[: -len(".json")]
            if key not in by_address:
                self.fail(f"{display(self.schemas_dir / schema_name)}: no channel with address {key!r} (and message) in {display(self.file)}")
                continue
            deprecated = contract.schemas[schema_name].get("deprecated") is True
            if deprecated != by_address[key]["retired"]:
                self.fail(f"{display(self.schemas_dir / schema_name)}#/deprecated: {'true' if deprecated else 'absent'}, but channel "
                          f"{by_address[key]['id']!r} is {'' if by_address[key]['retired'] else 'not '}marked {STATUS}: retired "
                          "(a retired type's schema is deprecated, and only a retired type's)")

        for address, info_ in sorted(by_address.items()):
            where = f"#/channels/{pointer([info_['id']])[1:]}"
            successor = info_["superseded_by"]
            if successor is None:
                continue
            if not info_["retired"]:
                self.fail(f"{where}/{SUPERSEDED_BY}: only a retired channel names a successor")
            elif successor not in by_address or by_address[successor]["retired"]:
                self.fail(f"{where}/{SUPERSEDED_BY}: {successor!r} is not the address of a current channel")

        sends = receives = 0
        for operation_id, raw in operations.items():
            where = f"#/operations/{pointer([operation_id])[1:]}"
            operation = self.deref(raw, where)
            if not isinstance(operation, dict):
                self.fail(f"{where}: not an operation object")
                continue
            action = operation.get("action")
            if action not in ("send", "receive"):
                self.fail(f"{where}/action: expected 'send' or 'receive', found {action!r}")
                continue
            channel_value = operation.get("channel")
            channel_ref = channel_value.get("$ref", "") if isinstance(channel_value, dict) else ""
            if not (isinstance(channel_ref, str) and channel_ref.startswith("#/channels/")):
                self.fail(f"{where}/channel: must be a $ref to '#/channels/<id>'")
                continue
            channel_id = unquote(channel_ref[len("#/channels/"):]).replace("~1", "/").replace("~0", "~")
            target = next((c for c in by_address.values() if c["id"] == channel_id), None)
            if target is None:
                self.fail(f"{where}/channel: {channel_ref!r} is not a checked channel")
                continue
            for i, message_ref in enumerate(operation.get("messages") or []):
                ref = message_ref.get("$ref", "") if isinstance(message_ref, dict) else ""
                if not ref.startswith(channel_ref + "/messages/"):
                    self.fail(f"{where}/messages/{i}: must reference a message of its channel ({channel_ref}/messages/...)")
            service = operation.get("x-syllabus-service")
            if not isinstance(service, str) or not service:
                self.fail(f"{where}/x-syllabus-service: missing")
                continue
            if target["retired"]:
                self.fail(f"{where}: {channel_id!r} is retired (no longer published), so it has no {action} operation")
            if action == "send":
                sends += 1
                if service != target["service"]:
                    self.fail(f"{where}: {service!r} sends on {channel_id!r}, but only {target['service']!r} publishes to {target['exchange']}")
            else:
                receives += 1
                queue = operation.get("x-syllabus-queue")
                if queue != service:
                    self.fail(f"{where}/x-syllabus-queue: expected the consumer's queue {service!r}, found {queue!r}")
            target[action].append(service)

        for address, info_ in sorted(by_address.items()):
            if not info_["send"] and not info_["retired"]:
                self.fail(f"#/channels/{pointer([info_['id']])[1:]}: no send operation")
            if info_["private"] and not info_["receive"] and not info_["retired"]:
                self.fail(f"#/channels/{pointer([info_['id']])[1:]}: private, but no receive operation names the consumer it is for")
        return {"doc": doc, "channels": by_address, "messages": message_count, "sends": sends, "receives": receives,
                "schemas": len([n for n in contract.schemas if n != ENVELOPE_FILE])}

    def check_message(self, contract, message, where, key, default_content_type):
        content_type = message.get("contentType", default_content_type)
        if content_type != CLOUDEVENTS_CONTENT_TYPE:
            self.fail(f"{where}/contentType: expected {CLOUDEVENTS_CONTENT_TYPE!r}, found {content_type!r}")
        payload = message.get("payload")
        if not isinstance(payload, dict):
            self.fail(f"{where}/payload: missing")
            return
        envelope_file = (self.schemas_dir / ENVELOPE_FILE).resolve()
        if envelope_file not in self.payload_refs(payload):
            self.fail(f"{where}/payload: does not reference {display(envelope_file)}")
        examples = [e for e in (message.get("examples") or []) if isinstance(e, dict) and "payload" in e]
        if not examples:
            self.fail(f"{where}/examples: no example payload")
        try:
            payload_validator = contract.validator(self.with_schema_ids(contract, payload))
            for i, example in enumerate(examples):
                ewhere = f"{where}/examples/{i}/payload"
                event = example["payload"]
                for line in contract.check_event(event, ewhere):
                    self.fail(line)
                for err in payload_validator.iter_errors(event):
                    self.fail(f"{ewhere}{pointer(err.absolute_path)}: message payload schema: {err.message}")
                if isinstance(event, dict) and event.get("type") != TYPE_PREFIX + key:
                    self.fail(f"{ewhere}/type: {event.get('type')!r} is not {TYPE_PREFIX + key!r}")
        except (RefResolutionError, SchemaError) as exc:
            self.fail(f"{where}/payload: {getattr(exc, 'message', exc)}")

    def with_schema_ids(self, contract, payload):
        """The payload schema with each file reference replaced by the referenced schema's $id."""
        payload = copy.deepcopy(payload)
        for path, ref in list(_refs(payload)):
            url, fragment = urldefrag(ref)
            if not url or ref.startswith(SCHEMA_URN):
                continue
            try:
                target_file, _ = self.resolve(url, self.file)
            except (KeyError, IndexError, ValueError, ContractError):
                continue  # reported by check_refs
            if target_file.parent == contract.dir.resolve() and target_file.name in contract.schemas:
                schema_id = contract.schemas[target_file.name].get("$id")
                if isinstance(schema_id, str):
                    holder = _follow_pointer(payload, pointer(path[:-1]))
                    holder["$ref"] = schema_id + (f"#{fragment}" if fragment else "")
        return payload

    def lint_schemas(self, contract):
        for name, schema in sorted(contract.schemas.items()):
            where = display(contract.dir / name)
            if schema.get("$schema") != DRAFT_2020_12:
                self.fail(f"{where}#/$schema: expected {DRAFT_2020_12!r}")
            if name != ENVELOPE_FILE:
                key = name[: -len(".json")]
                if not ROUTING_KEY.fullmatch(key):
                    self.fail(f"{where}: file name is not <routing key>.json")
                if schema.get("$id") != SCHEMA_URN + key:
                    self.fail(f"{where}#/$id: expected {SCHEMA_URN + key!r}, found {schema.get('$id')!r}")
                for field in ("title", "description"):
                    if not schema.get(field):
                        self.fail(f"{where}#/{field}: missing")
                if schema.get("type") != "object":
                    self.fail(f"{where}#/type: data schemas describe an object")
            for path, sub in subschemas(schema):
                if not isinstance(sub, dict):
                    continue
                for keyword in sorted(NOT_IN_DRAFT_07.intersection(sub)):
                    self.fail(f"{where}#{pointer(path + (keyword,))}: {keyword} is not understood by draft-07 (AsyncAPI) tools")
                if "$ref" in sub:
                    siblings = sorted(set(sub) - ANNOTATIONS - {"$ref"})
                    if siblings:
                        self.fail(f"{where}#{pointer(path)}: keywords beside $ref ({', '.join(siblings)}) are ignored by draft-07 tools; use allOf")


def cmd_check_asyncapi(args):
    check = AsyncApiCheck(args.file, args.schemas or Path(args.file).resolve().parent / "Schemas")
    summary = check.run()
    if check.problems:
        for line in check.problems:
            print(line, file=sys.stderr)
        print(f"{len(check.problems)} problem(s) in {display(args.file)}", file=sys.stderr)
        return 1
    doc = summary["doc"]
    channels = summary["channels"]
    print(f"{display(args.file)}: AsyncAPI {doc['asyncapi']} \"{doc['info']['title']}\" {doc['info']['version']}: "
          f"{len(channels)} channel(s), {summary['messages']} message(s), "
          f"{summary['sends']} send / {summary['receives']} receive operation(s), {summary['schemas']} data schema(s)")
    width = max(len(a) for a in channels)
    for address, info_ in sorted(channels.items()):
        if info_["retired"]:
            print(f"  {address:<{width}}  exchange {info_['exchange']}  retired (no longer published), superseded by {info_['superseded_by'] or '-'}")
            continue
        receivers = ", ".join(sorted(info_["receive"])) or "-"
        private = "  (private)" if info_["private"] else ""
        print(f"  {address:<{width}}  exchange {info_['exchange']}  sent by {', '.join(sorted(info_['send']))}  received by {receivers}{private}")
    print("ok")
    return 0


# --------------------------------------------------------------------------- generating asyncapi.yaml

ASYNCAPI_SOURCES = CONTRACTS / "AsyncAPI"


def _block_strings(yaml_module):
    """A YAML dumper that writes text of several lines as a block (`|`), as people write it."""

    class Dumper(yaml_module.SafeDumper):
        pass

    def text(dumper, value):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return Dumper


def generate_asyncapi(catalogue, sources=ASYNCAPI_SOURCES, examples=EXAMPLES):
    """The AsyncAPI document: the catalogue (which types, producers, exchanges, consumers,
    private, retired), the words of AsyncAPI/events.yaml, the examples, and AsyncAPI/document.yaml
    for the rest. Fails when a type of the catalogue has no words, or words name no type."""
    yaml = _yaml()
    head = yaml.safe_load((sources / "document.yaml").read_text())
    words = yaml.safe_load((sources / "events.yaml").read_text())
    keys = [entry["routingKey"] for entry in catalogue]
    missing = [key for key in keys if key not in words]
    unknown = [key for key in words if key not in keys]
    if missing or unknown:
        raise ContractError(
            "AsyncAPI/events.yaml and the catalogue disagree: "
            + "; ".join(filter(None, [missing and "no words for " + ", ".join(missing), unknown and "not in the catalogue: " + ", ".join(unknown)])))
    channels, operations, messages = {}, {}, {}
    for entry in catalogue:
        key = entry["routingKey"]
        said = words[key]
        private = entry["visibility"] == "private"
        channel = {"address": key, "title": key, "summary": said["summary"]}
        if "description" in said:
            channel["description"] = said["description"]
        if private:
            channel["x-syllabus-visibility"] = "private"
        if entry["retired"]:
            if "supersededBy" not in said:
                raise ContractError(f"{key} is retired: say its successor (supersededBy) in AsyncAPI/events.yaml")
            channel["x-syllabus-status"] = "retired"
            channel["x-syllabus-superseded-by"] = said["supersededBy"]
        channel["messages"] = {key: {"$ref": f"#/components/messages/{key}"}}
        channel["bindings"] = {"amqp": {
            "is": "routingKey",
            "exchange": {"name": entry["exchange"], "type": "topic", "durable": True, "autoDelete": False, "vhost": "syllabus"},
            "bindingVersion": "0.3.0"}}
        channels[key] = channel

        reference = {"$ref": f"#/channels/{key}"}
        message_ref = [{"$ref": f"#/channels/{key}/messages/{key}"}]
        consumed = said.get("consumed", {})
        if entry["retired"]:
            if "published" in said or consumed:
                raise ContractError(f"{key} is retired: it is neither published nor consumed")
        else:
            if "published" not in said:
                raise ContractError(f"{key}: say when {entry['producer']} publishes it (published) in AsyncAPI/events.yaml")
            operations[f"{entry['producer']}.sends.{key}"] = {
                "action": "send", "title": f"{entry['producer']} publishes {key}", "summary": said["published"],
                "x-syllabus-service": entry["producer"], "channel": reference, "messages": message_ref,
                "bindings": {"amqp": {"deliveryMode": 2, "mandatory": True, "timestamp": True, "bindingVersion": "0.3.0"}}}
        if set(consumed) != set(entry["consumers"]):
            raise ContractError(
                f"{key}: AsyncAPI/events.yaml says it is consumed by {sorted(consumed)}, the catalogue by {sorted(entry['consumers'])}")
        for service in entry["consumers"]:
            operations[f"{service}.receives.{key}"] = {
                "action": "receive", "title": f"{service} consumes {key}", "summary": consumed[service],
                "x-syllabus-service": service, "x-syllabus-queue": service, "channel": reference, "messages": message_ref,
                "bindings": {"amqp": {"ack": True, "bindingVersion": "0.3.0"}}}

        # The first example is Examples/<key>.json (also shown in docs/events.md); a further
        # one carries its payload in AsyncAPI/events.yaml.
        named = said.get("examples", [])
        if not named or "payload" in named[0] or not all("payload" in n for n in named[1:]):
            raise ContractError(f"{key}: name its example (Examples/{key}.json) first in AsyncAPI/events.yaml; give further ones a payload")
        payloads = [load_json(examples / f"{key}.json")] + [n["payload"] for n in named[1:]]
        message = {"name": key, "title": said["title"], "summary": said.get("messageSummary", said["summary"]),
                   "contentType": "application/cloudevents+json"}
        if private:
            message["x-syllabus-visibility"] = "private"
        if entry["retired"]:
            message["x-syllabus-status"] = "retired"
        message["payload"] = {"deprecated": True} if entry["retired"] else {}
        message["payload"]["allOf"] = [
            {"$ref": "./Schemas/cloudevent.json"},
            {"type": "object", "properties": {
                "type": {"const": entry["type"]},
                "source": {"const": f"/syllabus/{entry['producer']}"},
                "dataschema": {"const": f"urn:syllabus:schema:{key}"},
                "data": {"$ref": f"./Schemas/{key}.json"}}}]
        message["bindings"] = {"amqp": {"messageType": entry["type"], "bindingVersion": "0.3.0"}}
        message["examples"] = [{"name": n["name"], "summary": n["summary"], "payload": payload} for n, payload in zip(named, payloads)]
        messages[key] = message

    document = {name: value for name, value in head.items() if name != "components"}
    document["channels"] = channels
    document["operations"] = operations
    document["components"] = {**head.get("components", {}), "messages": messages}
    text = yaml.dump(document, Dumper=_block_strings(yaml), sort_keys=False, width=100, allow_unicode=True)
    return ("# Generated by `make asyncapi` (scripts/contracts.py asyncapi) from the event catalogue\n"
            "# (Shared/Contracts/EventCatalog.swift), AsyncAPI/events.yaml, AsyncAPI/document.yaml and\n"
            "# Examples/; edit those, not this file.\n" + text)


def cmd_asyncapi(args):
    catalogue = json.loads(sys.stdin.read() if str(args.catalogue) == "-" else Path(args.catalogue).read_text())
    text = generate_asyncapi(catalogue)
    if args.check:
        if not args.file.exists() or args.file.read_text() != text:
            print(f"{display(args.file)} is not what the catalogue and AsyncAPI/ generate: run `make asyncapi`", file=sys.stderr)
            return 1
        print(f"{display(args.file)} is up to date")
        return 0
    args.file.write_text(text)
    print(f"wrote {display(args.file)}")
    return 0


# --------------------------------------------------------------------------- self-test

_NESTED_SCHEMA = {
    "$schema": DRAFT_2020_12,
    "$id": "urn:syllabus:schema:selftest.thing.happened.v1",
    "title": "selftest.thing.happened.v1",
    "description": "Nested shapes for the compatibility self-test.",
    "type": "object",
    "required": ["id", "lines"],
    "properties": {
        "id": {"type": "string"},
        "kind": {"const": "thing"},
        "count": {"type": "integer", "minimum": 0, "maximum": 100},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "minItems": 0, "maxItems": 10},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku"],
                "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
            },
        },
        "price": {"$ref": "#/$defs/money"},
        "choice": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {"code": {"type": "string"}}}]},
        "nested": {
            "type": "object",
            "properties": {"note": {"type": ["string", "null"], "maxLength": 50}},
            "additionalProperties": False,
        },
    },
    "allOf": [{"properties": {"id": {"minLength": 1}}}, {"properties": {"extra": {"type": "string"}}}],
    "$defs": {
        "money": {
            "type": "object",
            "required": ["amount", "currency"],
            "properties": {"amount": {"type": "integer"}, "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}},
        }
    },
}

USER_REGISTERED = "identity.user.registered.v1.json"
NESTED = "selftest.thing.happened.v1.json"


def _set(path, value):
    def mutate(schema):
        target = schema
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return mutate


def _delete(path):
    def mutate(schema):
        target = schema
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]
    return mutate


def _all(*mutations):
    def mutate(schema):
        for m in mutations:
            m(schema)
    return mutate


# (name, file, mutation, expected pointer of a problem or None when the change must pass)
COMPAT_CASES = [
    ("property removed", USER_REGISTERED, _delete(["properties", "name"]), "#/properties/name"),
    ("type changed", USER_REGISTERED, _set(["properties", "emailVerified", "type"], "string"), "#/properties/emailVerified/type"),
    ("type narrowed", NESTED, _set(["properties", "nested", "properties", "note", "type"], "string"), "#/properties/nested/properties/note/type"),
    ("type widened", USER_REGISTERED, _set(["properties", "name", "type"], ["string", "null"]), "#/properties/name/type"),
    ("new required property", USER_REGISTERED,
     _all(_set(["properties", "locale"], {"type": "string"}), _set(["required"], ["userId", "email", "name", "role", "emailVerified", "marketingOptOut", "registeredAt", "locale"])),
     "#/required"),
    ("property no longer required", USER_REGISTERED,
     _set(["required"], ["userId", "email", "role", "emailVerified", "marketingOptOut", "registeredAt"]), "#/required"),
    ("enum value removed", USER_REGISTERED, _set(["properties", "role", "enum"], ["USER"]), "#/properties/role/enum"),
    ("const changed", NESTED, _set(["properties", "kind", "const"], "other"), "#/properties/kind/const"),
    ("maxLength lowered", USER_REGISTERED, _set(["properties", "email", "maxLength"], 100), "#/properties/email/maxLength"),
    ("maximum lowered", NESTED, _set(["properties", "count", "maximum"], 50), "#/properties/count/maximum"),
    ("maxItems lowered", NESTED, _set(["properties", "tags", "maxItems"], 5), "#/properties/tags/maxItems"),
    ("maxLength added", USER_REGISTERED, _set(["properties", "userId", "maxLength"], 36), "#/properties/userId/maxLength"),
    ("minLength raised", USER_REGISTERED, _set(["properties", "name", "minLength"], 2), "#/properties/name/minLength"),
    ("minimum raised", NESTED, _set(["properties", "count", "minimum"], 1), "#/properties/count/minimum"),
    ("minItems raised", NESTED, _set(["properties", "tags", "minItems"], 1), "#/properties/tags/minItems"),
    ("pattern changed", USER_REGISTERED, _set(["properties", "userId", "pattern"], "^[0-9a-f-]{36}$"), "#/properties/userId/pattern"),
    ("pattern added", USER_REGISTERED, _set(["properties", "name", "pattern"], "^\\S"), "#/properties/name/pattern"),
    ("format changed", USER_REGISTERED, _set(["properties", "registeredAt", "format"], "date"), "#/properties/registeredAt/format"),
    ("format added", NESTED, _set(["properties", "id", "format"], "uuid"), "#/properties/id/format"),
    ("additionalProperties true -> false", USER_REGISTERED, _set(["additionalProperties"], False), "#/additionalProperties"),
    ("additionalProperties absent -> false", NESTED, _set(["properties", "lines", "items", "additionalProperties"], False),
     "#/properties/lines/items/additionalProperties"),
    ("nested items property removed", NESTED, _delete(["properties", "lines", "items", "properties", "sku"]),
     "#/properties/lines/items/properties/sku"),
    ("nested items new required", NESTED, _set(["properties", "lines", "items", "required"], ["sku", "qty"]),
     "#/properties/lines/items/required"),
    ("items maxLength lowered", NESTED, _set(["properties", "tags", "items", "maxLength"], 10), "#/properties/tags/items/maxLength"),
    ("allOf[1] type changed", NESTED, _set(["allOf", 1, "properties", "extra", "type"], "integer"), "#/allOf/1/properties/extra/type"),
    ("allOf[0] minLength raised", NESTED, _set(["allOf", 0, "properties", "id", "minLength"], 3), "#/allOf/0/properties/id/minLength"),
    ("allOf subschema removed", NESTED, _set(["allOf"], [{"properties": {"id": {"minLength": 1}}}]), "#/allOf/1"),
    ("anyOf[1] property removed", NESTED, _delete(["properties", "choice", "anyOf", 1, "properties", "code"]),
     "#/properties/choice/anyOf/1/properties/code"),
    ("$defs pattern changed", NESTED, _set(["$defs", "money", "properties", "currency", "pattern"], "^[A-Z]{2,3}$"),
     "#/$defs/money/properties/currency/pattern"),
    ("$defs definition removed", NESTED, _all(_delete(["$defs", "money"]), _set(["properties", "price"], {"type": "object"})), "#/$defs/money"),
    ("$defs property type changed", NESTED, _set(["$defs", "money", "properties", "amount", "type"], "number"),
     "#/$defs/money/properties/amount/type"),
    ("$id changed", USER_REGISTERED, _set(["$id"], "urn:syllabus:schema:identity.user.created.v1"), "#/$id"),
    ("schema became false", NESTED, _set(["properties", "id"], False), "#/properties/id"),
    # additive: must pass
    ("new optional property", USER_REGISTERED, _set(["properties", "locale"], {"type": "string", "maxLength": 35}), None),
    ("description changed", USER_REGISTERED, _set(["properties", "name", "description"], "Shown on certificates."), None),
    ("title changed", USER_REGISTERED, _set(["title"], "User registered"), None),
    ("enum value added", USER_REGISTERED, _set(["properties", "role", "enum"], ["USER", "ADMIN", "AUTHOR"]), None),
    ("maxLength raised", USER_REGISTERED, _set(["properties", "email", "maxLength"], 400), None),
    ("nested optional property added", NESTED, _set(["properties", "lines", "items", "properties", "note"], {"type": "string"}), None),
    ("anyOf alternative added", NESTED, _set(["properties", "choice", "anyOf"], [{"type": "string"}, {"type": "object", "properties": {"code": {"type": "string"}}}, {"type": "integer"}]), None),
    ("$defs definition added", NESTED, _set(["$defs", "code"], {"type": "string"}), None),
]


class _Run:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def expect(self, name, argv, code, want=None, stdin=None):
        out, err = io.StringIO(), io.StringIO()
        saved_stdin = sys.stdin
        try:
            sys.stdin = io.StringIO(stdin or "")
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    got = main(argv)
                except SystemExit as exc:
                    got = exc.code
        finally:
            sys.stdin = saved_stdin
        text = out.getvalue() + err.getvalue()
        self.check(name, got == code and (want is None or want in text),
                   f"expected exit {code}{f' and {want!r}' if want else ''}, got exit {got}:\n{text}")

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok    {name}")
        else:
            self.failed.append(name)
            print(f"FAIL  {name}: {detail}".rstrip())


def _event_variants(example):
    def changed(path, value=None, delete=False):
        event = copy.deepcopy(example)
        target = event
        for part in path[:-1]:
            target = target[part]
        if delete:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return event

    user_id = example["data"]["userId"]
    return [
        # (name, event, expected text in the output)
        ("event id not a uuid", changed(["id"], "not-a-uuid"), "/id"),
        ("event id uuid v4", changed(["id"], "6f1c2a3b-4d5e-4f60-8a1b-2c3d4e5f6071"), "/id"),
        ("event id upper case", changed(["id"], example["id"].upper()), "/id"),
        ("data.userId not a uuid", changed(["data", "userId"], "1234"), "/data/userId"),
        ("data.userId braces", changed(["data", "userId"], "{" + user_id + "}"), "/data/userId"),
        ("data.email missing", changed(["data", "email"], delete=True), "'email' is a required property"),
        ("envelope time missing", changed(["time"], delete=True), "'time' is a required property"),
        ("envelope sequence missing", changed(["sequence"], delete=True), "'sequence' is a required property"),
        ("wrong dataschema", changed(["dataschema"], "urn:syllabus:schema:identity.user.registered.v2"), "/dataschema"),
        ("dataschema of another type", changed(["dataschema"], "urn:syllabus:schema:identity.user.deleted.v1"), "/dataschema"),
        ("sequence too short", changed(["sequence"], "1"), "/sequence"),
        ("sequence 21 digits", changed(["sequence"], "0" * 20 + "1"), "/sequence"),
        ("sequence not digits", changed(["sequence"], "0000000000000000000a"), "/sequence"),
        ("sequence trailing newline", changed(["sequence"], "00000000000000000001\n"), "/sequence"),
        ("sequence as a number", changed(["sequence"], 1), "/sequence"),
        ("source of another service", changed(["source"], "/syllabus/billing"), "/source"),
        ("type unknown", changed(["type"], "org.syllabus.identity.user.exploded.v1"), "no data schema"),
        ("type without prefix", changed(["type"], "identity.user.registered.v1"), "/type"),
        ("time without fraction", changed(["time"], "2026-11-22T10:00:00Z"), "/time"),
        ("time not UTC", changed(["time"], "2026-11-22T11:00:00.123+01:00"), "/time"),
        ("time impossible date", changed(["time"], "2026-02-30T10:00:00.123Z"), "/time"),
        ("registeredAt impossible hour", changed(["data", "registeredAt"], "2026-11-22T24:00:00Z"), "/data/registeredAt"),
        ("registeredAt not a date", changed(["data", "registeredAt"], "yesterday"), "/data/registeredAt"),
        ("email without @", changed(["data", "email"], "ada.example.com"), "/data/email"),
        ("email with space", changed(["data", "email"], "ada lovelace@example.com"), "/data/email"),
        ("email too long", changed(["data", "email"], "a" * 300 + "@example.com"), "/data/email"),
        ("role unknown", changed(["data", "role"], "OWNER"), "/data/role"),
        ("name empty", changed(["data", "name"], ""), "/data/name"),
        ("emailVerified not boolean", changed(["data", "emailVerified"], "false"), "/data/emailVerified"),
        ("partitionkey differs from subject", changed(["partitionkey"], "01a202b2-0000-7000-8000-000000000000"), "/partitionkey"),
        ("traceparent malformed", changed(["traceparent"], "00-abc-def-01"), "/traceparent"),
        ("traceparent zero trace id", changed(["traceparent"], "00-" + "0" * 32 + "-00f067aa0ba902b7-01"), "/traceparent"),
        ("specversion 0.3", changed(["specversion"], "0.3"), "/specversion"),
        ("datacontenttype text/plain", changed(["datacontenttype"], "text/plain"), "/datacontenttype"),
        ("data not an object", changed(["data"], "{}"), "/data"),
        ("extension name upper case", changed(["tenantId"], "x"), "tenantId"),
    ]


def _selftest_validate(run, tmp):
    example_path = EXAMPLES / USER_REGISTERED
    example = load_json(example_path)
    run.expect("validate: example", ["validate", str(example_path)], 0, "1 valid")
    for path in schema_files(EXAMPLES):
        run.expect(f"validate: Examples/{path.name}", ["validate", str(path)], 0, "1 valid")

    def write(name, value):
        path = tmp / name
        path.write_text(value if isinstance(value, str) else json.dumps(value, indent=2), encoding="utf-8")
        return str(path)

    for name, event, want in _event_variants(example):
        run.expect(f"validate rejects: {name}", ["validate", write("event.json", event)], 1, want)

    ok_ext = dict(example, tenant="acme")
    ok_extra = copy.deepcopy(example)
    ok_extra["data"]["locale"] = "en-GB"
    no_trace = {k: v for k, v in example.items() if k != "traceparent"}
    run.expect("validate accepts: extension attribute", ["validate", write("event.json", ok_ext)], 0, "1 valid")
    run.expect("validate accepts: unknown data property", ["validate", write("event.json", ok_extra)], 0, "1 valid")
    run.expect("validate accepts: no traceparent", ["validate", write("event.json", no_trace)], 0, "1 valid")
    run.expect("validate accepts: array", ["validate", write("events.json", [example, ok_extra])], 0, "2 valid")
    run.expect("validate accepts: several files", ["validate", str(example_path), write("events.json", [example, ok_extra])], 0, "3 valid")
    bad = dict(example, sequence="7")
    run.expect("validate rejects: one bad event in an array", ["validate", write("events.json", [example, bad])], 1, "events.json[1]: /sequence")
    run.expect("validate rejects: invalid JSON", ["validate", write("event.json", "{\"specversion\": ")], 1, "invalid JSON")
    run.expect("validate rejects: duplicate key", ["validate", write("event.json", '{"id": "a", "id": "b"}')], 1, "duplicate key")
    run.expect("validate rejects: empty array", ["validate", write("events.json", [])], 1, "no events")
    run.expect("validate rejects: not an object", ["validate", write("events.json", [1])], 1, "must be a JSON object")
    run.expect("validate rejects: missing file", ["validate", str(tmp / "absent.json")], 1, "cannot read")
    run.expect("validate: stdin", ["validate"], 0, "1 valid", stdin=json.dumps(example))
    # the real command line, from another directory, reading stdin
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "validate"], input=json.dumps([example, bad]),
                          capture_output=True, text=True, cwd=str(tmp))
    run.check("validate: command line from another cwd", proc.returncode == 1 and "<stdin>[1]: /sequence" in proc.stderr,
              f"exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "validate", "-"], input=json.dumps(example),
                          capture_output=True, text=True, cwd=str(tmp))
    run.check("validate: command line '-' is stdin", proc.returncode == 0 and proc.stdout.strip() == "1 valid",
              f"exit {proc.returncode}\n{proc.stdout}{proc.stderr}")


def _selftest_compat(run, tmp):
    run.expect("check-compat: repository tree", ["check-compat"], 0, "compatible")
    base = tmp / "compat-base"
    base.mkdir()
    for path in schema_files(SCHEMAS):
        shutil.copyfile(path, base / path.name)
    (base / NESTED).write_text(json.dumps(_NESTED_SCHEMA, indent=2), encoding="utf-8")
    snapshot = tmp / "compat-snapshot"
    shutil.copytree(base, snapshot)

    def current_with(mutations):
        current = tmp / "compat-current"
        if current.exists():
            shutil.rmtree(current)
        shutil.copytree(base, current)
        for file, mutation in mutations:
            schema = load_json(current / file)
            mutation(schema)
            (current / file).write_text(json.dumps(schema, indent=2), encoding="utf-8")
        return str(current)

    dirs = ["--snapshot", str(snapshot), "--current"]
    run.expect("check-compat: unchanged copy", ["check-compat", *dirs, current_with([])], 0, "compatible")
    for name, file, mutation, where in COMPAT_CASES:
        current = current_with([(file, mutation)])
        if where is None:
            run.expect(f"check-compat passes: {name}", ["check-compat", *dirs, current], 0, "compatible")
        else:
            run.expect(f"check-compat fails: {name}", ["check-compat", *dirs, current], 1, f"{file}{where}:")
    current = current_with([])
    (Path(current) / USER_REGISTERED).unlink()
    run.expect("check-compat fails: snapshot schema missing", ["check-compat", *dirs, current], 1, f"{USER_REGISTERED}#: schema file missing")
    current = current_with([])
    (Path(current) / "identity.user.registered.v2.json").write_text(json.dumps(dict(load_json(base / USER_REGISTERED), **{"$id": "urn:syllabus:schema:identity.user.registered.v2"})), encoding="utf-8")
    run.expect("check-compat passes: new schema file", ["check-compat", *dirs, current], 0, "new schema not yet in the snapshot: identity.user.registered.v2.json")
    current = current_with([])
    (Path(current) / NESTED).write_text("{", encoding="utf-8")
    run.expect("check-compat fails: unreadable schema", ["check-compat", *dirs, current], 1, "invalid JSON")
    current = current_with([(NESTED, _set(["type"], "thing"))])
    run.expect("check-compat fails: invalid JSON Schema", ["check-compat", *dirs, current], 1, "not a valid JSON Schema")
    run.expect("check-compat fails: no snapshot", ["check-compat", "--snapshot", str(tmp / "nowhere"), "--current", str(base)], 1, "no snapshot")

    # snapshot: refuses to record breaking changes unless forced
    snap = tmp / "snap-target"
    run.expect("snapshot: creates the directory", ["snapshot", "--snapshot", str(snap), "--current", str(base)], 0, "copied")
    run.check("snapshot: copies every schema", sorted(p.name for p in schema_files(snap)) == sorted(p.name for p in schema_files(base)))
    breaking = current_with([(USER_REGISTERED, _delete(["properties", "name"]))])
    run.expect("snapshot: refuses a breaking change", ["snapshot", "--snapshot", str(snap), "--current", breaking], 1, "refusing")
    run.expect("snapshot: --force records it", ["snapshot", "--snapshot", str(snap), "--current", breaking, "--force"], 0, "copied")
    run.expect("check-compat: passes after forced snapshot", ["check-compat", "--snapshot", str(snap), "--current", breaking], 0, "compatible")


def _selftest_asyncapi(run, tmp):
    yaml = _yaml()
    run.expect("check-asyncapi: repository document", ["check-asyncapi"], 0, "ok")

    def tree(name, mutate_doc=None, mutate_dir=None):
        root = tmp / f"asyncapi-{name.replace(' ', '-').replace('/', '-')}"
        shutil.copytree(CONTRACTS / "Schemas", root / "Schemas")
        doc = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
        if mutate_doc:
            mutate_doc(doc)
        (root / "asyncapi.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
        if mutate_dir:
            mutate_dir(root)
        return str(root / "asyncapi.yaml")

    key = "identity.user.registered.v1"
    doc0 = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
    message = lambda d: d["components"]["messages"][key]  # noqa: E731
    example = lambda d: message(d)["examples"][0]["payload"]  # noqa: E731
    run.expect("check-asyncapi: copy", ["check-asyncapi", "--file", tree("copy")], 0, "ok")

    def drop_send(doc):
        for op_id in [k for k, v in doc["operations"].items() if v["action"] == "send"]:
            del doc["operations"][op_id]

    def extra_schema(root):
        schema = load_json(root / "Schemas" / f"{key}.json")
        # a routing key no real event uses, so the copied document has no channel for it
        schema["$id"] = "urn:syllabus:schema:identity.selftest.unlisted.v1"
        (root / "Schemas" / "identity.selftest.unlisted.v1.json").write_text(json.dumps(schema), encoding="utf-8")

    cases = [
        ("version 2.6.0", _set(["asyncapi"], "2.6.0"), None, "#/asyncapi"),
        ("missing schema file", _set(["components", "messages", key, "payload", "allOf", 1, "properties", "data", "$ref"], "./Schemas/nope.json"), None, "does not exist"),
        ("bad pointer", _set(["channels", key, "messages", key, "$ref"], "#/components/messages/nope"), None, "does not resolve"),
        ("schema without channel", None, extra_schema, "identity.selftest.unlisted.v1.json: no channel"),
        ("channel without send", drop_send, None, "no send operation"),
        ("send by another service", _set(["operations", f"identity.sends.{key}", "x-syllabus-service"], "billing"), None, "only 'identity' publishes"),
        ("wrong exchange", _set(["channels", key, "bindings", "amqp", "exchange", "name"], "events"), None, "exchange/name"),
        ("queue not the consumer's", _set(["operations", f"notifications.receives.{key}", "x-syllabus-queue"], "mail"), None, "x-syllabus-queue"),
        ("operation message of another channel", _set(["operations", f"identity.sends.{key}", "messages"], [{"$ref": f"#/components/messages/{key}"}]), None, "must reference a message of its channel"),
        ("invalid example", _set(["components", "messages", key, "examples", 0, "payload", "data", "email"], "nobody"), None, "/data/email"),
        ("example of another type", lambda d: example(d).update(type="org.syllabus.identity.user.registered.v2"), None, "no data schema"),
        ("payload const mismatch", _set(["components", "messages", key, "payload", "allOf", 1, "properties", "source", "const"], "/syllabus/billing"), None, "message payload schema"),
        ("unquoted YAML time", None, lambda root: (root / "asyncapi.yaml").write_text((root / "asyncapi.yaml").read_text().replace("'2026-11-22T10:00:00.123Z'", "2026-11-22T10:00:00.123Z")), "not a JSON value"),
        ("no example", _delete(["components", "messages", key, "examples"]), None, "no example payload"),
        ("keyword beside $ref", None, lambda root: (root / "Schemas" / f"{key}.json").write_text(json.dumps(dict(load_json(root / "Schemas" / f"{key}.json"), **{"$defs": {"s": {"type": "string"}}, "properties": {"name": {"$ref": "#/$defs/s", "maxLength": 3}}}))), "keywords beside $ref"),
    ]
    # private and retired channels (x-syllabus-visibility, x-syllabus-status)
    channels = lambda d: d["channels"]  # noqa: E731
    private_key = next((k for k, c in channels(doc0).items() if is_private(c)), None)
    retired_key = next((k for k, c in channels(doc0).items() if is_retired(c)), None)
    if private_key:
        def drop_private_receivers(doc):
            for op_id in [k for k, v in doc["operations"].items()
                          if v["action"] == "receive" and v["channel"]["$ref"] == f"#/channels/{private_key}"]:
                del doc["operations"][op_id]
        cases += [
            ("private channel on the public exchange",
             _set(["channels", private_key, "bindings", "amqp", "exchange", "name"], private_key.split(".", 1)[0] + ".events"), None, "exchange/name"),
            ("private channel not marked private", _delete(["channels", private_key, VISIBILITY]), None, "exchange/name"),
            ("unknown visibility", _set(["channels", private_key, VISIBILITY], "internal"), None, VISIBILITY),
            ("private channel without a consumer", drop_private_receivers, None, "no receive operation"),
        ]
        run.check("exchanges: a subscriber is offered public exchanges only",
                  all(e.endswith(".events") for e in exchanges(doc0))
                  and private_key.split(".", 1)[0] + ".private" in exchanges(doc0, include_private=True))
    if retired_key:
        send_op = next(k for k, v in doc0["operations"].items() if v["action"] == "send")

        def send_retired(doc):
            op = copy.deepcopy(doc["operations"][send_op])
            op.update(channel={"$ref": f"#/channels/{retired_key}"},
                      messages=[{"$ref": f"#/channels/{retired_key}/messages/{retired_key}"}])
            doc["operations"][f"identity.sends.{retired_key}"] = op

        def undeprecate(root):
            path = root / "Schemas" / f"{retired_key}.json"
            path.write_text(json.dumps({k: v for k, v in load_json(path).items() if k != "deprecated"}), encoding="utf-8")

        cases += [
            ("retired channel with a send operation", send_retired, None, "is retired"),
            ("retired channel whose schema is not deprecated", None, undeprecate, "#/deprecated"),
            ("deprecated schema on a current channel", _delete(["channels", retired_key, STATUS]), None, "#/deprecated"),
            ("unknown status", _set(["channels", retired_key, STATUS], "sunset"), None, STATUS),
            ("successor that is no channel", _set(["channels", retired_key, SUPERSEDED_BY], "identity.nothing.here.v9"), None, SUPERSEDED_BY),
        ]
    run.check("selftest: the repository document has a private and a retired channel to mutate",
              private_key is not None and retired_key is not None)
    for name, mutate_doc, mutate_dir, want in cases:
        run.expect(f"check-asyncapi fails: {name}", ["check-asyncapi", "--file", tree(name, mutate_doc, mutate_dir)], 1, want)


def cmd_selftest(args):
    run = _Run()
    with tempfile.TemporaryDirectory(prefix="syllabus-contracts-") as tmp:
        tmp = Path(tmp)
        for part, fn in (("validate", _selftest_validate), ("compat", _selftest_compat), ("asyncapi", _selftest_asyncapi)):
            work = tmp / part
            work.mkdir()
            fn(run, work)
    total = run.passed + len(run.failed)
    if run.failed:
        print(f"selftest: {len(run.failed)} of {total} failed: " + "; ".join(run.failed), file=sys.stderr)
        return 1
    print(f"selftest: {total} passed")
    return 0


# --------------------------------------------------------------------------- command line


def main(argv=None):
    parser = argparse.ArgumentParser(prog="contracts.py", description="Syllabus event contract tool.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    p = commands.add_parser("validate", help="validate CloudEvents (files holding an event or an array; stdin when none)")
    p.add_argument("files", nargs="*", metavar="FILE", help="JSON file ('-' for stdin)")
    p.add_argument("--schemas", type=Path, default=SCHEMAS, metavar="DIR", help="schema directory (default %(default)s)")
    p.set_defaults(run=cmd_validate)

    p = commands.add_parser("check-asyncapi", help="check asyncapi.yaml against the schemas")
    p.add_argument("--file", type=Path, default=ASYNCAPI, metavar="YAML", help="AsyncAPI document (default %(default)s)")
    p.add_argument("--schemas", type=Path, default=None, metavar="DIR", help="schema directory (default: Schemas/ beside the document)")
    p.set_defaults(run=cmd_check_asyncapi)

    for name, text in (("check-compat", "fail on breaking schema changes against the snapshot"),
                       ("snapshot", "record the current schemas as the snapshot")):
        p = commands.add_parser(name, help=text)
        p.add_argument("--snapshot", type=Path, default=SNAPSHOT, metavar="DIR", help="snapshot directory (default %(default)s)")
        p.add_argument("--current", type=Path, default=SCHEMAS, metavar="DIR", help="current schema directory (default %(default)s)")
        if name == "snapshot":
            p.add_argument("--force", action="store_true", help="record even breaking changes (e.g. fixing an unreleased type)")
            p.set_defaults(run=cmd_snapshot)
        else:
            p.set_defaults(run=cmd_check_compat)

    p = commands.add_parser("asyncapi", help="generate asyncapi.yaml from the catalogue (`syllabus contracts catalogue`) and AsyncAPI/")
    p.add_argument("--catalogue", required=True, metavar="JSON", help="the catalogue as `syllabus contracts catalogue` prints it ('-' for stdin)")
    p.add_argument("--file", type=Path, default=ASYNCAPI, metavar="YAML", help="the document (default %(default)s)")
    p.add_argument("--check", action="store_true", help="fail when the document differs from what is generated, and write nothing")
    p.set_defaults(run=cmd_asyncapi)

    p = commands.add_parser("selftest", help="run the tool's own expectations in temporary directories")
    p.set_defaults(run=cmd_selftest)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ContractError as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
