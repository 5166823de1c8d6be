"""A webhook receiver for tests and local development: verifies each delivery with PyPI's
`standardwebhooks` (the Standard Webhooks reference library) and records it.

Each path is a receiver of its own (`/hooks/<name>`). What a receiver does is set with
`PUT /_control/<name>` and a JSON object:
  secrets     the `whsec_…` secrets to verify with (each is tried on its own; all are recorded)
  failFirst   answer 500 to the first N deliveries of each `webhook-id`
  status      answer this status to every delivery (e.g. 503)
`GET /_control/<name>` answers what it received, in order: for each delivery its `webhook-id`,
`webhook-timestamp`, the CloudEvent's `type`, `subject` and `data`, which secrets verified it
(`verified`, one boolean per secret), and the status answered. `GET /_control` answers 200 once
the receiver is up.
"""
import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

lock = threading.Lock()
receivers = {}


def receiver(name):
    return receivers.setdefault(name, {"secrets": [], "failFirst": 0, "status": None, "received": [], "seen": {}})


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, document=None):
        body = json.dumps(document).encode() if document is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        if self.path == "/_control":
            return self.answer(200, {"receivers": sorted(receivers)})
        if self.path.startswith("/_control/"):
            with lock:
                return self.answer(200, {"received": receiver(self.path[len("/_control/"):])["received"]})
        self.answer(404)

    def do_PUT(self):
        if not self.path.startswith("/_control/"):
            return self.answer(404)
        settings = json.loads(self.body() or b"{}")
        with lock:
            r = receiver(self.path[len("/_control/"):])
            for key in ("secrets", "failFirst", "status"):
                if key in settings:
                    r[key] = settings[key]
        self.answer(204)

    def do_POST(self):
        if not self.path.startswith("/hooks/"):
            return self.answer(404)
        data = self.body()
        headers = {k: v for k, v in self.headers.items()}
        with lock:
            r = receiver(self.path[len("/hooks/"):])
            verified = []
            for secret in r["secrets"]:
                try:
                    Webhook(secret).verify(data, headers)
                    verified.append(True)
                except WebhookVerificationError:
                    verified.append(False)
            event_id = self.headers.get("webhook-id", "")
            r["seen"][event_id] = r["seen"].get(event_id, 0) + 1
            if r["status"]:
                status = r["status"]
            elif r["seen"][event_id] <= r["failFirst"]:
                status = 500
            else:
                status = 204
            try:
                event = json.loads(data)
            except ValueError:
                event = {}
            r["received"].append({
                "id": event_id, "timestamp": self.headers.get("webhook-timestamp"), "type": event.get("type"),
                "subject": event.get("subject"), "data": event.get("data"), "verified": verified, "answered": status,
            })
        self.answer(status, {"ok": status < 300})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
