#!/usr/bin/env bash
# Compiles each service's openapi.yaml into its library, so that `/openapi.yaml` serves the
# document from the binary alone. A test fails when the two differ; run this after editing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
for dir in "$root"/Services/*; do
    name=$(basename "$dir")
    spec="$dir/openapi.yaml"
    [ -f "$spec" ] || continue
    out="$dir/Sources/OpenAPIDocument.swift"
    {
        echo "// Generated from openapi.yaml by scripts/embed-openapi.sh; edit the YAML, then run the script."
        echo "enum ${name}OpenAPI {"
        echo "    static let document = #####\"\"\""
        cat "$spec"
        echo "\"\"\"#####"
        echo "}"
    } > "$out.tmp"
    if ! cmp -s "$out.tmp" "$out" 2>/dev/null; then mv "$out.tmp" "$out"; echo "updated $out"; else rm "$out.tmp"; fi
done
