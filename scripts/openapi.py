#!/usr/bin/python3
"""Each service's OpenAPI document, as served: its openapi.yaml with the shared parts of
Shared/OpenAPI/common.yaml merged in, compiled into its library (Sources/OpenAPIDocument.swift)
so that /openapi.yaml serves it from the binary alone.

    scripts/openapi.py embed    # after editing a service's openapi.yaml or the common parts
    scripts/openapi.py check    # fails when an embedded document is stale (run by make test)

The merge is textual, so the served document keeps the YAML's comments and block text; the result
is then parsed, refusing duplicate keys, so a service cannot define a shared part again.
"""
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMMON = ROOT / "Shared" / "OpenAPI" / "common.yaml"


def blocks(lines, indent):
    """The keys at `indent` spaces in `lines`, each with its lines (the key's line first); lines
    before the first key (comments) come first, under the name None."""
    current = []
    result = [(None, current)]
    prefix = " " * indent
    for line in lines:
        if line.startswith(prefix) and len(line) > indent and line[indent] not in " #-":
            current = [line]
            result.append((line.strip().rstrip(":"), current))
        else:
            current.append(line)
    return result if result[0][1] else result[1:]


def top_level(lines):
    return {name: body for name, body in blocks(lines, 0)}


def merge(service_text, common_text):
    common = top_level(common_text.splitlines())
    lines = service_text.splitlines()
    sections = blocks(lines, 0)
    names = [name for name, _ in sections]
    if "paths" not in names or "components" not in names:
        raise ValueError("the document needs `paths` and `components`")
    out = []
    for name, body in sections:
        if name == "paths":
            out += trim(body) + common["paths"][1:]
        elif name == "components":
            own = dict(blocks(body[1:], 2))
            shared = [(sub, sub_body) for sub, sub_body in blocks(common["components"][1:], 2) if sub]
            out.append(body[0])
            for sub, sub_body in blocks(body[1:], 2):
                extra = dict(shared).get(sub) if sub else None
                out += trim(sub_body) + (extra[1:] if extra else [])
            for sub, sub_body in shared:
                if sub not in own:
                    out += sub_body
        else:
            out += body
    text = "\n".join(out) + "\n"
    yaml.load(text, Loader=UniqueKeyLoader)
    return text


def trim(body):
    """A block without its trailing blank lines (the shared entries follow it)."""
    while body and not body[-1].strip():
        body = body[:-1]
    return body


class UniqueKeyLoader(yaml.SafeLoader):
    pass


def _unique_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ValueError(f"`{key}` is defined twice (line {key_node.start_mark.line + 1}); shared parts live in {COMMON.relative_to(ROOT)}")
        seen.add(key)
    return loader.construct_mapping(node, deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def swift(name, document):
    return (
        "// Generated from openapi.yaml and Shared/OpenAPI/common.yaml by scripts/openapi.py; edit the YAML, then run `make openapi`.\n"
        f"public enum {name}OpenAPI {{\n"
        '    public static let document = #####"""\n'
        f"{document}"
        '"""#####\n'
        "}\n"
    )


def main(argv):
    mode = argv[1] if len(argv) > 1 else "embed"
    if mode not in ("embed", "check"):
        print(__doc__)
        return 2
    common = COMMON.read_text()
    stale = []
    for spec in sorted(ROOT.glob("Services/*/openapi.yaml")):
        name = spec.parent.name
        try:
            generated = swift(name, merge(spec.read_text(), common))
        except ValueError as error:
            print(f"{spec.relative_to(ROOT)}: {error}", file=sys.stderr)
            return 1
        target = spec.parent / "Sources" / "OpenAPIDocument.swift"
        if target.exists() and target.read_text() == generated:
            continue
        if mode == "check":
            stale.append(str(target.relative_to(ROOT)))
        else:
            target.write_text(generated)
            print(f"updated {target.relative_to(ROOT)}")
    if stale:
        print("stale, run `make openapi`: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
