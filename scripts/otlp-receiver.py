#!/usr/bin/env python3
"""A local OTLP/HTTP trace receiver, for when no tracing backend is packaged: it takes
`POST /v1/traces` (protobuf or JSON, gzip or not) and appends each span as one JSON line to a file,
which `syllabus trace` reads. `/v1/logs` and `/v1/metrics` are accepted and dropped. With
`--discard` nothing is decoded or written (for benchmarks: the exporter's cost without the
receiver's).

Line fields: traceId, spanId, parentSpanId (lower-case hex, "" when none), name, kind (SERVER,
CLIENT, PRODUCER, CONSUMER, INTERNAL), service (the resource's service.name), startTimeUnixNano,
endTimeUnixNano, attributes (key → value), status (UNSET, OK, ERROR), links [{traceId, spanId}].

Usage: otlp-receiver.py --port P [--host H] [--out FILE] [--ready-file FILE] [--discard]
"""

import argparse
import gzip
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


def value_of(any_value):
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value_of(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in any_value.kvlist_value.values}
    if kind == "bytes_value":
        return any_value.bytes_value.hex()
    return getattr(any_value, kind)


def spans_of(request):
    for resource_spans in request.resource_spans:
        resource = {kv.key: value_of(kv.value) for kv in resource_spans.resource.attributes}
        service = resource.get("service.name", "")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield {
                    "traceId": span.trace_id.hex(),
                    "spanId": span.span_id.hex(),
                    "parentSpanId": span.parent_span_id.hex(),
                    "name": span.name,
                    "kind": KINDS.get(span.kind, str(span.kind)),
                    "service": service,
                    "startTimeUnixNano": span.start_time_unix_nano,
                    "endTimeUnixNano": span.end_time_unix_nano,
                    "attributes": {kv.key: value_of(kv.value) for kv in span.attributes},
                    "status": STATUS.get(span.status.code, str(span.status.code)),
                    "links": [{"traceId": link.trace_id.hex(), "spanId": link.span_id.hex()} for link in span.links],
                }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", help="the spans file (appended to)")
    parser.add_argument("--ready-file", help="written once the receiver listens")
    parser.add_argument("--discard", action="store_true", help="answer without decoding or writing anything")
    options = parser.parse_args()
    if not options.discard and not options.out:
        parser.error("--out is required unless --discard")

    if not options.discard:
        from google.protobuf import json_format
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
    lock = threading.Lock()
    output = open(options.out, "a", encoding="utf-8") if options.out and not options.discard else None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, body=b"", content_type="application/x-protobuf"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            content_type = (self.headers.get("Content-Type") or "application/x-protobuf").split(";")[0].strip()
            is_json = content_type == "application/json"
            if options.discard or self.path not in ("/v1/traces",):
                if self.path in ("/v1/traces", "/v1/logs", "/v1/metrics"):
                    return self.answer(200, b"{}" if is_json else b"", content_type)
                return self.answer(404, b"", "text/plain")
            try:
                if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                if is_json:
                    json_format.Parse(body, request, ignore_unknown_fields=True)
                else:
                    request.ParseFromString(body)
            except Exception as error:  # a malformed export is the sender's fault: 400, per OTLP/HTTP
                return self.answer(400, str(error).encode(), "text/plain")
            lines = "".join(json.dumps(span, separators=(",", ":")) + "\n" for span in spans_of(request))
            with lock:
                output.write(lines)
                output.flush()
            response = ExportTraceServiceResponse()
            self.answer(200, json_format.MessageToJson(response).encode() if is_json else response.SerializeToString(), content_type)

    server = ThreadingHTTPServer((options.host, options.port), Handler)
    server.daemon_threads = True
    # A parent may have started us with signals blocked (the mask is inherited): unblock them.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    if options.ready_file:
        with open(options.ready_file, "w") as ready:
            ready.write(f"{options.host}:{options.port}\n")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if output:
            output.close()


if __name__ == "__main__":
    sys.exit(main())
