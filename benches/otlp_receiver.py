#!/usr/bin/env python3
"""A minimal OTLP/HTTP trace receiver for trying clawshim's trace export by hand and for the
trace-export benchmark: answers `POST /v1/traces` with 200, decodes each body with the official
protobuf definitions (PyPI `opentelemetry-proto`) and, when stopped (Ctrl-C or SIGTERM), prints
every span as an indented tree per trace (name, kind, duration, attributes, events). With
`--quiet` it keeps nothing and prints only the count.

    python3 -m venv /tmp/otlp && /tmp/otlp/bin/pip install opentelemetry-proto
    /tmp/otlp/bin/python benches/otlp_receiver.py --port 4318
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 clawshim ...
"""

import argparse
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

KINDS = {v: k.removeprefix("SPAN_KIND_").lower() for k, v in Span.SpanKind.items()}
SPANS = 0
TRACES = {}


def value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def attrs(kvs):
    return ", ".join(f"{kv.key}={value(kv.value)!r}" for kv in kvs)


def print_trace(service, spans):
    by_parent = {}
    ids = {s.span_id for s in spans}
    for s in spans:
        parent = s.parent_span_id if s.parent_span_id in ids else b""
        by_parent.setdefault(parent, []).append(s)

    def walk(parent, depth):
        for s in sorted(by_parent.get(parent, []), key=lambda s: s.start_time_unix_nano):
            ms = (s.end_time_unix_nano - s.start_time_unix_nano) / 1e6
            pad = "  " * depth
            remote = ""
            if depth == 1 and s.parent_span_id:
                remote = f" parent={s.parent_span_id.hex()} (remote)"
            print(f"{pad}{s.name} [{KINDS.get(s.kind, s.kind)}] {ms:.2f} ms "
                  f"span={s.span_id.hex()}{remote} status={s.status.code}")
            if s.attributes:
                print(f"{pad}  attributes: {attrs(s.attributes)}")
            for e in s.events:
                at = (e.time_unix_nano - s.start_time_unix_nano) / 1e6
                extra = f" {attrs(e.attributes)}" if e.attributes else ""
                print(f"{pad}  event {e.name} at +{at:.2f} ms{extra}")
            walk(s.span_id, depth + 1)

    print(f"trace {spans[0].trace_id.hex()} (service.name={service})")
    walk(b"", 1)
    sys.stdout.flush()


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    quiet = False

    def do_POST(self):
        global SPANS
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path != "/v1/traces":
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        request = ExportTraceServiceRequest.FromString(body)
        for rs in request.resource_spans:
            service = next(
                (value(a.value) for a in rs.resource.attributes if a.key == "service.name"), "?"
            )
            for ss in rs.scope_spans:
                for s in ss.spans:
                    SPANS += 1
                    if not self.quiet:
                        TRACES.setdefault((service, s.trace_id), []).append(s)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=4318)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    Receiver.quiet = args.quiet
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Receiver)

    def stop(*_):
        for (service, _), spans in TRACES.items():
            print_trace(service, spans)
        print(f"spans received: {SPANS}", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
