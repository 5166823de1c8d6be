#!/usr/bin/python3
"""Each service's OpenAPI document, as served: its openapi.yaml with the shared parts of
Shared/ServiceKit/OpenAPI/common.yaml merged in. Both files are compiled into the binaries, and
the service merges them as it starts (`OpenAPIDocument.merged` in ServiceKit, the same merge as
here; a test holds the two to the same output).

    scripts/openapi.py check             # every document merges and parses, no key twice (make test)
    scripts/openapi.py show <service>    # the document a service serves

The merge is textual, so the served document keeps the YAML's comments and block text; the result
is then parsed, refusing duplicate keys, so a service cannot define a shared part again.
"""
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMMON = ROOT / "Shared" / "ServiceKit" / "OpenAPI" / "common.yaml"


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


def main(argv):
    mode = argv[1] if len(argv) > 1 else "check"
    common = COMMON.read_text()
    if mode == "show" and len(argv) == 3:
        spec = ROOT / "Services" / argv[2].capitalize() / "openapi.yaml"
        sys.stdout.write(merge(spec.read_text(), common))
        return 0
    if mode != "check":
        print(__doc__)
        return 2
    failed = False
    for spec in sorted(ROOT.glob("Services/*/openapi.yaml")):
        try:
            merge(spec.read_text(), common)
        except (ValueError, yaml.YAMLError) as error:
            print(f"{spec.relative_to(ROOT)}: {error}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
