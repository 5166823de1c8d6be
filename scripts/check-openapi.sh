#!/usr/bin/env bash
# Checks each service's OpenAPI document (its openapi.yaml with Shared/ServiceKit/OpenAPI/common.yaml
# merged in, as the service serves it): it must parse, and define no key twice; see scripts/openapi.py.
exec /usr/bin/python3 "$(dirname "$0")/openapi.py" check
