#!/usr/bin/env bash
# Embeds each service's OpenAPI document (its openapi.yaml with Shared/OpenAPI/common.yaml merged
# in) into its library; see scripts/openapi.py.
exec /usr/bin/python3 "$(dirname "$0")/openapi.py" embed
